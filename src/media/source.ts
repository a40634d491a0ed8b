/**
 * What an input string names (a file, a network stream, a capture device), the checks made before
 * any ffmpeg runs, and the ffmpeg input arguments for it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MediaError } from './errors';

/** URL schemes taken as live network streams (only with allowLive). */
export const LIVE_SCHEMES: readonly string[] = ['rtsp', 'rtsps', 'rtmp', 'rtmps', 'http', 'https', 'srt', 'udp'];

export type MediaSource =
  | { readonly type: 'file'; readonly input: string; readonly path: string }
  | { readonly type: 'stream'; readonly input: string; readonly url: string; readonly scheme: string }
  | { readonly type: 'device'; readonly input: string; readonly path: string };

export interface SourceOptions {
  /** Accept network streams and capture devices (default false: files only). */
  readonly allowLive?: boolean;
}

/** Classifies an input without touching the file system. */
export function classifyInput(input: string): MediaSource {
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]+):\/\//.exec(input)?.[1]?.toLowerCase();
  if (scheme === 'file') return { type: 'file', input, path: fileURLToPath(input) };
  if (scheme !== undefined) {
    if (LIVE_SCHEMES.includes(scheme)) return { type: 'stream', input, url: input, scheme };
    throw new MediaError('UNSUPPORTED_INPUT', input, `unsupported URL scheme '${scheme}://' (use a file, or with live input enabled ${LIVE_SCHEMES.map((s) => `${s}://`).join(', ')} or /dev/video*)`);
  }
  if (process.platform === 'linux' && /^\/dev\/video\d+$/.test(input)) return { type: 'device', input, path: input };
  return { type: 'file', input, path: path.resolve(input) };
}

/** Files a folder input stands for: video, audio and image files, by extension. */
export const MEDIA_FILE_PATTERN = /\.(mp4|m4v|mov|mkv|webm|avi|mpg|mpeg|ts|flv|wmv|3gp|png|jpe?g|bmp|webp|tiff?|wav|mp3|m4a|aac|flac|ogg|opus)$/i;

/**
 * The inputs an input names: a folder's media files (MEDIA_FILE_PATTERN, not hidden, not in
 * subfolders) in name order, or the input itself (a file, a stream, a device, or something that is
 * not there, for openSource to report). `input` is read at `resolvedPath` when given.
 */
export async function expandFolder(input: string, resolvedPath?: string): Promise<string[]> {
  const source = classifyInput(input);
  if (source.type !== 'file') return [input];
  const dir = resolvedPath ?? source.path;
  const stat = await fs.promises.stat(dir).catch(() => null);
  if (stat === null || !stat.isDirectory()) return [input];
  const candidates = (await fs.promises.readdir(dir)).filter((n) => !n.startsWith('.') && MEDIA_FILE_PATTERN.test(n)).sort();
  // Links are followed: a link to a file counts, a folder (or a link to one) is not entered.
  const isFolder = await Promise.all(candidates.map((n) => fs.promises.stat(path.join(dir, n)).then((s) => s.isDirectory(), () => false)));
  const names = candidates.filter((_, i) => !isFolder[i]);
  if (names.length === 0) throw new MediaError('NOT_A_FILE', input, 'is a folder with no media files in it');
  return names.map((n) => path.join(dir, n));
}

/**
 * Classifies an input and checks it can be opened: a file must exist, be a regular file, be readable
 * and not be empty; streams and devices need allowLive. Throws a one-line MediaError naming the input.
 */
export async function openSource(input: string, options: SourceOptions = {}): Promise<MediaSource> {
  if (input.trim() === '') throw new MediaError('NO_SUCH_FILE', null, 'no input given (empty file name)');
  const source = classifyInput(input);
  if (source.type !== 'file') {
    if (!options.allowLive) {
      const what = source.type === 'device' ? 'a capture device' : `a live ${source.scheme}:// stream`;
      throw new MediaError('LIVE_NOT_ALLOWED', input, `is ${what}; live input is off (--allow-live on the command line; "Allow network streams and capture devices" in the media node)`);
    }
    if (source.type === 'device') await checkDevice(source.path, input);
    return source;
  }
  let stat: fs.Stats;
  try {
    stat = await fs.promises.stat(source.path);
  } catch (err) {
    throw fileError(err, input);
  }
  if (stat.isDirectory()) throw new MediaError('NOT_A_FILE', input, 'is a directory, not a media file');
  if (!stat.isFile()) throw new MediaError('NOT_A_FILE', input, 'is not a regular file');
  if (stat.size === 0) throw new MediaError('EMPTY_FILE', input, 'is empty (0 bytes)');
  try {
    await fs.promises.access(source.path, fs.constants.R_OK);
  } catch (err) {
    throw fileError(err, input);
  }
  return source;
}

async function checkDevice(devicePath: string, input: string): Promise<void> {
  try {
    await fs.promises.access(devicePath, fs.constants.R_OK);
  } catch (err) {
    throw fileError(err, input);
  }
}

function fileError(err: unknown, input: string): MediaError {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  if (code === 'ENOENT') return new MediaError('NO_SUCH_FILE', input, 'no such file', { cause: err });
  if (code === 'ENOTDIR') return new MediaError('NO_SUCH_FILE', input, 'no such file (a parent is not a directory)', { cause: err });
  if (code === 'EACCES' || code === 'EPERM') return new MediaError('UNREADABLE', input, 'cannot be read (permission denied)', { cause: err });
  const message = err instanceof Error ? err.message : String(err);
  return new MediaError('UNREADABLE', input, `cannot be read (${message})`, { cause: err });
}

const STILL_EXTENSIONS = /\.(jpe?g|png|bmp|webp|tiff?|ppm|pgm|pnm)$/i;

/**
 * ffmpeg/ffprobe arguments that open the source. Files go through the `file:` protocol (so a name
 * with a colon is not taken for a protocol) and `-protocol_whitelist file,pipe`, so a file cannot
 * make ffmpeg open network or other protocols (playlists, concat lists, references in a container).
 */
export function inputArgs(source: MediaSource, extraInputOptions: readonly string[] = []): string[] {
  switch (source.type) {
    case 'file': {
      // The image2 demuxer takes a '%' in a still image's name for a sequence pattern (img%03d.png).
      const literal = source.path.includes('%') && STILL_EXTENSIONS.test(source.path) ? ['-f', 'image2', '-pattern_type', 'none'] : [];
      return ['-protocol_whitelist', 'file,pipe', ...literal, ...extraInputOptions, '-i', `file:${source.path}`];
    }
    case 'device':
      return ['-f', 'v4l2', ...extraInputOptions, '-i', source.path];
    case 'stream':
      return [...extraInputOptions, '-i', source.url];
  }
}
