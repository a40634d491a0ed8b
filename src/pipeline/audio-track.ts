/**
 * The audio side of one input, run alongside the frames: decode 16 kHz mono, voice activity per
 * frame, and the acoustic stage A (windows → frames). The frame loop asks `waitFor(f)` before it
 * fuses frame f, so A's 4 s windows never hold the video back for longer than they must.
 */
import { decodeAudio, isNoAudioError } from '../media/audio';
import type { FrameRate, MediaInfo } from '../media/types';
import type { SessionOptions } from '../models/session';
import { AcousticStage, DisabledAcousticStage, type AcousticModel, type AcousticSource } from '../stages/acoustic';
import { FrameSpeech, type SileroVAD } from '../stages/vad';

export interface AudioTrackOptions {
  readonly vad: SileroVAD | null;
  /** The acoustic model, held by the caller across inputs (null: none configured). */
  readonly acoustic: AcousticModel | null;
  /** Frames outside speech get no A vote (the default with an acoustic model; off in referenceCompat). */
  readonly gate: boolean;
  readonly referenceCompat: boolean;
  readonly session?: SessionOptions;
  readonly allowLive?: boolean;
  readonly signal?: AbortSignal;
}

export class AudioTrack {
  private finished = false;
  private failure: unknown = null;
  private waiters: Array<() => void> = [];
  private readonly stop = new AbortController();
  private task: Promise<void> = Promise.resolve();

  private constructor(
    /** False when the input has no audio stream: speech and A are null on every frame. */
    readonly hasAudio: boolean,
    private readonly speech: FrameSpeech | null,
    private readonly acoustic: AcousticSource,
  ) {}

  static async start(input: string, info: MediaInfo, rate: FrameRate, options: AudioTrackOptions): Promise<AudioTrack> {
    // Without audio, or with nothing to do with it (no VAD, no acoustic model), nothing is decoded.
    if (!info.hasAudio || (options.vad === null && options.acoustic === null)) {
      const silent = new AudioTrack(false, null, new DisabledAcousticStage());
      silent.finished = true;
      return silent;
    }
    const speech = options.vad ? new FrameSpeech(rate) : null;
    const acoustic =
      options.acoustic === null
        ? new DisabledAcousticStage()
        : AcousticStage.fromModel(
            options.acoustic,
            { fps: rate, referenceCompat: options.referenceCompat, ...(options.gate && speech ? speech.gating() : {}) },
          );
    const track = new AudioTrack(true, speech, acoustic);
    track.task = track.run(input, info, options);
    return track;
  }

  /** What A is: the model in use, or "no acoustic model configured". */
  get acousticStatus(): string {
    return this.acoustic.status;
  }

  private async run(input: string, info: MediaInfo, options: AudioTrackOptions): Promise<void> {
    const signal = options.signal ? AbortSignal.any([options.signal, this.stop.signal]) : this.stop.signal;
    try {
      options.vad?.reset();
      for await (const chunk of decodeAudio(input, { info, signal, allowLive: options.allowLive })) {
        if (options.vad && this.speech) this.speech.addWindows(await options.vad.process(chunk.samples));
        await this.acoustic.push(chunk);
        this.notify();
      }
      if (options.vad && this.speech) this.speech.addWindows(await options.vad.flush());
      this.speech?.end();
      await this.acoustic.end();
    } catch (err) {
      // An input whose audio cannot be had has no audio votes; anything else is the input's error.
      if (!isNoAudioError(err) && !this.stop.signal.aborted) this.failure = err;
    } finally {
      this.finished = true;
      this.notify();
    }
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Resolves once speech and A of frame f are known (or the audio has ended). */
  async waitFor(f: number): Promise<void> {
    for (;;) {
      if (this.failure !== null) throw this.failure;
      if (this.finished) return;
      const speechReady = this.speech === null || this.speech.finalFrames > f;
      if (speechReady && this.acoustic.finalFrames > f) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Voice-activity probability of frame f, or null (no audio, or past its end). */
  speechOf(f: number): number | null {
    return this.speech?.probability(f) ?? null;
  }

  /** A's canonical probabilities for frame f, or null (no model, no audio, or gated out). */
  acousticOf(f: number): Float64Array | null {
    return this.hasAudio ? this.acoustic.frame(f) : null;
  }

  /** Stops decoding (if still running) and releases the acoustic model. */
  async close(): Promise<void> {
    this.stop.abort();
    await this.task;
    await this.acoustic.release();
  }
}
