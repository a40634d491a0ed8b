/**
 * The one way `cer` and the nodes read input files and write result files.
 *
 * Reading (`readInputFile`): regular files only — a folder, device, FIFO or socket is refused from
 * its `stat` before it is opened, and the opened file is checked again with `fstat` (opened with
 * O_NONBLOCK, so a FIFO swapped in between cannot block us) — and at most a stated number of
 * bytes: the size on disk is checked first and the read itself stops one byte past the limit, so
 * a file that grows, or a pseudo-file of size 0 (under /proc), cannot make us read without end.
 *
 * Writing (`checkOutputTarget`, `writeFileAtomic`, `writeFileAtomicAsync`): the target is a regular
 * file or does not exist — a symlink, folder, device, FIFO or socket is refused before any work
 * starts. The content goes to a temporary file beside the target with a short name of our own,
 * `.cer-<pid>-<n>.tmp` (within NAME_MAX whatever the target's name), which is renamed over the
 * target when it is complete. SIGINT and SIGTERM remove the temporary files being written before
 * the process ends with the signal; SIGKILL cannot be caught, so every write first removes stale
 * temporary files of ours in the target's folder (the pattern above, owned by a process that is no
 * longer alive).
 *
 * Messages quote paths and values only through `showPath` and `excerpt`: printable characters,
 * control characters and line breaks escaped, long values shortened. The content of an input file
 * is never quoted beyond a short printable excerpt of a field value; a JSON syntax error names the
 * line and column, not the text around it (the file may not be ours: `--fusion /etc/shadow`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError } from './errors';

export const MB = 1024 * 1024;

/** Default limits, in bytes. */
export const INPUT_LIMITS = {
  /** Data inputs: a fuse input, predictions, truth labels (a 10⁶-frame fuse input is ~200–450 MB). */
  data: 512 * MB,
  /** Small configuration files: a fusion object, a model manifest. */
  config: 4 * MB,
} as const;

/** The environment variable that raises (or lowers) the data-input limit, in MB. */
export const INPUT_LIMIT_ENV = 'CER_MAX_INPUT_MB';

/** The limit for data inputs: CER_MAX_INPUT_MB when set to a positive number, else 512 MB. */
export function dataInputLimit(): number {
  const raw = process.env[INPUT_LIMIT_ENV];
  if (raw === undefined || raw.trim() === '') return INPUT_LIMITS.data;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb <= 0) throw new InputError(`${INPUT_LIMIT_ENV}: expected a size in MB greater than 0, got ${excerpt(raw)}`);
  return Math.floor(mb * MB);
}

// ---------------------------------------------------------------------------------------------
// Quoting

function escapeChar(ch: string): string {
  switch (ch) {
    case '\n':
      return '\\n';
    case '\r':
      return '\\r';
    case '\t':
      return '\\t';
    case '\\':
      return '\\\\';
    default: {
      const code = ch.codePointAt(0) ?? 0;
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
    }
  }
}

// C0 and C1 controls, DEL, line and paragraph separators, bidi controls, BOM, lone surrogates.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\\]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Printable: control characters, line breaks and backslashes escaped (`\n`, `\x00`). */
export function printable(value: string): string {
  return value.replace(UNPRINTABLE, escapeChar);
}

/**
 * A short printable excerpt of any value for a message: at most `max` characters (80 by default)
 * of its escaped text, cut with `…` (and the full length) when longer. Strings are quoted.
 */
export function excerpt(value: unknown, max = 80): string {
  const quoted = typeof value === 'string';
  const text = quoted ? value : String(value);
  const shown = printable(text.length > max * 4 ? text.slice(0, max * 4) : text);
  if (shown.length <= max) return quoted ? `"${shown}"` : shown;
  const cut = `${shown.slice(0, max - 1)}…`;
  return quoted ? `"${cut}" (${text.length} characters)` : cut;
}

/** A path for a message: escaped, and shortened in the middle beyond 200 characters. */
export function showPath(file: string, max = 200): string {
  const shown = printable(file);
  if (shown.length <= max) return shown;
  const tail = Math.floor(max * 0.6);
  return `${shown.slice(0, max - tail - 1)}…${shown.slice(shown.length - tail)}`;
}

