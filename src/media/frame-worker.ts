/**
 * decodeFrames run in a worker thread. ffmpeg writes a frame through a 64 KB pipe in dozens of
 * reads, each of which needs the reading thread; when that thread is also the one running the
 * models, ffmpeg stalls whenever a model runs. Here a worker owns ffmpeg and drains the pipe at
 * ffmpeg's pace, handing whole frames to the main thread (their memory is transferred, not copied),
 * at most WORKER_LOOKAHEAD frames ahead of the consumer.
 */
import * as path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { resolveFfmpeg, type ResolvedBinary } from './binaries';
import { MediaError, type MediaErrorCode } from './errors';
import { decodeFrames, ffmpegFeatures, type DecodeFramesOptions, type FfmpegFeatures } from './frame-decoder';
import { probeMedia } from './probe';
import { abortError, BufferPool, type DecoderStarted } from './process';
import type { MediaInfo, VideoFrame } from './types';

/** Frames handed to the main thread and not yet consumed, before the worker waits. */
const WORKER_LOOKAHEAD = 4;

interface WorkerInput {
  readonly input: string;
  readonly info?: MediaInfo;
  readonly allowLive?: boolean;
  readonly tolerateCorruption?: boolean;
  readonly decoderThreads?: number;
  readonly ffmpeg: ResolvedBinary;
  readonly ffprobe?: ResolvedBinary;
  readonly features: FfmpegFeatures;
}

/** Messages name their job, so that a late message of a stopped job is not taken for the next one's. */
type ToWorker =
  | { type: 'job'; job: number; input: WorkerInput }
  /** A consumed frame; its memory comes back when the consumer let the buffers be reused. */
  | { type: 'ack'; job: number; data?: Uint8Array }
  | { type: 'stop'; job: number }
  /** Frame memory handed back outside the ack order (FrameDecoderThread.recycle). */
  | { type: 'recycle'; data: Uint8Array }
  | { type: 'close' };
type FromWorker = { job: number } & (
  | { type: 'started'; started: DecoderStarted }
  | { type: 'warning'; message: string }
  | { type: 'frame'; index: number; t: number; width: number; height: number; data: Uint8Array }
  | { type: 'end' }
  | { type: 'error'; message: string; code?: MediaErrorCode }
);

interface RunningJob {
  readonly id: number;
  readonly stop: AbortController;
  outstanding: number;
  wake: (() => void) | null;
}

function workerMain(port: NonNullable<typeof parentPort>): void {
  // Kept across jobs: frame buffers handed back by a consumer serve the next input as well.
  const pool = new BufferPool();
  let current: RunningJob | null = null;
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'job') {
      queue = queue.then(() => runJob(m.job, m.input));
      return;
    }
    if (m.type === 'close') {
      current?.stop.abort();
      void queue.finally(() => port.close());
      return;
    }
    if ((m.type === 'ack' || m.type === 'recycle') && m.data) pool.put(m.data);
    if (m.type === 'recycle') return;
    const job = current;
    if (job === null || job.id !== m.job) return;
    if (m.type === 'ack') job.outstanding--;
    else job.stop.abort();
    job.wake?.();
    job.wake = null;
  });

  async function runJob(id: number, input: WorkerInput): Promise<void> {
    const job: RunningJob = { id, stop: new AbortController(), outstanding: 0, wake: null };
    current = job;
    const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);
    try {
      const frames = decodeFrames(input.input, {
        info: input.info,
        allowLive: input.allowLive,
        tolerateCorruption: input.tolerateCorruption,
        decoderThreads: input.decoderThreads,
        ffmpeg: input.ffmpeg,
        ffprobe: input.ffprobe,
        features: input.features,
        signal: job.stop.signal,
        bufferPool: pool,
        onStart: (started) => post({ job: id, type: 'started', started }),
        onWarning: (message) => post({ job: id, type: 'warning', message }),
      });
      for await (const frame of frames) {
        const data = frame.data;
        // A frame that is a view into a larger chunk is copied so only its own bytes move.
        const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : Uint8Array.from(data);
        post({ job: id, type: 'frame', index: frame.index, t: frame.t, width: frame.width, height: frame.height, data: own }, [own.buffer as ArrayBuffer]);
        job.outstanding++;
        while (job.outstanding >= WORKER_LOOKAHEAD && !job.stop.signal.aborted) await new Promise<void>((resolve) => (job.wake = resolve));
        if (job.stop.signal.aborted) break;
      }
      post({ job: id, type: 'end' });
    } catch (err) {
      if (job.stop.signal.aborted) {
        post({ job: id, type: 'end' });
      } else {
        const message = err instanceof Error ? err.message : String(err);
        post({ job: id, type: 'error', message, code: err instanceof MediaError ? err.code : undefined });
      }
    } finally {
      current = null;
    }
  }
}

