/**
 * When each part of an analysis runs: decoding and its frame clock, the mouth-open cue's rate, the
 * visual steps held back for VS batches, and the results that wait for the audio side (A lags the
 * frames by its 4 s windows). analyze.ts says what a frame's work and result are; this module
 * decides when they run and in which order the results leave.
 */
import type { FrameDecoderThread } from '../media/frame-worker';
import { decodeFramesInWorker } from '../media/frame-worker';
import { frameRateValue, type MediaInfo, type VideoFrame } from '../media/types';
import type { MouthOpenCue } from '../stages/mouth';
import type { TrackedFace } from '../vision/types';
import { AUDIO_ONLY_FPS, MAX_PENDING_SECONDS, MOUTH_CUE_RATE } from '../defaults';

/** The frame rate results are timed by: the input's own, 25 for a video that gives none, AUDIO_ONLY_FPS without video. */
export function resultFps(info: MediaInfo): number {
  const rate = info.frameRate;
  return rate ? frameRateValue(rate) : info.hasVideo ? 25 : AUDIO_ONLY_FPS;
}

/** Progress after each frame: frames done, and the expected count when the container says. */
export type ScheduleProgress = (frame: number, frames: number | null) => void;

/**
 * The mouth-open cue at its rate: measured on every `every`th frame of each track, the last value
 * held in between (the cue costs as much as face detection).
 */
export class MouthCueSchedule {
  private readonly held = new Map<number, Promise<number>>();
  readonly every: number;

  constructor(
    private readonly cue: MouthOpenCue | null,
    fps: number,
    every?: number,
  ) {
    this.every = every ?? Math.max(1, Math.round(fps / MOUTH_CUE_RATE));
  }

  /** The face's mouth opening on this frame (the crop is cut now), or null without a cue model. */
  measure(frame: VideoFrame, face: TrackedFace): Promise<number | null> {
    if (this.cue === null) return Promise.resolve(null);
    const held = this.held.get(face.track);
    if (held !== undefined && frame.index % this.every !== 0) return held;
    const gap = this.cue.measure(frame, face.box).then((m) => m.gap);
    this.held.set(face.track, gap);
    return gap;
  }
}

/** The rest of a frame's work, run after later frames have begun; it hands each result it starts to `emit`, in order. */
export type FrameStep<R> = (emit: (result: Promise<R>) => void) => Promise<void>;

export interface FrameScheduleOptions {
  /** The frame rate results are timed by (resultFps). */
  readonly fps: number;
  /** VS crops per model call: up to two batches of frames wait for their step (one frame without batches). */
  readonly vsBatch: number;
  readonly signal?: AbortSignal;
  readonly allowLive?: boolean;
  /** The decoder thread to use (a fresh one when undefined). */
  readonly thread?: FrameDecoderThread;
  readonly onProgress?: ScheduleProgress;
}

/**
 * Decodes `input` and begins each frame's work in order (`begin` must take what it needs from the
 * frame's pixels before it resolves: the decoder reuses their memory for the next frame). The
 * steps it returns run once later frames have begun, so that the next frame's faces are detected
 * while VS works. Results leave in frame order as they are done, a frame's at the earliest after
 * the next frame has begun (its mouth cue overlaps the next frame's models), and at most
 * MAX_PENDING_SECONDS of them wait for the audio side.
 */
export async function* scheduleFrames<R>(
  input: string,
  info: MediaInfo,
  begin: (frame: VideoFrame) => Promise<FrameStep<R>>,
  options: FrameScheduleOptions,
): AsyncGenerator<R, void, undefined> {
  const inFlight: Array<{ readonly result: Promise<R>; settled: boolean }> = [];
  const maxPending = Math.max(2, Math.ceil(MAX_PENDING_SECONDS * options.fps));
  const track = (result: Promise<R>): void => {
    const entry = { result, settled: false };
    // Observed at once, so that a failure is not an unhandled rejection before its turn comes.
    result.then(
      () => (entry.settled = true),
      () => (entry.settled = true),
    );
    inFlight.push(entry);
  };
  const steps: Array<FrameStep<R>> = [];
  const maxSteps = options.vsBatch === 1 ? 1 : 2 * options.vsBatch;
  for await (const frame of decodeFramesInWorker(input, {
    info,
    signal: options.signal,
    allowLive: options.allowLive,
    reuseBuffers: true,
    thread: options.thread,
  })) {
    const step = await begin(frame);
    while (steps.length >= maxSteps) await (steps.shift() as FrameStep<R>)(track);
    steps.push(step);
    while (inFlight.length > 1 && (inFlight[0].settled || inFlight.length > maxPending)) yield await (inFlight.shift() as (typeof inFlight)[number]).result;
    options.onProgress?.(frame.index + 1, info.frameCount);
  }
  while (steps.length > 0) await (steps.shift() as FrameStep<R>)(track);
  while (inFlight.length > 0) yield await (inFlight.shift() as (typeof inFlight)[number]).result;
}

/** An input without video: one result per 1/AUDIO_ONLY_FPS s of its duration, in order. */
export async function* scheduleAudioOnly<R>(
  info: MediaInfo,
  resultAt: (index: number, t: number) => Promise<R>,
  onProgress?: ScheduleProgress,
): AsyncGenerator<R, void, undefined> {
  const n = Math.ceil((info.duration ?? 0) * AUDIO_ONLY_FPS);
  for (let index = 0; index < n; index++) {
    yield await resultAt(index, index / AUDIO_ONLY_FPS);
    onProgress?.(index + 1, n);
  }
}
