import { writeFileAtomic } from '../io/files';

/** Writes a command's result to a file (atomically) or to stdout. */
export function writeOutput(text: string, file?: string): void {
  if (file === undefined || file === '-') process.stdout.write(text);
  else writeFileAtomic(file, text);
}
