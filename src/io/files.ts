import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, oneLine } from './errors';

export function readTextFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new InputError(`${file}: no such file`);
    if (code === 'EISDIR') throw new InputError(`${file}: is a folder, expected a file`);
    throw new InputError(`${file}: cannot read (${oneLine(err)})`);
  }
}

export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new InputError(`${file}: not valid JSON (${oneLine(err)})`);
  }
}

export function readJsonFile(file: string): unknown {
  return parseJson(readTextFile(file), file);
}

/**
 * Writes a file so that it is either complete or absent: the content goes to a temporary file in
 * the same folder, which is then renamed over the target.
 */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    fs.writeFileSync(tmp, content);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new InputError(`${file}: cannot write (${oneLine(err)})`);
  }
}
