import { checkOutputTarget, writeFileAtomicAsync } from '../io/files';

/** Whether `--out` names a file (else the result goes to stdout). */
function toFile(file: string | undefined): file is string {
  return file !== undefined && file !== '-';
}

/**
 * Checks a command's `--out` before any work starts: a new file or a regular file to replace,
 * never a symlink, folder, device, FIFO or socket.
 */
export function checkOutput(file: string | undefined): void {
  if (toFile(file)) checkOutputTarget(file, '--out');
}

/** Writes a command's result to a file (atomically; SIGINT/SIGTERM leave no temporary file) or to stdout. */
export async function writeOutput(text: string, file?: string): Promise<void> {
  if (toFile(file)) await writeFileAtomicAsync(file, text, '--out');
  else process.stdout.write(text);
}

/** Indented JSON with arrays of plain numbers kept on one line, for reports people read. */
export function prettyJson(value: unknown): string {
  return (
    JSON.stringify(value, null, 2).replace(/\[\s+(-?[\d.eE+-]+(?:,\s+-?[\d.eE+-]+)*)\s+\]/g, (_, items: string) => `[${items.split(/,\s+/).join(', ')}]`) +
    '\n'
  );
}
