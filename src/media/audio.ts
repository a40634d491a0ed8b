/**
 * decodeAudio: the audio of a video or audio file (or, with allowLive, a live stream) as 16 kHz mono
 * float32 samples, streamed from an ffmpeg child process in chunks of a fixed length.
 *
 * ffmpeg is spawned directly with one output: the input's first audio stream, mono, `-ar 16000`,
 * `-f f32le` on pipe:1 (raw little-endian float32, no headers). Mono is the mean of the channels (a
 * `pan` filter with weight 1/channels each; for stereo exactly the reference's `wav.mean(dim=0)`).
 * ffmpeg's own `-ac 1` is not used for that: for float output it mixes stereo as (L+R)/sqrt(2), 1.41
 * times the mean (it only remains as the fallback when the probe does not know the channel count).
 * Resampling to 16 kHz is ffmpeg's default swr resampler.
 *
 * Timestamps. Sample n is at time n / 16000 s on the clock that decodeFrames uses for video frames:
 * ffmpeg shifts every stream of an input by the input's start time (the earliest start of any of its
 * streams), so t = 0 is the start of the file, which is the first video frame's time when the video
 * starts first (the usual case, and the RAVDESS clip's). Raw output has no timestamps of its own, so
 * to keep sample index and time locked the audio goes through `aresample=async=1:first_pts=0`:
 *  - an audio stream that starts after the file's start (an edit list, a mux offset) is padded at the
 *    front with silence, so its first real sample lands at its own start time, not at 0;
 *  - gaps in the audio timestamps longer than 0.1 s are filled with silence and overlaps trimmed
 *    (swr's hard compensation), so a later sample does not drift earlier.
 * The decoder removes the AAC encoder delay (priming samples) as the file's edit list says; ffmpeg 5.1
 * does not trim the padding of the last AAC frame, so a clip may decode a few milliseconds longer than
 * ffprobe's stream duration (the RAVDESS clip: 52907 samples = 3.3067 s against 3.3033 s).
 * AudioChunk.start is therefore exactly sampleIndex / 16000.
 *
 * Truncation: ffmpeg reads only the audio stream's packets and mp4's demuxer then reports no error
 * when the file is cut short, so audio that ends well before the stream duration the container
 * declares (more than max(0.5 s, 5 %)) is reported as a truncated file, after the chunks that could
 * be decoded (with tolerateCorruption: a warning).
 *
 * An input without an audio stream fails before ffmpeg starts with a MediaError of code NO_AUDIO
 * (`clip.mp4: has no audio stream (video only)`); isNoAudioError() tells it apart, so a pipeline can
 * report "no audio" once and go on without the audio stages.
 *
 * Backpressure: stdout is paused while LOOKAHEAD_CHUNKS chunks wait for the consumer. Cleanup:
 * however the loop ends (done, break, throw in the consumer, abort, ffmpeg failure) the generator's
 * finally kills ffmpeg (SIGKILL) and awaits its exit before the loop statement ends.
 */
import * as os from 'node:os';
import { resolveFfmpeg } from './binaries';
import { MediaError } from './errors';
import { probeMedia } from './probe';
import { OutputPump, abortError, lastMeaningfulLine, spawnTool, type DecoderOptions, type DecoderStarted } from './process';
import { inputArgs, openSource, type MediaSource } from './source';
import type { AudioStreamInfo, MediaInfo } from './types';
import { DEFAULT_AUDIO_CHUNK_SECONDS } from '../defaults';

/** The sample rate decodeAudio delivers (what Silero VAD and wav2vec2 models take). */
export const AUDIO_SAMPLE_RATE = 16000;
/** Decoded chunks held ready ahead of the consumer before ffmpeg is made to wait. */
export const LOOKAHEAD_CHUNKS = 4;

/** A run of consecutive 16 kHz mono samples. */
export interface AudioChunk {
  /** Time of the first sample in seconds: exactly sampleIndex / AUDIO_SAMPLE_RATE (see the module notes). */
  readonly start: number;
  /** Index of the first sample in the decoded stream (0-based, counting every sample before it). */
  readonly sampleIndex: number;
  /** The samples, nominally in [-1, 1]; the array is the chunk's own (never reused). */
  readonly samples: Float32Array;
}

export interface DecodeAudioOptions extends DecoderOptions<AudioDecoderStarted> {
  /** Samples per chunk, in seconds (default 0.5 = 8000 samples); the last chunk may be shorter. */
  readonly chunkSeconds?: number;
}

export interface AudioDecoderStarted extends DecoderStarted {
  /** The audio stream being decoded. */
  readonly audio: AudioStreamInfo;
}

/** A whole decoded audio track (readAudio). */
export interface DecodedAudio {
  readonly samples: Float32Array;
  readonly sampleRate: number;
  /** samples.length / sampleRate. */
  readonly duration: number;
  readonly info: MediaInfo;
}