function megabytes(bytes: number): string {
  const mb = bytes / MB;
  return mb >= 10 ? `${Math.round(mb)} MB` : `${Number(mb.toFixed(1))} MB`;
}

// ---------------------------------------------------------------------------------------------
// Errors

export type FileErrorCode = 'NOT_FOUND' | 'NOT_REGULAR' | 'TOO_LARGE' | 'UNREADABLE' | 'NOT_TEXT' | 'NOT_JSON' | 'BAD_TARGET' | 'WRITE_FAILED';

/** An input or output file that cannot be used; the message names the file and what to do. */
export class FileInputError extends InputError {
  constructor(
    readonly code: FileErrorCode,
    readonly file: string,
    readonly detail: string,
  ) {
    super(`${showPath(file)}: ${detail}`);
  }
}

/** What a non-regular file is, in words: "a folder", "a FIFO (named pipe)", … */
export function fileKind(stat: fs.Stats): string {
  if (stat.isFile()) return 'a regular file';
  if (stat.isDirectory()) return 'a folder';
  if (stat.isSymbolicLink()) return 'a symbolic link';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isFIFO()) return 'a FIFO (named pipe)';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

function errnoDetail(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e.code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is not a folder';
    case 'ENAMETOOLONG':
      return 'the name is too long for the file system';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    default:
      return e.code ?? printable(String(e.message ?? err)).slice(0, 80);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading

export interface ReadInputOptions {
  /** The most bytes accepted. */
  readonly maxBytes: number;
  /** What the file is, for the size message: "fuse input", "fusion file", "model manifest". */
  readonly what: string;
  /** How to raise the limit, for the size message; default: the CER_MAX_INPUT_MB variable. */
  readonly raise?: string;
}

function tooLarge(file: string, size: string, options: ReadInputOptions): FileInputError {
  const raise = options.raise ?? `set ${INPUT_LIMIT_ENV} to allow more`;
  return new FileInputError('TOO_LARGE', file, `is ${size}, over the ${megabytes(options.maxBytes)} limit for a ${options.what} (${raise})`);
}

/**
 * The bytes of a regular file of at most `maxBytes`. A folder, device, FIFO or socket is refused
 * without being read (a FIFO or device without blocking), and so is a pseudo-file that claims size
 * 0 but has content (/proc/self/environ).
 */
export function readInputFile(file: string, options: ReadInputOptions): Buffer {
  if (file === '') throw new InputError(`no file name given (an empty ${options.what} path)`);
  let before: fs.Stats;
  try {
    before = fs.statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileInputError(code === 'ENOENT' ? 'NOT_FOUND' : 'UNREADABLE', file, code === 'ENOENT' ? 'no such file' : `cannot read (${errnoDetail(err)})`);
  }
  if (before.isDirectory()) throw new FileInputError('NOT_REGULAR', file, 'is a folder, expected a file');
  if (!before.isFile()) throw new FileInputError('NOT_REGULAR', file, `is ${fileKind(before)}, expected a regular file (copy it to a file first)`);
  if (before.size > options.maxBytes) throw tooLarge(file, megabytes(before.size), options);
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw new FileInputError('UNREADABLE', file, `cannot read (${errnoDetail(err)})`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.ino !== before.ino || stat.dev !== before.dev) {
      throw new FileInputError('NOT_REGULAR', file, `changed while being opened (now ${fileKind(stat)}); expected a regular file`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    // The size on disk in one buffer (no copy when the file is what it says); more in 1 MB steps.
    let chunkSize = stat.size > 0 ? Math.min(stat.size + 1, options.maxBytes + 1) : 64 * 1024;
    for (;;) {
      const chunk = Buffer.allocUnsafe(chunkSize);
      chunkSize = MB;
      let n: number;
      try {
        n = fs.readSync(fd, chunk, 0, chunk.length, null);
      } catch (err) {
        throw new FileInputError('UNREADABLE', file, `cannot read (${errnoDetail(err)})`);
      }
      if (n === 0) break;
      total += n;
      if (total > options.maxBytes) throw tooLarge(file, `over ${megabytes(options.maxBytes)}`, options);
      chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    }
    if (stat.size === 0 && total > 0) {
      throw new FileInputError('NOT_REGULAR', file, 'is a pseudo-file (size 0 on disk, yet it has content: under /proc or /sys), expected a regular file (copy it to a file first)');
    }
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
  } finally {
    fs.closeSync(fd);
  }
}

/** A text file's content (UTF-8, a leading BOM dropped); a file holding NUL bytes is not text. */
export function readInputText(file: string, options: ReadInputOptions): string {
  const bytes = readInputFile(file, options);
  if (bytes.includes(0)) throw new FileInputError('NOT_TEXT', file, `is not a text file (it holds NUL bytes), expected a ${options.what}`);
  const text = bytes.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * Parses JSON text read from `file`. A syntax error names where (line and column, where the
 * parser says) and what was expected, never the text around it.
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new FileInputError('NOT_JSON', file, `not valid JSON (${jsonSyntaxDetail(err, text)})`);
  }
}

function lineColumn(text: string, position: number): string {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < position; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return `line ${line}, column ${position - start + 1}`;
}

export function jsonSyntaxDetail(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/^Unexpected end of JSON input/.test(message)) return `it ends too early, at ${lineColumn(text, text.length)}`;
  const token = /^Unexpected token '([\s\S]*?)', [\s\S]* is not valid JSON$/.exec(message) ?? /^Unexpected token ([\s\S]) in JSON/.exec(message);
  if (token) {
    const ch = token[1];
    // The character itself is file content: it is not quoted.
    const first = text.trimStart()[0] ?? '';
    return /^[{["\-0-9tfn]$/.test(first) || first !== ch ? 'an unexpected character' : 'it does not begin like JSON: is this the right file?';
  }
  const at = /^([\s\S]*?) in JSON at position (\d+)/.exec(message);
  if (at) {
    // V8's own words (e.g. "Expected ',' or ']' after array element") hold no file content.
    const what = at[1].replace(/"[\s\S]*"/g, '').slice(0, 80);
    return `${printable(what)} at ${lineColumn(text, Number(at[2]))}`;
  }
  return 'a syntax error';
}

// ---------------------------------------------------------------------------------------------
// Writing

const NAME_MAX = 255;
const TEMP_PATTERN = /^\.cer-(\d+)-(\d+)\.tmp$/;
let tempCounter = 0;
const liveTemps = new Set<string>();
let handlersInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  for (const tmp of liveTemps) fs.rmSync(tmp, { force: true });
  liveTemps.clear();
  uninstallHandlers();
  // Others listening (Node-RED, an analysis stopping ffmpeg) decide how the process ends.
  if (process.listenerCount(signal) > 0) return;
  process.kill(process.pid, signal);
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}

/** A new temporary path beside `target`, registered for removal on SIGINT/SIGTERM. */
export function temporaryPath(target: string): string {
  const tmp = path.join(path.dirname(path.resolve(target)), `.cer-${process.pid}-${tempCounter++}.tmp`);
  liveTemps.add(tmp);
  installHandlers();
  return tmp;
}

/** Removes a temporary file (when it is still there) and forgets it. */
export function releaseTemporary(tmp: string, remove = true): void {
  if (remove) fs.rmSync(tmp, { force: true });
  liveTemps.delete(tmp);
  if (liveTemps.size === 0) uninstallHandlers();
}

function isAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files of ours (`.cer-<pid>-<n>.tmp`, regular files) left in `dir` by a process
 * that is no longer alive (killed by SIGKILL, or the machine stopped); returns their paths.
 */
export function sweepStaleTemporaries(dir: string): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_PATTERN.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const file = path.join(dir, name);
    try {
      if (!fs.lstatSync(file).isFile()) continue;
      fs.rmSync(file, { force: true });
      removed.push(file);
    } catch {
      // Gone already, or not ours to remove.
    }
  }
  return removed;
}