if (!isMainThread && parentPort !== null && (workerData as { frameWorker?: boolean } | null)?.frameWorker === true) {
  workerMain(parentPort);
}

export interface DecodeInWorkerOptions extends Omit<DecodeFramesOptions, 'bufferPool'> {
  /** A decoder thread kept across inputs (see FrameDecoderThread); by default one is started for this input and stopped after it. */
  readonly thread?: FrameDecoderThread;
}

/**
 * A decoder worker thread that serves one input after another. Starting a thread costs ~40 ms of
 * module loading before its first frame; a pipeline that starts one with its models pays that once,
 * not per input, and keeps the frame buffers its consumer handed back.
 */
export class FrameDecoderThread {
  private worker: Worker | null = null;
  private nextJob = 0;
  private running = false;
  private closed = false;

  /** Whether an input is being decoded (a second one must use another thread). */
  get busy(): boolean {
    return this.running;
  }

  /** Starts the thread now (it does not keep the process alive while idle). */
  static start(): FrameDecoderThread {
    const thread = new FrameDecoderThread();
    thread.spawn();
    return thread;
  }

  private spawn(): Worker {
    const worker = new Worker(path.join(__dirname, 'frame-worker.js'), { workerData: { frameWorker: true } });
    worker.unref();
    worker.once('exit', () => {
      if (this.worker === worker) this.worker = null;
    });
    // A crash is reported to the job it interrupts; an idle thread that dies is started anew.
    worker.on('error', () => undefined);
    this.worker = worker;
    return worker;
  }

  /** The input's frames, as decodeFramesInWorker gives them. One input at a time. */
  async *decode(input: string, options: Omit<DecodeInWorkerOptions, 'thread'> = {}): AsyncGenerator<VideoFrame, void, undefined> {
    if (this.closed) throw new Error('frame decoder thread used after close');
    if (this.running) throw new Error('frame decoder thread is already decoding an input');
    const signal = options.signal;
    if (signal?.aborted) throw abortError(input);
    this.running = true;
    try {
      // Probed here rather than in the worker: a still JPEG/PNG/WebP file is then decoded on this
      // thread by decodeFrames with sharp (in sharp's own thread pool; sharp is not loaded into
      // worker threads), and no worker thread is started for it.
      const info = options.info ?? (await probeMedia(input, { allowLive: options.allowLive, signal, ffprobe: options.ffprobe, stillDecoder: options.stillDecoder }));
      if (info.decoder === 'sharp') {
        yield* decodeFrames(input, { ...options, info });
        return;
      }
      // Asked here, where the answer is cached for the process, not in each worker.
      const ffmpeg = options.ffmpeg ?? resolveFfmpeg();
      const features = options.features ?? (await ffmpegFeatures(ffmpeg));
      const job: WorkerInput = {
        input,
        info,
        allowLive: options.allowLive,
        tolerateCorruption: options.tolerateCorruption,
        decoderThreads: options.decoderThreads,
        ffmpeg,
        ffprobe: options.ffprobe,
        features,
      };
      yield* this.run(job, options);
    } finally {
      this.running = false;
    }
  }

