/**
 * decodeFrames: a video, a still image or (with allowLive) a live stream as RGB24 frames, streamed
 * from an ffmpeg child process (a still JPEG, PNG or WebP file is decoded in-process with sharp:
 * see still.ts).
 *
 * How it works. ffmpeg is spawned directly (not through fluent-ffmpeg: it needs a third output
 * pipe, see below, and an awaitable kill) with two outputs of the same decoded stream:
 *  - pipe:1, `-f rawvideo -pix_fmt rgb24`: the pixels, width*height*3 bytes a frame, no headers;
 *    the stream is cut into frames by a ChunkAssembler (one copy per byte, into the frame's own
 *    buffer);
 *  - pipe:3, `-c:v wrapped_avframe -f framecrc -flush_packets 1`: one text line a frame holding its
 *    pts, in the input stream's time base (`-enc_time_base -1`; the line `#tb 0: 1/30000` gives it).
 *    The encoder wraps the decoded frame without copying it, so this costs next to nothing.
 * Both outputs use passthrough frame timing (`-fps_mode passthrough`, or `-vsync passthrough` on
 * ffmpeg builds before 5.1), so no frame is dropped or duplicated and frame i of one output is
 * frame i of the other; `t` is therefore the frame's real presentation time (ffmpeg shifts the
 * input so the file starts at 0), right for variable-frame-rate video too, not index × 1/fps. Should
 * the pts line of a frame lag more than MAX_PTS_LAG frames behind its pixels (never seen), that
 * frame's t is the previous t plus one nominal frame duration instead.
 *
 * Backpressure: stdout is paused while LOOKAHEAD_FRAMES complete frames wait for the consumer, so
 * ffmpeg decodes a few frames ahead in parallel with the consumer's work (plus what the OS pipe
 * holds) and then blocks; memory stays at a few frames whatever the file's length.
 *
 * Cleanup: however the loop ends (done, break, throw in the consumer, abort, ffmpeg failure) the
 * generator's finally kills ffmpeg (SIGKILL) and awaits its exit before the loop statement ends.
 */
import { resolveFfmpeg, type ResolvedBinary } from './binaries';
import { MediaError } from './errors';
import { probeMedia } from './probe';
import { BufferPool, OutputPump, abortError, lastMeaningfulLine, runTool, spawnTool, type DecoderOptions, type ToolProcess } from './process';
import { inputArgs, openSource, type MediaSource } from './source';
import { decodeStill, type StillDecoder } from './still';
import type { FrameRate, MediaInfo, RgbImage, VideoFrame, VideoStreamInfo } from './types';

export interface DecodeFramesOptions extends DecoderOptions {
  /**
   * Reuse frame buffers: a yielded frame's data is valid only until the next frame is asked for
   * (saves allocating and collecting a frame-sized buffer per frame). Default false.
   */
  readonly reuseBuffers?: boolean;
  /** Where frame buffers come from and go back to (reuseBuffers uses one of its own). */
  readonly bufferPool?: BufferPool;
  /**
   * ffmpeg's decoding threads (default: ffmpeg's choice, one per core). A consumer that keeps the
   * other cores busy does better with 1: ffmpeg's threads then do not fight it for the cores.
   */
  readonly decoderThreads?: number;
  /** What the ffmpeg build supports, when the caller has asked already (ffmpegFeatures). */
  readonly features?: FfmpegFeatures;
  /** Who reads a still JPEG/PNG/WebP file when `info` is not given (see ProbeOptions.stillDecoder). */
  readonly stillDecoder?: StillDecoder;
}

/** Frames whose pixels have arrived but whose pts line has not, before giving up waiting for it. */
const MAX_PTS_LAG = 8;
/** Decoded frames held ready ahead of the consumer before ffmpeg is made to wait. */
export const LOOKAHEAD_FRAMES = 3;

/**
 * Decodes the video stream of `input` into RGB24 frames, in presentation order, index from 0.
 * A still image gives exactly one frame (t = 0); a JPEG, PNG or WebP file the probe gave to sharp
 * (info.decoder 'sharp') is decoded in-process, without ffmpeg. Throws one-line MediaErrors naming the input: from
 * the checks and the probe (missing, empty, not media, no video stream, live input without
 * allowLive), and when ffmpeg fails midway (after the frames it did decode), with ffmpeg's last
 * meaningful error line.
 */
