/**
 * probeMedia: what an input holds (kind, size, rotation, exact frame rate, duration, audio), from
 * ffprobe's JSON output.
 */
import * as fs from 'node:fs';
import { resolveFfprobe, type ResolvedBinary } from './binaries';
import { MediaError } from './errors';
import { abortError, lastMeaningfulLine, runTool, type ToolResult } from './process';
import { inputArgs, openSource, refusedDemuxer, refusedFormatDetail, refusedReference, type MediaSource } from './source';
import { defaultStillDecoder, probeStill, sniffStillFormat, type StillDecoder } from './still';
import type { AudioStreamInfo, FrameRate, MediaInfo, MediaKind, VideoStreamInfo } from './types';

export interface ProbeOptions {
  /** Accept rtsp://, http(s):// … streams and /dev/video* devices (default false). */
  readonly allowLive?: boolean;
  readonly signal?: AbortSignal;
  /** Give up after this many milliseconds (default 30 s for files, 20 s for live input). */
  readonly timeoutMs?: number;
  /** The ffprobe to use; resolveFfprobe() by default. */
  readonly ffprobe?: ResolvedBinary;
  /**
   * Who reads a still JPEG/PNG/WebP file: 'sharp' (in-process, no ffprobe; decoding then uses sharp
   * too) or 'ffmpeg'; default defaultStillDecoder() (sharp unless CER_STILL_DECODER=ffmpeg).
   */
  readonly stillDecoder?: StillDecoder;
}

/**
 * Probes an input with ffprobe. Checks the file first (missing, empty, directory) and reports every
 * failure as a one-line MediaError naming the input.
 *
 * Frame rate: r_frame_rate (the stream's nominal rate) when it agrees with avg_frame_rate within
 * 1 %, else avg_frame_rate (r_frame_rate is then a time-base-like guess and the stream is likely
 * variable-rate); a rate within 0.02 % of a standard one (24000/1001, 25, 30000/1001, 60, …) is
 * snapped to it, so 29.97 fps always reads 30000/1001. Still images have no frame rate (null).
 *
 * Kind: 'image' for still-image demuxers (image2, png_pipe, jpeg_pipe, …); 'video' when there is a
 * video stream that is not cover art; 'audio' when there is only audio (cover art ignored).
 */
export async function probeMedia(input: string, options: ProbeOptions = {}): Promise<MediaInfo> {
  const source = await openSource(input, { allowLive: options.allowLive });
  if (source.type === 'file' && (options.stillDecoder ?? defaultStillDecoder()) === 'sharp') {
    const format = await sniffStillFormat(source.path).catch(() => null);
    if (format !== null) {
      if (options.signal?.aborted) throw abortError(input);
      // A file sharp cannot read goes on to ffprobe, which says what is wrong with it as usual.
      const still = await probeStill(input, source.path, format).catch(() => null);
      if (still !== null) return still;
    }
  }
  const ffprobe = options.ffprobe ?? resolveFfprobe();
  // @ffprobe-installer's static ffprobe starts in a few milliseconds where a dynamically linked one
  // takes ~60, but it dies (SIGSEGV) on some damaged files that the system's reads, e.g. an MPEG-TS
  // cut mid-stream: those are probed again with the system's.
  const fallback = options.ffprobe === undefined && ffprobe.source === '@ffprobe-installer' ? systemFfprobe : null;
  const json = await runFfprobe(ffprobe, source, options, fallback);
  return interpretProbe(input, json);
}

/** The ffprobe of FFPROBE_PATH or the PATH, or null when there is none. */
function systemFfprobe(): ResolvedBinary | null {
  try {
    return resolveFfprobe({ packages: false });
  } catch {
    return null;
  }
}

export interface FfprobeSideData {
  readonly side_data_type?: string;
  readonly rotation?: number;
}

