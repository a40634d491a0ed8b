/**
 * PlaybackController: plays media sources as the media splitter node does, with no Node-RED in
 * sight. A run plays a list of sources one after another (a folder's files), each a stream of its
 * own; a looping single file starts again as a new stream. Frames are decoded in a worker thread
 * (decodeFramesInWorker, as `cer analyze` does) beside the audio (decodeAudio); each frame, audio
 * chunk and event goes to the run's PlaybackOutputs as a payload of the message contract
 * (src/contract/messages.ts), and every stream ends with one end payload, whatever ended it.
 *
 * Stopping: stop() aborts runs (all, or the one playing a stream); close() stops them all and
 * waits until every ffmpeg they started has exited. A failing source ends its run: the error
 * event and an end with reason `error` are sent, and the run's `finished` rejects with the error.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { oneLine } from '../io/errors';
import type { AudioPayload, EndPayload, FramePayload, SourceEventPayload, SourceInfo } from '../contract/messages';
import { AUDIO_SAMPLE_RATE, decodeAudio } from './audio';
import { resolveFfmpeg } from './binaries';
import { decodeFramesInWorker, FrameDecoderThread } from './frame-worker';
import { ffmpegFeatures } from './frame-decoder';
import { probeMedia } from './probe';
import { RateMeter } from './rate-meter';
import { classifyInput, expandFolder } from './source';
import { frameRateValue, type MediaInfo } from './types';

export interface PlaybackOptions {
  /** Accept rtsp://, http(s):// … streams and /dev/video* devices (default false: files only). */
  readonly allowLive?: boolean;
  /** Play a single file again from the start when it ends (a stand-in for a camera). */
  readonly loop?: boolean;
  /** Send frames (and audio) at the media's own pace instead of as fast as they decode. */
  readonly realtime?: boolean;
  /** Decode the audio and send it (default true; an input without audio sends none). */
  readonly audio?: boolean;
  /** Where a file name given to play() lies (default: as given, relative to the working directory). */
  readonly resolvePath?: (file: string) => string;
  /** A new, unique stream id, one per source played (default a random UUID). */
  readonly newStream?: () => string;
  /** What the controller is doing, for a status display. */
  readonly onStatus?: (status: PlaybackStatus) => void;
}

export type PlaybackStatus =
  | { readonly state: 'probing'; readonly source: string }
  /** Per frame sent: the ffmpeg decoding it (null: decoded in this process), frames sent per second, percent done (null for live input). */
  | { readonly state: 'playing'; readonly pid: number | null; readonly fps: number; readonly percent: number | null }
  | { readonly state: 'stopped'; readonly frames: number }
  /** A source played to its end: `index` (1-based) of `count` sources in the run. */
  | { readonly state: 'ended'; readonly frames: number; readonly seconds: number; readonly index: number; readonly count: number }
  | { readonly state: 'failed'; readonly message: string };

/** Waits before a frame is sent: back-pressure from whoever consumes the frames. */
export interface FrameGate {
  acquire(signal: AbortSignal): Promise<void>;
  /** The stream is over: let any waiter go. */
  close(): void;
}

/** Where one run's payloads go. */
export interface PlaybackOutputs {
  frame(payload: FramePayload): void;
  audio(payload: AudioPayload): void;
  /** start, progress and error events. */
  event(payload: SourceEventPayload): void;
  /** A stream's end: one per source played, whatever ended it. */
  end(payload: EndPayload): void;
  /**
   * The gate for `stream`'s frames, asked once the source is probed; null or absent: none.
   * `recycle` gives a sent frame's memory back to the decoder, for a consumer that holds no
   * reference to it any more.
   */
  gate?(stream: string, recycle: (data: Uint8Array) => void): FrameGate | null;
}

/** A run of play(). */
export interface PlaybackRun {
  readonly id: number;
  /** The stream now playing ('' before the first starts). */
  readonly stream: string;
  /** Resolves when the run is over (played, or stopped); rejects with the error that ended it. */
  readonly finished: Promise<void>;
  stop(): void;
}

interface Run {
  readonly id: number;
  stream: string;
  readonly controller: AbortController;
  finished: Promise<void>;
}

