/**
 * An error in what the user gave us (a file, a field, a frame). Its message is complete on its own
 * and is shown as one line, without a stack trace.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** One line from any error, for a CLI message or a Node-RED status. */
export function oneLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