export interface FfprobeStream {
  readonly index: number;
  readonly codec_type?: string;
  readonly codec_name?: string;
  readonly width?: number;
  readonly height?: number;
  readonly pix_fmt?: string;
  readonly r_frame_rate?: string;
  readonly avg_frame_rate?: string;
  readonly nb_frames?: string;
  readonly duration?: string;
  readonly start_time?: string;
  readonly sample_rate?: string;
  readonly channels?: number;
  readonly channel_layout?: string;
  readonly disposition?: { readonly attached_pic?: number };
  readonly tags?: Readonly<Record<string, string>>;
  readonly side_data_list?: readonly FfprobeSideData[];
}

export interface FfprobeFormat {
  readonly format_name?: string;
  readonly duration?: string;
  readonly start_time?: string;
}

export interface FfprobeOutput {
  readonly streams: readonly FfprobeStream[];
  readonly format: FfprobeFormat;
}

async function runFfprobe(
  ffprobe: ResolvedBinary,
  source: MediaSource,
  options: ProbeOptions,
  fallback: (() => ResolvedBinary | null) | null,
): Promise<FfprobeOutput> {
  const input = source.input;
  const args = ['-hide_banner', '-loglevel', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...inputArgs(source)];
  const run = (binary: ResolvedBinary): Promise<ToolResult> =>
    runTool(binary, args, {
      signal: options.signal,
      timeoutMs: options.timeoutMs ?? (source.type === 'file' ? 30_000 : 20_000),
      input,
    });
  let result = await run(ffprobe);
  // A signal here is ffprobe's own death (a timeout or an abort throws instead).
  const other = result.exit.signal !== null && fallback !== null ? fallback() : null;
  if (other !== null) result = await run(other);
  if (result.exit.code !== 0) {
    const refused = refusedDemuxer(result.stderr);
    if (refused !== null) throw new MediaError('UNSUPPORTED_INPUT', input, refusedFormatDetail(refused));
    const inside = refusedReference(result.stderr);
    if (inside !== null) throw new MediaError('UNSUPPORTED_INPUT', input, inside);
    const raw = lastMeaningfulLine(result.stderr);
    const line = raw === null ? null : stripInputPrefix(raw, source);
    // The mov demuxer (picked by the .mp4/.mov name) says "moov atom not found" both for a cut MP4
    // and for a file that is no MP4 at all: only the first is reported as such.
    const moov = result.stderr.some((l) => /moov atom not found/i.test(l)) && source.type === 'file' && (await looksLikeIsoMedia(source.path));
    throw probeFailure(input, moov ? 'moov atom not found' : line, result.exit.code, result.exit.signal);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout.toString('utf8'));
  } catch {
    throw new MediaError('PROBE_FAILED', input, 'ffprobe printed something that is not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null) throw new MediaError('PROBE_FAILED', input, 'ffprobe printed no format information');
  const record = parsed as { streams?: unknown; format?: unknown };
  const streams = Array.isArray(record.streams) ? (record.streams as FfprobeStream[]) : [];
  const format = typeof record.format === 'object' && record.format !== null ? (record.format as FfprobeFormat) : {};
  return { streams, format };
}

/** True when the file starts with an ISO base media (MP4/MOV) box. */
async function looksLikeIsoMedia(file: string): Promise<boolean> {
  try {
    const handle = await fs.promises.open(file, 'r');
    try {
      const head = Buffer.alloc(8);
      const { bytesRead } = await handle.read(head, 0, 8, 0);
      return bytesRead === 8 && ['ftyp', 'moov', 'mdat', 'free', 'skip', 'wide', 'pnot'].includes(head.toString('latin1', 4, 8));
    } finally {
      await handle.close();
    }
  } catch {
    return false;
  }
}

/** ffprobe prefixes its main error with the input argument: `file:/x/y.mp4: Invalid data …`. */
function stripInputPrefix(line: string, source: MediaSource): string {
  const names = source.type === 'file' ? [`file:${source.path}: `, `${source.path}: `] : [`${source.input}: `];
  for (const name of names) if (line.startsWith(name)) return line.slice(name.length);
  return line;
}

function probeFailure(input: string, line: string | null, code: number | null, signal: NodeJS.Signals | null): MediaError {
  const why = line ?? (signal !== null ? `ffprobe was killed by ${signal}` : `ffprobe exited with code ${code}`);
  if (why === 'moov atom not found') {
    return new MediaError('NOT_MEDIA', input, `not a complete MP4/MOV file: it has no index (moov atom), so it is truncated or was never finished (${why})`);
  }
  if (/Invalid data found when processing input|moov atom not found|could not find codec parameters|Failed to read frame size|not a valid|unknown format/i.test(why)) {
    return new MediaError('NOT_MEDIA', input, `not a media file ffprobe can read (${why})`);
  }
  if (/No such file or directory/i.test(why)) return new MediaError('NO_SUCH_FILE', input, 'no such file');
  if (/Permission denied/i.test(why)) return new MediaError('UNREADABLE', input, 'cannot be read (permission denied)');
  if (/Protocol not on whitelist|not on whitelist/i.test(why)) {
    return new MediaError('UNSUPPORTED_INPUT', input, `refers to another protocol, which is blocked for files (${why})`);
  }
  return new MediaError('PROBE_FAILED', input, `ffprobe failed: ${why}`);
}

/** Turns ffprobe's JSON into MediaInfo (exported for tests of odd inputs). */
export function interpretProbe(input: string, probe: FfprobeOutput): MediaInfo {
  const formatName = probe.format.format_name ?? 'unknown';
  const videoStream = probe.streams.find(
    (s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1 && (s.width ?? 0) > 0 && (s.height ?? 0) > 0,
  );
  const audioStream = probe.streams.find((s) => s.codec_type === 'audio' && positiveInt(s.sample_rate) !== null);
  if (!videoStream && !audioStream) {
    throw new MediaError('NOT_MEDIA', input, `not a media file: ffprobe found no video or audio stream (format ${formatName})`);
  }

  const still = videoStream !== undefined && isStillImageFormat(formatName);
  const kind: MediaKind = videoStream ? (still ? 'image' : 'video') : 'audio';
  const video = videoStream ? videoInfo(videoStream, still) : null;
  const audio = audioStream ? audioInfo(audioStream) : null;
  const duration = still ? null : positiveNumber(probe.format.duration) ?? video?.duration ?? audio?.duration ?? null;

  return {
    input,
    kind,
    formatName,
    duration,
    hasVideo: video !== null,
    hasAudio: audio !== null,
    width: video?.width ?? 0,
    height: video?.height ?? 0,
    rotation: video?.rotation ?? 0,
    frameRate: video?.frameRate ?? null,
    videoCodec: video?.codec ?? null,
    frameCount: video?.frameCount ?? null,
    video,
    audio,
  };
}

function isStillImageFormat(formatName: string): boolean {
  return formatName === 'image2' || formatName === 'image2pipe' || /_pipe$/.test(formatName);
}

function videoInfo(s: FfprobeStream, still: boolean): VideoStreamInfo {
  const codedWidth = s.width ?? 0;
  const codedHeight = s.height ?? 0;
  const rotation = streamRotation(s);
  const swap = rotation === 90 || rotation === 270;
  const avg = parseRate(s.avg_frame_rate);
  const real = parseRate(s.r_frame_rate);
  const variable = avg !== null && real !== null && Math.abs(rateValue(avg) - rateValue(real)) > 0.01 * rateValue(avg);
  return {
    index: s.index,
    codec: s.codec_name ?? 'unknown',
    pixelFormat: s.pix_fmt ?? null,
    width: swap ? codedHeight : codedWidth,
    height: swap ? codedWidth : codedHeight,
    codedWidth,
    codedHeight,
    rotation,
    frameRate: still ? null : chooseFrameRate(real, avg),
    avgFrameRate: avg,
    realFrameRate: real,
    variableFrameRate: variable,
    frameCount: still ? 1 : positiveInt(s.nb_frames),
    duration: still ? null : positiveNumber(s.duration),
    startTime: finiteNumber(s.start_time),
  };
}

function audioInfo(s: FfprobeStream): AudioStreamInfo {
  return {
    index: s.index,
    codec: s.codec_name ?? 'unknown',
    sampleRate: positiveInt(s.sample_rate) ?? 0,
    channels: s.channels ?? 0,
    channelLayout: s.channel_layout ?? null,
    duration: positiveNumber(s.duration),
  };
}

/**
 * Clockwise degrees ffmpeg's autorotation turns the picture by: from the display matrix side data
 * (ffprobe prints its angle counter-clockwise, hence the minus) or, from older ffprobe, tags.rotate
 * (clockwise).
 */
function streamRotation(s: FfprobeStream): 0 | 90 | 180 | 270 {
  let degrees: number | null = null;
  const matrix = s.side_data_list?.find((d) => d.side_data_type === 'Display Matrix' && typeof d.rotation === 'number');
  if (matrix?.rotation !== undefined) degrees = -matrix.rotation;
  else if (s.tags?.rotate !== undefined && Number.isFinite(Number(s.tags.rotate))) degrees = Number(s.tags.rotate);
  if (degrees === null) return 0;
  const quarter = ((Math.round(degrees / 90) % 4) + 4) % 4;
  return ([0, 90, 180, 270] as const)[quarter] ?? 0;
}

/** Standard rates a measured rate snaps to. */
const STANDARD_RATES: readonly FrameRate[] = [
  { num: 24000, den: 1001 }, { num: 24, den: 1 }, { num: 25, den: 1 }, { num: 30000, den: 1001 }, { num: 30, den: 1 },
  { num: 48, den: 1 }, { num: 50, den: 1 }, { num: 60000, den: 1001 }, { num: 60, den: 1 }, { num: 100, den: 1 },
  { num: 120000, den: 1001 }, { num: 120, den: 1 }, { num: 15, den: 1 }, { num: 12, den: 1 }, { num: 10, den: 1 },
  { num: 20, den: 1 }, { num: 5, den: 1 },
];

/** Picks the frame rate to report from r_frame_rate and avg_frame_rate (see probeMedia). */
export function chooseFrameRate(real: FrameRate | null, avg: FrameRate | null): FrameRate | null {
  let chosen: FrameRate | null;
  if (real !== null && avg !== null) {
    chosen = Math.abs(rateValue(real) - rateValue(avg)) <= 0.01 * rateValue(avg) ? real : avg;
  } else {
    chosen = avg ?? real;
  }
  if (chosen === null) return null;
  const value = rateValue(chosen);
  for (const standard of STANDARD_RATES) {
    if (Math.abs(value - rateValue(standard)) <= 0.0002 * rateValue(standard)) return standard;
  }
  return chosen;
}

/** Parses ffprobe's "30000/1001" (or "25"); null for 0/0, negatives and junk. Reduced to lowest terms. */
export function parseRate(text: string | undefined): FrameRate | null {
  if (text === undefined) return null;
  const m = /^\s*(\d+)\s*(?:\/\s*(\d+))?\s*$/.exec(text);
  if (!m) return null;
  const num = Number(m[1]);
  const den = m[2] === undefined ? 1 : Number(m[2]);
  if (!(num > 0) || !(den > 0) || !Number.isSafeInteger(num) || !Number.isSafeInteger(den)) return null;
  const g = gcd(num, den);
  return { num: num / g, den: den / g };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function rateValue(rate: FrameRate): number {
  return rate.num / rate.den;
}

function finiteNumber(text: string | undefined): number | null {
  if (text === undefined || text === 'N/A') return null;
  const value = Number(text);
  return Number.isFinite(value) ? value : null;
}

function positiveNumber(text: string | undefined): number | null {
  const value = finiteNumber(text);
  return value !== null && value > 0 ? value : null;
}

function positiveInt(text: string | undefined): number | null {
  const value = finiteNumber(text);
  return value !== null && Number.isInteger(value) && value > 0 ? value : null;
}