/** Folders swept in this process: a batch writing many results sweeps each folder once. */
const sweptFolders = new Set<string>();

/** sweepStaleTemporaries, once per folder and process (every write calls it). */
export function sweepStaleTemporariesOnce(dir: string): void {
  const key = path.resolve(dir);
  if (sweptFolders.has(key)) return;
  sweptFolders.add(key);
  sweepStaleTemporaries(key);
}

/**
 * Checks that `file` may be written: it does not exist, or it is a regular file (not a symlink,
 * folder, device, FIFO or socket); its folder exists; its name fits the file system. Call it
 * before any work starts; `option` names where the path came from (`--out`).
 */
export function checkOutputTarget(file: string, option?: string): void {
  if (file === '') throw new InputError(`${option ?? 'output'}: no file name given`);
  const name = path.basename(file);
  const bytes = Buffer.byteLength(name);
  if (bytes > NAME_MAX) {
    const advice = option !== undefined ? `choose a shorter ${option}` : 'rename the input to a shorter name';
    throw new FileInputError('BAD_TARGET', file, `cannot write: the name is ${bytes} bytes, over the file system's ${NAME_MAX}; ${advice}`);
  }
  let stat: fs.Stats | undefined;
  try {
    stat = fs.lstatSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') throw new FileInputError('BAD_TARGET', file, `cannot write (${errnoDetail(err)})`);
  }
  if (stat !== undefined) {
    if (stat.isDirectory()) {
      throw new FileInputError('BAD_TARGET', file, option !== undefined
        ? `is a folder; ${option} takes a file name (e.g. ${showPath(path.join(file, 'result.json'))})`
        : 'is a folder where a result file goes; move it away or choose another output folder');
    }
    if (!stat.isFile()) {
      throw new FileInputError('BAD_TARGET', file, option !== undefined
        ? `is ${fileKind(stat)}, not a regular file: ${option} replaces only regular files (name a new file, or drop ${option} to print to stdout)`
        : `is ${fileKind(stat)}, not a regular file: results replace only regular files; remove it or choose another output folder`);
    }
    return;
  }
  const dir = path.dirname(path.resolve(file));
  let dirStat: fs.Stats;
  try {
    dirStat = fs.statSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new FileInputError('BAD_TARGET', file, `cannot write (${code === 'ENOENT' ? `no such folder ${showPath(dir)}` : errnoDetail(err)})`);
  }
  if (!dirStat.isDirectory()) throw new FileInputError('BAD_TARGET', file, `cannot write (${showPath(dir)} is not a folder)`);
}

