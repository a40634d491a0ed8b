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

/**
 * The demuxers a local file may be opened with: containers and streams that read only the file
 * itself. Left out on purpose: hls, concat/ffconcat, sdp, rtp, tee, image2 sequences, data/url-opening
 * and every other format that opens further files or URLs named inside the file. A file that ffmpeg
 * detects as anything else is refused before its header is read (`-format_whitelist`).
 */
export const LOCAL_DEMUXERS: readonly string[] = [
  // video containers
  'mov', 'mp4', 'm4a', '3gp', '3g2', 'mj2', 'matroska', 'webm', 'avi', 'flv', 'mpegts', 'mpeg', 'asf', 'nut', 'ivf', 'yuv4mpegpipe',
  // raw video streams
  'h264', 'hevc', 'm4v', 'mpegvideo', 'mjpeg',
  // audio
  'wav', 'w64', 'mp3', 'ogg', 'flac', 'aac', 'aiff', 'caf', 'amr',
  // still images: one file each (image2 only with `-pattern_type none` where the name could be a pattern)
  'image2', 'gif', 'bmp_pipe', 'jpeg_pipe', 'jpegls_pipe', 'png_pipe', 'webp_pipe', 'tiff_pipe', 'gif_pipe',
  'pgm_pipe', 'ppm_pipe', 'pbm_pipe', 'pam_pipe', 'pgmyuv_pipe', 'qoi_pipe', 'psd_pipe', 'sgi_pipe', 'j2k_pipe', 'dpx_pipe',
];

/** Demuxers that open the files a local file lists, allowed only with CER_ALLOW_PLAYLISTS=1. */
export const PLAYLIST_DEMUXERS: readonly string[] = ['hls', 'concat'];

/** The environment variable that lets local HLS playlists and concat lists through (value 1). */
export const ALLOW_PLAYLISTS_ENV = 'CER_ALLOW_PLAYLISTS';

/** True when local playlists are allowed (CER_ALLOW_PLAYLISTS=1, read at each call). */
export function playlistsAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env[ALLOW_PLAYLISTS_ENV];
  return value === '1' || value === 'true' || value === 'yes';
}

/** The `-format_whitelist` value for local files. */
export function localFormatWhitelist(env: NodeJS.ProcessEnv = process.env): string {
  return [...LOCAL_DEMUXERS, ...(playlistsAllowed(env) ? PLAYLIST_DEMUXERS : [])].join(',');
}

/** What a refused demuxer means, for the one-line error (`is …`). */
export function refusedFormatDetail(demuxer: string): string {
  const optIn = `local playlists are refused because they make ffmpeg open other files (set ${ALLOW_PLAYLISTS_ENV}=1 to allow HLS playlists and concat lists that name local files)`;
  switch (demuxer) {
    case 'hls':
    case 'applehttp':
      return `is an HLS playlist (#EXTM3U), not a media file: ${optIn}`;
    case 'concat':
    case 'ffconcat':
      return `is an ffmpeg concat list, not a media file: ${optIn}`;
    case 'sdp':
    case 'rtp':
    case 'rtsp':
      return 'is an SDP/RTP session description, which opens network streams, not a media file: refused (play the stream itself with live input enabled)';
    default:
      return `was detected as '${demuxer}', which is not one of the formats allowed for local files (containers such as MP4, MOV, MKV, WebM, AVI, MPEG-TS, WAV, MP3, and still images); convert it to one of them`;
  }
}

/**
 * The demuxer ffmpeg detected but `-format_whitelist` refused, from its log line
 * `[hls @ 0x55…] Format not on whitelist 'mov,…'`; null when there is none.
 */
export function refusedDemuxer(stderr: readonly string[]): string | null {
  for (const line of stderr) {
    const m = /\[([A-Za-z0-9_,]+) @ [^\]]*\]\s*Format not on whitelist/.exec(line);
    if (m?.[1] !== undefined) return m[1].split(',')[0] ?? m[1];
  }
  return null;
}

/**
 * What a playlist or concat list let through by CER_ALLOW_PLAYLISTS refers to that is still
 * refused, from ffmpeg's log: another protocol (`Protocol 'http' not on whitelist`) or, in a concat
 * list, a name its safe mode rejects (`Unsafe file name '/x'`); null when neither.
 */
export function refusedReference(stderr: readonly string[]): string | null {
  for (const line of stderr) {
    const protocol = /Protocol '([A-Za-z0-9+.-]+)' not on whitelist/.exec(line);
    if (protocol?.[1] !== undefined) {
      return `refers to a network address (${protocol[1]}://), and local files may only refer to local files (play network streams by their URL, with live input enabled)`;
    }
    if (/\[concat @ [^\]]*\]\s*Unsafe file name/.test(line)) {
      return "is a concat list naming a file by an absolute path or with '..', which the concat demuxer refuses: name the files relative to the list";
    }
  }
  return null;
}

/** Image names ffmpeg's image2 demuxer is chosen for (by extension, from libavformat/img2.c). */
const IMAGE2_EXTENSIONS =
  /\.(jpe?g|png|bmp|webp|tiff?|ppm|pgm|pnm|pbm|pam|pgmyuv|dpx|jls|ljpg|pcx|pfm|phm|sgi|tga|jp2|j2c|j2k|xwd|sun|ras|rs|im1|im8|im24|sunras|vbn|xbm|xpm|xface|pix|y|avif|jxl|qoi|hdr|exr)$/i;
/** Characters that make image2 read a name as a sequence (%d) or a glob (*?[]{}). */
const PATTERN_CHARS = /[%*?[\]{}]/;

/**
 * ffmpeg/ffprobe arguments that open the source. Files go through the `file:` protocol (so a name
 * with a colon is not taken for a protocol), `-protocol_whitelist file,pipe` (no network or other
 * protocols from inside a file) and `-format_whitelist` LOCAL_DEMUXERS (no playlist, concat list,
 * SDP or other demuxer that opens files or URLs the file names; see localFormatWhitelist). A still
 * image whose name could be an image2 pattern is opened as that one file (`-pattern_type none`).
 * Streams and devices (live input) keep their own protocols.
 */
export function inputArgs(source: MediaSource, extraInputOptions: readonly string[] = []): string[] {
  switch (source.type) {
    case 'file': {
      const literal = PATTERN_CHARS.test(path.basename(source.path)) && IMAGE2_EXTENSIONS.test(source.path) ? ['-f', 'image2', '-pattern_type', 'none'] : [];
      return ['-protocol_whitelist', 'file,pipe', '-format_whitelist', localFormatWhitelist(), ...literal, ...extraInputOptions, '-i', `file:${source.path}`];
    }
    case 'device':
      return ['-f', 'v4l2', ...extraInputOptions, '-i', source.path];
    case 'stream':
      return [...extraInputOptions, '-i', source.url];
  }
}