const LITTLE_ENDIAN = os.endianness() === 'LE';

/**
 * Audio that ends more than max(0.5 s, 5 %) before the stream duration the container declares is
 * taken for a truncated file (an error, or a warning with tolerateCorruption).
 */
export const TRUNCATION_TOLERANCE_SECONDS = 0.5;
export const TRUNCATION_TOLERANCE_FRACTION = 0.05;

/** True for the error decodeAudio / readAudio throw for an input that has no audio stream. */
export function isNoAudioError(err: unknown): err is MediaError {
  return err instanceof MediaError && err.code === 'NO_AUDIO';
}

/**
 * Decodes the first audio stream of `input` into 16 kHz mono float32 chunks of `chunkSeconds`
 * (the last one may be shorter), in order, sample-contiguous. Throws one-line MediaErrors naming the
 * input: from the checks and the probe (missing, empty, not media, NO_AUDIO, live input without
 * allowLive), and when ffmpeg fails midway (after the chunks it did decode), with ffmpeg's last
 * meaningful error line.
 */
export async function* decodeAudio(input: string, options: DecodeAudioOptions = {}): AsyncGenerator<AudioChunk, void, undefined> {
  const signal = options.signal;
  const chunkSamples = chunkLength(options.chunkSeconds);
  if (signal?.aborted) throw abortError(input);
  const source = await openSource(input, { allowLive: options.allowLive });
  const info = options.info ?? (await probeMedia(input, { allowLive: options.allowLive, signal, ffprobe: options.ffprobe }));
  const audio = info.audio;
  if (audio === null) {
    const what = info.kind === 'image' ? 'a still image' : info.hasVideo ? 'video only' : info.formatName;
    throw new MediaError('NO_AUDIO', input, `has no audio stream (${what})`);
  }
  const ffmpeg = options.ffmpeg ?? resolveFfmpeg();
  if (signal?.aborted) throw abortError(input);

  const args = audioArgs(source, audio);
  const pump = new ChunkPump(input, chunkSamples, audio.duration, options);
  const tool = await spawnTool(ffmpeg, args, { onStderrLine: (line) => pump.onStderrLine(line) });
  yield* pump.run(tool, signal, () => options.onStart?.({ pid: tool.pid, binary: ffmpeg, args, info, audio }));
}

/** The whole audio track of a file at once (decodeAudio collected into one array). */
export async function readAudio(input: string, options: Omit<DecodeAudioOptions, 'chunkSeconds'> = {}): Promise<DecodedAudio> {
  const parts: Float32Array[] = [];
  let total = 0;
  let info: MediaInfo | null = options.info ?? null;
  for await (const chunk of decodeAudio(input, {
    ...options,
    chunkSeconds: 10,
    onStart: (s) => {
      info = s.info;
      options.onStart?.(s);
    },
  })) {
    parts.push(chunk.samples);
    total += chunk.samples.length;
  }
  const samples = new Float32Array(total);
  let offset = 0;
  for (const part of parts) {
    samples.set(part, offset);
    offset += part.length;
  }
  if (info === null) throw new MediaError('DECODE_FAILED', input, 'ffmpeg was never started');
  return { samples, sampleRate: AUDIO_SAMPLE_RATE, duration: total / AUDIO_SAMPLE_RATE, info };
}

function chunkLength(chunkSeconds: number | undefined): number {
  const seconds = chunkSeconds ?? DEFAULT_AUDIO_CHUNK_SECONDS;
  const samples = Math.round(seconds * AUDIO_SAMPLE_RATE);
  if (!Number.isFinite(seconds) || samples < 1) {
    throw new RangeError(`chunkSeconds must be at least 1/${AUDIO_SAMPLE_RATE} s, got ${chunkSeconds}`);
  }
  return samples;
}

function audioArgs(source: MediaSource, audio: AudioStreamInfo): string[] {
  return [
    '-hide_banner', '-nostdin', '-nostats', '-loglevel', 'error',
    ...inputArgs(source),
    '-map', `0:${audio.index}`, '-vn', '-sn', '-dn',
    '-af', audioFilter(audio.channels),
    '-ac', '1', '-ar', String(AUDIO_SAMPLE_RATE), '-c:a', 'pcm_f32le', '-f', 'f32le', 'pipe:1',
  ];
}

/**
 * The audio filter chain: sample n at n/16000 s from the file's start (pad a late start, fill gaps;
 * see the module notes), then the mean of the channels.
 */
export function audioFilter(channels: number): string {
  const sync = 'aresample=async=1:first_pts=0';
  if (!(Number.isInteger(channels) && channels > 1)) return sync; // mono, or unknown: -ac 1 downmixes
  const weight = 1 / channels;
  const terms = Array.from({ length: channels }, (_, c) => `${weight}*c${c}`).join('+');
  return `${sync},pan=mono|c0=${terms}`;
}