function writeFailed(file: string, err: unknown): FileInputError {
  if (err instanceof FileInputError) return err;
  return new FileInputError('WRITE_FAILED', file, `cannot write (${errnoDetail(err)})`);
}

/**
 * Writes a file so that it is either complete or absent: the content goes to `.cer-<pid>-<n>.tmp`
 * beside it, which is renamed over the target. The target is checked first (`checkOutputTarget`).
 */
export function writeFileAtomic(file: string, content: string | Uint8Array, option?: string): void {
  checkOutputTarget(file, option);
  sweepStaleTemporariesOnce(path.dirname(path.resolve(file)));
  const tmp = temporaryPath(file);
  try {
    fs.writeFileSync(tmp, content, { flag: 'wx', mode: 0o644 });
    checkOutputTarget(file, option);
    fs.renameSync(tmp, file);
    releaseTemporary(tmp, false);
  } catch (err) {
    releaseTemporary(tmp);
    throw writeFailed(file, err);
  }
}

/**
 * writeFileAtomic for large results: written in chunks, so that SIGINT or SIGTERM during the write
 * removes the temporary file before the process ends.
 */
export async function writeFileAtomicAsync(file: string, content: string | Uint8Array, option?: string): Promise<void> {
  checkOutputTarget(file, option);
  sweepStaleTemporariesOnce(path.dirname(path.resolve(file)));
  const tmp = temporaryPath(file);
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(tmp, 'wx', 0o644);
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const chunk = MB;
    for (let at = 0; at < bytes.length; at += chunk) {
      if (!liveTemps.has(tmp)) throw new Error('interrupted');
      await handle.write(bytes, at, Math.min(chunk, bytes.length - at));
    }
    await handle.close();
    handle = undefined;
    if (!liveTemps.has(tmp)) throw new Error('interrupted');
    checkOutputTarget(file, option);
    fs.renameSync(tmp, file);
    releaseTemporary(tmp, false);
  } catch (err) {
    if (handle !== undefined) await handle.close().catch(() => undefined);
    releaseTemporary(tmp);
    throw writeFailed(file, err);
  }
}
