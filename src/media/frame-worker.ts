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
import { decodeFrames, ffmpegFeatures, type DecodeFramesOptions, type DecoderStarted, type FfmpegFeatures } from './frames';
import { abortError, BufferPool } from './process';
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

/** A consumed frame; its memory comes back when the consumer let the buffers be reused. */
type ToWorker = { type: 'ack'; data?: Uint8Array } | { type: 'stop' };
type FromWorker =
  | { type: 'started'; started: DecoderStarted }
  | { type: 'warning'; message: string }
  | { type: 'frame'; index: number; t: number; width: number; height: number; data: Uint8Array }
  | { type: 'end' }
  | { type: 'error'; message: string; code?: MediaErrorCode };

async function workerMain(port: NonNullable<typeof parentPort>, job: WorkerInput): Promise<void> {
  const stop = new AbortController();
  let outstanding = 0;
  let wake: (() => void) | null = null;
  const pool = new BufferPool();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'ack') {
      outstanding--;
      if (m.data) pool.put(m.data);
    } else stop.abort();
    wake?.();
    wake = null;
  });
  try {
    const frames = decodeFrames(job.input, {
      info: job.info,
      allowLive: job.allowLive,
      tolerateCorruption: job.tolerateCorruption,
      decoderThreads: job.decoderThreads,
      ffmpeg: job.ffmpeg,
      ffprobe: job.ffprobe,
      features: job.features,
      signal: stop.signal,
      bufferPool: pool,
      onStart: (started) => port.postMessage({ type: 'started', started } satisfies FromWorker),
      onWarning: (message) => port.postMessage({ type: 'warning', message } satisfies FromWorker),
    });
    for await (const frame of frames) {
      const data = frame.data;
      // A frame that is a view into a larger chunk is copied so only its own bytes move.
      const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : Uint8Array.from(data);
      port.postMessage({ type: 'frame', index: frame.index, t: frame.t, width: frame.width, height: frame.height, data: own } satisfies FromWorker, [
        own.buffer as ArrayBuffer,
      ]);
      outstanding++;
      while (outstanding >= WORKER_LOOKAHEAD && !stop.signal.aborted) await new Promise<void>((resolve) => (wake = resolve));
      if (stop.signal.aborted) break;
    }
    port.postMessage({ type: 'end' } satisfies FromWorker);
  } catch (err) {
    if (stop.signal.aborted) {
      port.postMessage({ type: 'end' } satisfies FromWorker);
    } else {
      const message = err instanceof Error ? err.message : String(err);
      port.postMessage({ type: 'error', message, code: err instanceof MediaError ? err.code : undefined } satisfies FromWorker);
    }
  }
  port.close();
}

if (!isMainThread && parentPort !== null && (workerData as { frameWorker?: boolean } | null)?.frameWorker === true) {
  void workerMain(parentPort, (workerData as { job: WorkerInput }).job);
}

/**
 * The same frames as decodeFrames, decoded in a worker thread. The consumer may keep a frame's data
 * (each frame has its own memory), unless reuseBuffers is set: then a frame's memory goes back to
 * the worker when the next frame is asked for. Ending the loop early, throwing in it or aborting stops ffmpeg
 * and the worker before the loop statement ends.
 */
export async function* decodeFramesInWorker(
  input: string,
  options: Omit<DecodeFramesOptions, 'bufferPool'> = {},
): AsyncGenerator<VideoFrame, void, undefined> {
  const signal = options.signal;
  if (signal?.aborted) throw abortError(input);
  // Asked here, where the answer is cached for the process, not in each new worker.
  const ffmpeg = options.ffmpeg ?? resolveFfmpeg();
  const features = options.features ?? (await ffmpegFeatures(ffmpeg));
  const job: WorkerInput = {
    input,
    info: options.info,
    allowLive: options.allowLive,
    tolerateCorruption: options.tolerateCorruption,
    decoderThreads: options.decoderThreads,
    ffmpeg,
    ffprobe: options.ffprobe,
    features,
  };
  const worker = new Worker(path.join(__dirname, 'frame-worker.js'), { workerData: { frameWorker: true, job } });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const queue: FromWorker[] = [];
  let wake: (() => void) | null = null;
  let crashed: Error | null = null;
  const notify = (): void => {
    wake?.();
    wake = null;
  };
  worker.on('message', (m: FromWorker) => {
    queue.push(m);
    notify();
  });
  worker.once('error', (err) => {
    crashed = err;
    notify();
  });
  void exited.then(notify);
  const onAbort = (): void => worker.postMessage({ type: 'stop' } satisfies ToWorker);
  signal?.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    for (;;) {
      const m = queue.shift();
      if (m === undefined) {
        if (crashed !== null) throw new MediaError('DECODE_FAILED', input, `decoder thread failed: ${(crashed as Error).message}`);
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      if (m.type === 'frame') {
        yield { index: m.index, t: m.t, width: m.width, height: m.height, data: m.data };
        if (options.reuseBuffers) worker.postMessage({ type: 'ack', data: m.data } satisfies ToWorker, [m.data.buffer as ArrayBuffer]);
        else worker.postMessage({ type: 'ack' } satisfies ToWorker);
      } else if (m.type === 'started') {
        options.onStart?.(m.started);
      } else if (m.type === 'warning') {
        options.onWarning?.(m.message);
      } else if (m.type === 'end') {
        if (signal?.aborted) throw abortError(input);
        finished = true;
        return;
      } else {
        // The worker's message already names the input.
        throw new MediaError(m.code ?? 'DECODE_FAILED', null, m.message);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) worker.postMessage({ type: 'stop' } satisfies ToWorker);
    await exited;
  }
}
