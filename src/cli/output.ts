import { writeFileAtomic } from '../io/files';

/** Writes a command's result to a file (atomically) or to stdout. */
export function writeOutput(text: string, file?: string): void {
  if (file === undefined || file === '-') process.stdout.write(text);
  else writeFileAtomic(file, text);
}

/** Indented JSON with arrays of plain numbers kept on one line, for reports people read. */
export function prettyJson(value: unknown): string {
  return (
    JSON.stringify(value, null, 2).replace(/\[\s+(-?[\d.eE+-]+(?:,\s+-?[\d.eE+-]+)*)\s+\]/g, (_, items: string) => `[${items.split(/,\s+/).join(', ')}]`) +
    '\n'
  );
}