  private async *run(job: WorkerInput, options: Omit<DecodeInWorkerOptions, 'thread'>): AsyncGenerator<VideoFrame, void, undefined> {
    const input = job.input;
    const signal = options.signal;
    const worker = this.worker ?? this.spawn();
    const id = this.nextJob++;
    const queue: FromWorker[] = [];
    let wake: (() => void) | null = null;
    let crashed: Error | null = null;
    let exited = false;
    const notify = (): void => {
      wake?.();
      wake = null;
    };
    const onMessage = (m: FromWorker): void => {
      if (m.job !== id) return;
      queue.push(m);
      notify();
    };
    const onError = (err: Error): void => {
      crashed = err;
      notify();
    };
    const onExit = (): void => {
      exited = true;
      crashed ??= new Error('the thread stopped');
      notify();
    };
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.ref();
    const onAbort = (): void => worker.postMessage({ type: 'stop', job: id } satisfies ToWorker);
    signal?.addEventListener('abort', onAbort, { once: true });
    const next = async (): Promise<FromWorker> => {
      for (;;) {
        const m = queue.shift();
        if (m !== undefined) return m;
        if (crashed !== null) throw new MediaError('DECODE_FAILED', input, `decoder thread failed: ${(crashed as Error).message}`);
        await new Promise<void>((resolve) => (wake = resolve));
      }
    };
    let finished = false;
    try {
      worker.postMessage({ type: 'job', job: id, input: job } satisfies ToWorker);
      for (;;) {
        const m = await next();
        if (m.type === 'frame') {
          yield { index: m.index, t: m.t, width: m.width, height: m.height, data: m.data };
          if (options.reuseBuffers) worker.postMessage({ type: 'ack', job: id, data: m.data } satisfies ToWorker, [m.data.buffer as ArrayBuffer]);
          else worker.postMessage({ type: 'ack', job: id } satisfies ToWorker);
        } else if (m.type === 'started') {
          options.onStart?.(m.started);
        } else if (m.type === 'warning') {
          options.onWarning?.(m.message);
        } else if (m.type === 'end') {
          finished = true;
          if (signal?.aborted) throw abortError(input);
          return;
        } else {
          finished = true;
          // The worker's message already names the input.
          throw new MediaError(m.code ?? 'DECODE_FAILED', null, m.message);
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      // ffmpeg is stopped and awaited by the worker before it says the job ended.
      if (!finished && !exited) {
        worker.postMessage({ type: 'stop', job: id } satisfies ToWorker);
        try {
          for (;;) {
            const m = await next();
            if (m.type === 'end' || m.type === 'error') break;
          }
        } catch {
          /* the thread died: its ffmpeg went with the stop or the crash */
        }
      }
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      worker.unref();
    }
  }

  /**
   * Hands a frame's memory back for the decoder to fill again (frames of any input of this thread;
   * a buffer of another size is dropped). The caller gives it up: it is moved to the thread.
   */
  recycle(data: Uint8Array): void {
    const worker = this.worker;
    if (worker === null || data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength || data.byteLength === 0) return;
    worker.postMessage({ type: 'recycle', data } satisfies ToWorker, [data.buffer as ArrayBuffer]);
  }

  /** Stops the thread (an input being decoded is stopped first). */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (worker === null) return;
    this.worker = null;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref(); // else the process may end before the thread is seen to stop
    worker.postMessage({ type: 'close' } satisfies ToWorker);
    await exited;
  }
}

/**
 * The same frames as decodeFrames, decoded in a worker thread. The consumer may keep a frame's data
 * (each frame has its own memory), unless reuseBuffers is set: then a frame's memory goes back to
 * the worker when the next frame is asked for. Ending the loop early, throwing in it or aborting stops ffmpeg
 * before the loop statement ends (and the thread, unless it is a kept FrameDecoderThread).
 */
export async function* decodeFramesInWorker(input: string, options: DecodeInWorkerOptions = {}): AsyncGenerator<VideoFrame, void, undefined> {
  if (options.thread !== undefined) {
    yield* options.thread.decode(input, options);
    return;
  }
  // The thread starts only once the probe says the input needs ffmpeg: a still image that sharp
  // decodes is decoded on this thread and starts none.
  const thread = new FrameDecoderThread();
  try {
    yield* thread.decode(input, options);
  } finally {
    await thread.close();
  }
}