/** Float32 samples from raw f32le bytes (a fresh, aligned array). */
function toSamples(bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength >> 2;
  const out = new Float32Array(n);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes.subarray(0, n * 4));
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
  }
  return out;
}

/** The state between ffmpeg's output and the generator. */
class ChunkPump extends OutputPump<AudioChunk> {
  private flushed = false;
  private nextSample = 0;
  private partialSampleBytes = 0;

  constructor(
    input: string,
    chunkSamples: number,
    private readonly declaredDuration: number | null,
    private readonly options: DecodeAudioOptions,
  ) {
    super(input, chunkSamples * 4, options);
  }

  /** True when ffmpeg's output has ended and every chunk has been taken. */
  get finished(): boolean {
    return this.aborted || (this.stdoutEnded && this.flushed && this.blocks.length === 0);
  }

  /** The next chunk, or null when none is ready. After the output ended, the partial last chunk. */
  take(): AudioChunk | null {
    if (this.blocks.length === 0 && this.stdoutEnded && !this.flushed) {
      this.flushed = true;
      const rest = this.assembler.flush();
      if (rest !== null) {
        this.partialSampleBytes = rest.length % 4;
        if (rest.length >= 4) this.blocks.push(rest);
      }
    }
    const block = this.blocks.shift();
    if (block === undefined) return null;
    const samples = toSamples(block);
    const sampleIndex = this.nextSample;
    this.nextSample += samples.length;
    this.updateFlow();
    return { start: sampleIndex / AUDIO_SAMPLE_RATE, sampleIndex, samples };
  }

  /** After the output ended and ffmpeg exited: throws if the decode did not end well. */
  checkEnd(code: number | null, signal: NodeJS.Signals | null, stderrTail: readonly string[]): void {
    const seconds = (this.nextSample / AUDIO_SAMPLE_RATE).toFixed(3);
    const after = `after ${seconds} s of audio`;
    const last = lastMeaningfulLine(stderrTail);
    if (code !== 0) {
      if (this.fatalLine !== null) {
        throw new MediaError('DECODE_FAILED', this.input, `audio decoding failed ${after}, the file is truncated or corrupt: ${this.fatalLine}`);
      }
      const why = last ?? (signal !== null ? `ffmpeg was killed by ${signal}` : `ffmpeg exited with code ${code}`);
      throw new MediaError('DECODE_FAILED', this.input, `audio decoding failed ${after}: ${why}`);
    }
    if (this.readError !== null) throw new MediaError('DECODE_FAILED', this.input, `reading ffmpeg's audio output failed ${after}: ${this.readError.message}`);
    if (this.partialSampleBytes !== 0) {
      throw new MediaError('DECODE_FAILED', this.input, `ffmpeg's audio output ended inside a sample (${this.partialSampleBytes} of 4 bytes) ${after}`);
    }
    if (this.fatalLine !== null) {
      throw new MediaError('DECODE_FAILED', this.input, `audio decoding stopped ${after}, the file is truncated or corrupt: ${this.fatalLine}`);
    }
    if (this.nextSample === 0) {
      const declared = this.declaredDuration === null ? '' : ` of the ${this.declaredDuration.toFixed(3)} s it declares`;
      throw new MediaError(
        'DECODE_FAILED',
        this.input,
        `has an audio stream, but ffmpeg decoded no audio from it${declared}${last === null ? '' : ` (${last})`}: the file is truncated or corrupt; download or export it again`,
      );
    }
    // ffmpeg reads only the audio stream's packets, and mp4's demuxer then says nothing when the
    // file is cut short: compare with the duration the container declares.
    const declared = this.declaredDuration;
    const decoded = this.nextSample / AUDIO_SAMPLE_RATE;
    if (declared !== null && declared - decoded > Math.max(TRUNCATION_TOLERANCE_SECONDS, TRUNCATION_TOLERANCE_FRACTION * declared)) {
      const detail = `audio decoding stopped ${after}, ${(declared - decoded).toFixed(3)} s short of the ${declared.toFixed(3)} s the file declares: the file is truncated or corrupt`;
      if (!this.options.tolerateCorruption) throw new MediaError('DECODE_FAILED', this.input, detail);
      this.options.onWarning?.(detail);
    }
  }

  /** Pauses ffmpeg's stdout while LOOKAHEAD_CHUNKS chunks wait for the consumer, reads on otherwise. */
  protected updateFlow(): void {
    const stdout = this.tool?.stdout;
    if (!stdout || this.stdoutEnded) return;
    if (this.blocks.length >= LOOKAHEAD_CHUNKS) stdout.pause();
    else stdout.resume();
  }
}