/** The start event's description of a probed input. */
export function sourceInfo(info: MediaInfo): SourceInfo {
  const rate = info.frameRate;
  return {
    kind: info.kind,
    width: info.width,
    height: info.height,
    fps: rate ? frameRateValue(rate) : null,
    frameRate: rate ? `${rate.num}/${rate.den}` : null,
    frames: info.frameCount,
    duration: info.duration,
    hasAudio: info.hasAudio,
  };
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** A stop (or close) explains an abort error, not a real failure. */
function stoppedBy(signal: AbortSignal, err: unknown): boolean {
  return signal.aborted && (!(err instanceof Error) || err.name === 'AbortError' || /abort/i.test(err.message));
}

export class PlaybackController {
  private readonly runs = new Map<number, Run>();
  private runCounter = 0;
  private closing = false;
  /** Started now and kept across streams (as Pipeline keeps its own); a run beside another one gets a thread of its own. */
  private readonly keptDecoder = FrameDecoderThread.start();
  private keptInUse = false;

  constructor(private readonly options: PlaybackOptions = {}) {
    // Asked once per process and cached (Pipeline.load does the same): the first run does not pay for it.
    try {
      ffmpegFeatures(resolveFfmpeg()).catch(() => undefined);
    } catch {
      // no ffmpeg: the first run reports it
    }
  }

  /** The inputs a source names: a folder's media files in name order, or the source itself. */
  sources(source: string): Promise<string[]> {
    return expandFolder(source, classifyInput(source).type === 'file' ? this.resolve(source) : undefined);
  }

  /** Plays `sources` one after another, each a stream of its own, until they end, fail or are stopped. */
  play(sources: readonly string[], outputs: PlaybackOutputs): PlaybackRun {
    const controller = new AbortController();
    const run: Run = { id: ++this.runCounter, stream: '', controller, finished: Promise.resolve() };
    this.runs.set(run.id, run);
    const out = this.guarded(outputs);
    run.finished = (async () => {
      try {
        for (let i = 0; i < sources.length && !controller.signal.aborted && !this.closing; i++) {
          const source = sources[i];
          const stream = this.options.newStream?.() ?? randomUUID();
          run.stream = stream;
          let end: EndPayload;
          try {
            end = await this.playOnce(source, out, controller, stream);
          } catch (err) {
            if (!this.closing) {
              const message = oneLine(err);
              const code = (err as { code?: unknown }).code;
              out.event({ type: 'error', stream, source, message, ...(typeof code === 'string' ? { code } : {}) });
              out.end({ type: 'end', stream, source, reason: 'error', frames: 0, seconds: 0 });
              this.status({ state: 'failed', message });
            }
            throw err;
          }
          out.end(end);
          if (end.reason !== 'done') {
            this.status({ state: 'stopped', frames: end.frames });
            break;
          }
          this.status({ state: 'ended', frames: end.frames, seconds: end.seconds, index: i + 1, count: sources.length });
          if (this.options.loop && sources.length === 1 && classifyInput(source).type === 'file') i--;
        }
      } finally {
        this.runs.delete(run.id);
      }
    })();
    return {
      id: run.id,
      get stream() {
        return run.stream;
      },
      finished: run.finished,
      stop: () => controller.abort(),
    };
  }

  /** Stops every run, or with `stream` the run playing it. */
  stop(stream?: string): void {
    for (const run of this.runs.values()) if (stream === undefined || run.stream === stream) run.controller.abort();
  }

  /** Runs not yet over. */
  get running(): number {
    return this.runs.size;
  }

  /** Stops every run, sends nothing more, and resolves once every decoder has exited. */
  async close(): Promise<void> {
    this.closing = true;
    const all = [...this.runs.values()];
    for (const run of all) run.controller.abort();
    await Promise.allSettled(all.map((r) => r.finished));
    await this.keptDecoder.close();
  }

  private resolve(file: string): string {
    return this.options.resolvePath?.(file) ?? file;
  }

  private status(status: PlaybackStatus): void {
    this.options.onStatus?.(status);
  }

  /** `outputs`, silenced once close() has begun. */
  private guarded(outputs: PlaybackOutputs): PlaybackOutputs {
    return {
      frame: (p) => {
        if (!this.closing) outputs.frame(p);
      },
      audio: (p) => {
        if (!this.closing) outputs.audio(p);
      },
      event: (p) => {
        if (!this.closing) outputs.event(p);
      },
      end: (p) => {
        if (!this.closing) outputs.end(p);
      },
      gate: (stream, recycle) => outputs.gate?.(stream, recycle) ?? null,
    };
  }

  /** Plays `source` once; resolves with how it ended (done or stopped), rejects when it fails. */
  private async playOnce(source: string, out: PlaybackOutputs, controller: AbortController, stream: string): Promise<EndPayload> {
    const signal = controller.signal;
    const { allowLive = false, realtime = false } = this.options;
    const started = performance.now();
    const ref = { stream, source };
    let frames = 0;
    let gate: FrameGate | null = null;
    const decoder = this.keptInUse ? FrameDecoderThread.start() : this.keptDecoder;
    this.keptInUse = true;
    const meter = new RateMeter();
    const end = (reason: EndPayload['reason']): EndPayload => ({ type: 'end', ...ref, reason, frames, seconds: (performance.now() - started) / 1000 });
    try {
      const kind = classifyInput(source);
      const input = kind.type === 'file' ? this.resolve(source) : source;
      this.status({ state: 'probing', source });
      const info = await probeMedia(input, { allowLive, signal });
      const fps = info.frameRate ? frameRateValue(info.frameRate) : 25;
      out.event({ type: 'start', ...ref, info: sourceInfo(info) });
      gate = out.gate?.(stream, (data) => decoder.recycle(data)) ?? null;
      const live = kind.type !== 'file';
      const t0 = performance.now();
      let pid = 0;
      let lastProgress = 0;

      const audio = async (): Promise<void> => {
        if (this.options.audio === false || !info.hasAudio) return;
        for await (const chunk of decodeAudio(input, { signal, allowLive, info })) {
          if (realtime) await sleep(t0 + chunk.start * 1000 - performance.now(), signal);
          out.audio({ type: 'audio', ...ref, start: chunk.start, sampleIndex: chunk.sampleIndex, sampleRate: AUDIO_SAMPLE_RATE, samples: chunk.samples, fps: info.hasVideo ? fps : null, frameRate: info.hasVideo ? info.frameRate : null });
        }
      };

      const video = async (): Promise<void> => {
        if (!info.hasVideo) return;
        const decoded = decodeFramesInWorker(input, { thread: decoder, info, signal, allowLive, onStart: (s) => (pid = s.pid) });
        for await (const frame of decoded) {
          if (gate !== null) await gate.acquire(signal);
          if (realtime && !live) await sleep(t0 + frame.t * 1000 - performance.now(), signal);
          if (signal.aborted) break;
          // A Buffer (a Uint8Array) over the frame's own memory: Node-RED's deep copy copies a Buffer
          // at once, where it would copy a plain Uint8Array element by element (about a second a frame).
          const data = Buffer.from(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
          out.frame({ type: 'frame', ...ref, frame: frame.index, t: frame.t, fps, width: frame.width, height: frame.height, data });
          frames++;
          meter.tick();
          const percent = info.frameCount ? Math.min(100, (100 * frames) / info.frameCount) : info.duration ? Math.min(100, (100 * frame.t) / info.duration) : null;
          // A still image sharp decoded in this process has no ffmpeg.
          this.status({ state: 'playing', pid: pid > 0 ? pid : null, fps: meter.perSecond, percent });
          const now = performance.now();
          if (now - lastProgress >= 1000) {
            lastProgress = now;
            out.event({ type: 'progress', ...ref, frame: frames, percent, fps: meter.perSecond });
          }
        }
      };

      // Video and audio decode side by side; if one fails, the other is stopped.
      const parts = [video(), audio()].map((p) =>
        p.catch((err: unknown) => {
          controller.abort();
          throw err;
        }),
      );
      const results = await Promise.allSettled(parts);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !stoppedBy(signal, r.reason));
      if (failed !== undefined) throw failed.reason;
      if (signal.aborted) return end('stopped');
      const done = end('done');
      out.event({ type: 'progress', ...ref, frame: frames, percent: 100, fps: meter.perSecond });
      return done;
    } catch (err) {
      if (stoppedBy(signal, err)) return end('stopped');
      throw err;
    } finally {
      gate?.close();
      if (decoder !== this.keptDecoder) await decoder.close();
      else this.keptInUse = false;
    }
  }
}