export async function* decodeFrames(input: string, options: DecodeFramesOptions = {}): AsyncGenerator<VideoFrame, void, undefined> {
  const signal = options.signal;
  if (signal?.aborted) throw abortError(input);
  const source = await openSource(input, { allowLive: options.allowLive });
  const info = options.info ?? (await probeMedia(input, { allowLive: options.allowLive, signal, ffprobe: options.ffprobe, stillDecoder: options.stillDecoder }));
  if (info.decoder === 'sharp' && source.type === 'file') {
    // A still JPEG/PNG/WebP file: decoded in-process (src/media/still.ts), no ffmpeg.
    const frame = await decodeStill(input, source.path, info);
    if (signal?.aborted) throw abortError(input);
    yield frame;
    return;
  }
  const video = info.video;
  if (video === null) {
    throw new MediaError('NO_VIDEO', input, `has no video stream (${info.kind === 'audio' ? 'audio only' : info.formatName})`);
  }
  const ffmpeg = options.ffmpeg ?? resolveFfmpeg();
  const features = options.features ?? (await ffmpegFeatures(ffmpeg));
  if (signal?.aborted) throw abortError(input);

  const args = decodeArgs(source, info, video, features, options.decoderThreads);
  const pool = options.bufferPool ?? (options.reuseBuffers ? new BufferPool() : undefined);
  const pump = new FramePump(input, video, options, pool);
  const tool = await spawnTool(ffmpeg, args, { extraOutputs: 1, onStderrLine: (line) => pump.onStderrLine(line) });
  for await (const frame of pump.run(tool, signal, () => options.onStart?.({ pid: tool.pid, binary: ffmpeg, args, info }))) {
    yield frame;
    if (options.reuseBuffers) pool?.put(frame.data);
  }
}

/**
 * Decodes one still image (or the first frame of a video) to RGB24. Alpha is dropped, palettes and
 * grey levels are expanded.
 */
export async function decodeImage(input: string, options: Omit<DecodeFramesOptions, 'allowLive'> = {}): Promise<RgbImage> {
  for await (const frame of decodeFrames(input, options)) {
    return { width: frame.width, height: frame.height, data: frame.data };
  }
  throw new MediaError('DECODE_FAILED', input, 'ffmpeg decoded no image');
}

export interface FfmpegFeatures {
  /** `-fps_mode` exists (ffmpeg 5.1+); older builds need the global `-vsync`. */
  readonly fpsMode: boolean;
}

const featureCache = new Map<string, Promise<FfmpegFeatures>>();

/** What this ffmpeg build understands, from `ffmpeg -h long` (once per binary). */
export function ffmpegFeatures(ffmpeg: ResolvedBinary): Promise<FfmpegFeatures> {
  let cached = featureCache.get(ffmpeg.path);
  if (cached === undefined) {
    cached = runTool(ffmpeg, ['-hide_banner', '-h', 'long'], { timeoutMs: 20_000 }).then((result) => ({
      fpsMode: /^\s*-fps_mode\b/m.test(result.stdout.toString('utf8')),
    }));
    featureCache.set(ffmpeg.path, cached);
    cached.catch(() => featureCache.delete(ffmpeg.path));
  }
  return cached;
}

function decodeArgs(source: MediaSource, info: MediaInfo, video: VideoStreamInfo, features: FfmpegFeatures, threads?: number): string[] {
  const still = info.kind === 'image';
  const perOutput = [
    '-map', `0:${video.index}`,
    ...(features.fpsMode ? ['-fps_mode', 'passthrough'] : []),
    ...(still ? ['-frames:v', '1'] : []),
    '-enc_time_base', '-1',
  ];
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    ...(features.fpsMode ? [] : ['-vsync', 'passthrough']),
    ...(threads !== undefined ? ['-threads', String(threads)] : []),
    ...inputArgs(source),
    // Pixels. The scale pins the size (after autorotation) so that every frame has the probed size.
    // At an unchanged size fast_bilinear gives the same RGB bytes as the default and costs ~20 % less
    // on video; not on a full-range 4:4:4 JPEG (up to 100 levels off), so stills get the exact
    // conversion (what src/media/still.ts's sharp decoding agrees with).
    ...perOutput, '-vf', `scale=w=${video.width}:h=${video.height}:flags=${still ? 'accurate_rnd+full_chroma_int' : 'fast_bilinear'}`, '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1',
    // Timestamps: one framecrc line per frame.
    ...perOutput, '-c:v', 'wrapped_avframe', '-flush_packets', '1', '-f', 'framecrc', 'pipe:3',
  ];
}

/** The state between ffmpeg's two outputs and the generator. */
class FramePump extends OutputPump<VideoFrame> {
  private readonly width: number;
  private readonly height: number;
  private readonly step: number;
  /** t (seconds) by frame index, as the pts lines arrive. */
  private readonly times: number[] = [];
  private timeBase: FrameRate | null = null;
  private ptsText = '';
  private ptsEnded = false;
  private nextIndex = 0;
  private lastT: number | null = null;

  constructor(input: string, video: VideoStreamInfo, options: DecodeFramesOptions, pool?: BufferPool) {
    super(input, video.width * video.height * 3, options, pool);
    this.width = video.width;
    this.height = video.height;
    const rate = video.frameRate ?? video.avgFrameRate ?? video.realFrameRate;
    this.step = rate === null ? 0 : rate.den / rate.num;
  }

