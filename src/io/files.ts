import { dataInputLimit, INPUT_LIMITS, parseJsonText, readInputText, writeFileAtomic as safeWriteFileAtomic } from './safe-files';

export { checkOutputTarget, excerpt, printable, readInputFile, readInputText, showPath, writeFileAtomicAsync } from './safe-files';

/**
 * A data input's text (fuse input, predictions, truth labels): a regular file of at most
 * CER_MAX_INPUT_MB (512 MB by default). See safe-files.ts.
 */
export function readTextFile(file: string, what = 'data input'): string {
  return readInputText(file, { maxBytes: dataInputLimit(), what });
}

/** A small configuration file's text (a fusion object): a regular file of at most 4 MB. */
export function readConfigFile(file: string, what: string): string {
  return readInputText(file, { maxBytes: INPUT_LIMITS.config, what, raise: 'a configuration file is a few KB; is this the right file?' });
}

export function parseJson(text: string, file: string): unknown {
  return parseJsonText(text, file);
}

export function readJsonFile(file: string, what = 'JSON input'): unknown {
  return parseJson(readTextFile(file, what), file);
}

/**
 * Writes a file so that it is either complete or absent: the content goes to a temporary file in
 * the same folder, which is then renamed over the target. Only a regular file or a new name is a
 * target (see safe-files.ts).
 */
export function writeFileAtomic(file: string, content: string | Uint8Array): void {
  safeWriteFileAtomic(file, content);
}