  private readonly onPtsData = (text: string): void => {
    this.ptsText += text;
    const lines = this.ptsText.split('\n');
    this.ptsText = lines.pop() ?? '';
    for (const line of lines) this.onPtsLine(line);
    this.updateFlow();
    this.notify();
  };

  private readonly onPtsEnd = (): void => {
    if (this.ptsText !== '') this.onPtsLine(this.ptsText);
    this.ptsText = '';
    this.ptsEnded = true;
    this.updateFlow();
    this.notify();
  };

  override attach(tool: ToolProcess): void {
    super.attach(tool);
    const pts = tool.output(3);
    pts.setEncoding('utf8');
    pts.on('data', this.onPtsData);
    pts.once('end', this.onPtsEnd);
    pts.once('error', this.onPtsEnd);
  }

  override detach(): void {
    this.tool?.output(3).off('data', this.onPtsData);
    super.detach();
  }

  /** True when ffmpeg's pixel output has ended and every frame has been taken. */
  get finished(): boolean {
    return this.aborted || (this.stdoutEnded && this.blocks.length === 0);
  }

  /** The next frame when its pixels and its time are here; null otherwise. */
  take(): VideoFrame | null {
    if (!this.headReady()) return null;
    const data = this.blocks.shift();
    if (data === undefined) return null;
    const index = this.nextIndex++;
    const known = this.times[index];
    const t = known !== undefined && Number.isFinite(known) ? known : this.lastT === null ? index * this.step : this.lastT + this.step;
    this.lastT = t;
    this.updateFlow();
    return { index, t, width: this.width, height: this.height, data };
  }

  /** After stdout ended and ffmpeg exited: throws if the decode did not end well. */
  checkEnd(code: number | null, signal: NodeJS.Signals | null, stderrTail: readonly string[]): void {
    const n = this.nextIndex;
    const after = `after ${n} frame${n === 1 ? '' : 's'}`;
    const last = lastMeaningfulLine(stderrTail);
    if (code !== 0) {
      if (this.fatalLine !== null) {
        throw new MediaError('DECODE_FAILED', this.input, `decoding failed ${after}, the file is truncated or corrupt: ${this.fatalLine}`);
      }
      const why = last ?? (signal !== null ? `ffmpeg was killed by ${signal}` : `ffmpeg exited with code ${code}`);
      throw new MediaError('DECODE_FAILED', this.input, `decoding failed ${after}: ${why}`);
    }
    if (this.readError !== null) throw new MediaError('DECODE_FAILED', this.input, `reading ffmpeg's output failed ${after}: ${this.readError.message}`);
    const partial = this.assembler.pendingBytes;
    if (partial > 0) {
      throw new MediaError('DECODE_FAILED', this.input, `ffmpeg's output ended inside a frame (${partial} of ${this.assembler.blockSize} bytes) ${after}`);
    }
    if (this.fatalLine !== null) {
      throw new MediaError('DECODE_FAILED', this.input, `decoding stopped ${after}, the file is truncated or corrupt: ${this.fatalLine}`);
    }
    if (n === 0) throw new MediaError('DECODE_FAILED', this.input, `ffmpeg decoded no frames${last === null ? '' : `: ${last}`}`);
  }

  private headReady(): boolean {
    if (this.blocks.length === 0) return false;
    return this.times.length > this.nextIndex || this.ptsEnded || this.blocks.length > MAX_PTS_LAG;
  }

  /**
   * Pauses ffmpeg's stdout while LOOKAHEAD_FRAMES decoded frames wait for the consumer, reads on
   * otherwise: ffmpeg keeps decoding on its own core while the consumer works on a frame, and
   * memory stays bounded.
   */
  protected updateFlow(): void {
    const stdout = this.tool?.stdout;
    if (!stdout || this.stdoutEnded) return;
    if (this.blocks.length >= LOOKAHEAD_FRAMES && this.headReady()) stdout.pause();
    else stdout.resume();
  }

  /** `#tb 0: 1/30000` sets the time base; `0, dts, pts, duration, size, crc` is one frame. */
  private onPtsLine(line: string): void {
    if (line.startsWith('#')) {
      const tb = /^#tb 0:\s*(\d+)\/(\d+)/.exec(line);
      if (tb) this.timeBase = { num: Number(tb[1]), den: Number(tb[2]) };
      return;
    }
    const fields = line.split(',');
    if (fields.length < 3 || fields[0]?.trim() !== '0') return;
    const pts = Number(fields[2]);
    const tb = this.timeBase;
    this.times.push(tb !== null && tb.den > 0 && Number.isFinite(pts) ? (pts * tb.num) / tb.den : Number.NaN);
  }
}
