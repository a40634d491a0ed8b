/**
 * Voice activity: Silero VAD v5 (ONNX, models/silero-vad-v5.onnx) over 16 kHz mono audio, and the
 * mapping of its per-window speech probabilities onto video frames.
 *
 * The model's contract (read from the ONNX graph and from silero-vad's own `OnnxWrapper`, which the
 * npm package @ricky0123/vad-web follows too):
 *  - inputs `input` float32 [batch, 64 + 512]: a window of 512 new samples (32 ms at 16 kHz) with
 *    the last 64 samples before it prepended as context (zeros before the first window);
 *    `state` float32 [2, batch, 128]: the recurrent state, zeros at the start of a stream;
 *    `sr` int64 scalar: the sample rate, 16000 (the graph branches on sr == 16000; the 8 kHz branch
 *    would need 256 + 32 samples);
 *  - outputs `output` float32 [batch, 1]: the speech probability of the window; `stateN`: the state
 *    to feed with the next window.
 * A stream is therefore run window by window (batch 1; a larger batch is for independent streams,
 * not for consecutive windows). The recurrent state and the 64-sample context are carried across
 * calls to `process`, and samples that do not fill a window are held for the next call, so any
 * chunking of a stream gives the same probabilities as one call with the whole of it.
 *
 * Window w covers samples [512·w, 512·(w+1)) of the stream, i.e. [w·0.032, (w+1)·0.032) s on the
 * clock of decodeAudio (sample n at n/16000 s, the video frames' clock). `flush()` zero-pads a last
 * partial window, as silero-vad's get_speech_timestamps does.
 *
 * Frames. A video frame f spans [f/fps, (f+1)/fps); its speech probability is the MAXIMUM over the
 * windows that overlap that span (1 to 3 windows at 25–30 fps). Max rather than mean so that a frame
 * touched by speech counts as speech: a short onset or offset inside a frame is not averaged away,
 * and gating the acoustic model with it errs towards keeping a vote. `reduce: 'mean'` is available.
 * A frame is "speech" when that probability is >= DEFAULT_SPEECH_THRESHOLD = 0.5 (silero-vad's own
 * default threshold; no hysteresis or minimum durations are applied). Frames after the last window
 * (audio shorter than the video) get probability 0.
 */
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { AUDIO_SAMPLE_RATE } from '../media/audio';
import type { FrameRate } from '../media/types';
import { ModelError } from '../models/errors';
import { DEFAULT_MODELS_DIR, loadManifest, type JsonObject, type LoadedManifest } from '../models/manifest';
import { acquireSession, type ModelSession, type SessionOptions } from '../models/session';
import { DEFAULT_SPEECH_THRESHOLD } from '../defaults';

/** The bundled Silero VAD v5 manifest. */
export const DEFAULT_VAD_MANIFEST = path.join(DEFAULT_MODELS_DIR, 'silero-vad-v5.json');
/** Silero v5 at 16 kHz: new samples per window, and samples of context prepended to each. */
export const VAD_WINDOW_SAMPLES = 512;
export const VAD_CONTEXT_SAMPLES = 64;
/**
 * Session options used when none are given: one thread, since the model is tiny (a window costs
 * well under a millisecond) and runs beside heavier stages.
 */
export const DEFAULT_VAD_SESSION_OPTIONS: SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1 };

/** The model-specific settings of a voice-activity manifest (its `extra`), validated. */
export interface SileroSettings {
  readonly sampleRate: number;
  readonly windowSamples: number;
  readonly contextSamples: number;
  /** Name and shape of the recurrent state input, and the output that returns it. */
  readonly stateInput: string;
  readonly stateShape: readonly number[];
  readonly stateOutput: string;
  /** Name of the int64 scalar sample-rate input. */
  readonly sampleRateInput: string;
  readonly speechThreshold: number;
}

function extraNumber(extra: JsonObject, key: string, label: string, fallback?: number): number {
  const v = extra[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelError(`${label}: extra.${key} must be a number (got ${JSON.stringify(v)})`);
  return v;
}

function extraString(extra: JsonObject, key: string, label: string): string {
  const v = extra[key];
  if (typeof v !== 'string' || v === '') throw new ModelError(`${label}: extra.${key} must be a non-empty string (got ${JSON.stringify(v)})`);
  return v;
}

/** Reads and checks the Silero settings of a manifest (task voice-activity). */
export function sileroSettings(manifest: LoadedManifest): SileroSettings {
  const label = manifest.label;
  if (manifest.task !== 'voice-activity') throw new ModelError(`${label}: task is ${manifest.task}, not voice-activity`);
  const extra = manifest.extra ?? {};
  const sampleRate = extraNumber(extra, 'sampleRate', label);
  if (sampleRate !== AUDIO_SAMPLE_RATE) throw new ModelError(`${label}: extra.sampleRate must be ${AUDIO_SAMPLE_RATE} (the audio decoder's rate), got ${sampleRate}`);
  const windowSamples = extraNumber(extra, 'windowSamples', label);
  const contextSamples = extraNumber(extra, 'contextSamples', label);
  if (!Number.isInteger(windowSamples) || windowSamples <= 0) throw new ModelError(`${label}: extra.windowSamples must be a positive integer`);
  if (!Number.isInteger(contextSamples) || contextSamples < 0 || contextSamples > windowSamples) {
    throw new ModelError(`${label}: extra.contextSamples must be an integer in 0..windowSamples`);
  }
  const rawShape = extra.stateShape;
  if (!Array.isArray(rawShape) || rawShape.length === 0 || !rawShape.every((d) => typeof d === 'number' && Number.isInteger(d) && d > 0)) {
    throw new ModelError(`${label}: extra.stateShape must be an array of positive integers (got ${JSON.stringify(rawShape)})`);
  }
  const speechThreshold = extraNumber(extra, 'speechThreshold', label, DEFAULT_SPEECH_THRESHOLD);
  if (!(speechThreshold > 0 && speechThreshold < 1)) throw new ModelError(`${label}: extra.speechThreshold must lie between 0 and 1`);
  const inputWidth = manifest.input.shape[1];
  if (manifest.input.layout !== 'NT' || (inputWidth !== -1 && inputWidth !== windowSamples + contextSamples)) {
    throw new ModelError(`${label}: input must be layout NT with ${windowSamples + contextSamples} samples (window + context)`);
  }
  return {
    sampleRate,
    windowSamples,
    contextSamples,
    stateInput: extraString(extra, 'stateInput', label),
    stateShape: rawShape as number[],
    stateOutput: manifest.outputs.state ?? extraString(extra, 'stateOutput', label),
    sampleRateInput: extraString(extra, 'sampleRateInput', label),
    speechThreshold,
  };
}

/**
 * Silero VAD over one audio stream. Calls are queued, so `process` may be called again before the
 * previous call has finished; results come back in order.
 */
export class SileroVAD {
  readonly settings: SileroSettings;
  /** The manifest's speech threshold (DEFAULT_SPEECH_THRESHOLD unless the manifest says otherwise). */
  readonly threshold: number;
  private readonly inputName: string;
  private readonly outputName: string;
  private readonly windowInput: Float32Array;
  private readonly stateSize: number;
  private state: Float32Array;
  private readonly pending: Float32Array;
  private pendingLength = 0;
  private windows = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly srTensor: ort.Tensor;
  private released = false;

  private constructor(
    private readonly handle: ModelSession,
    readonly manifest: LoadedManifest,
  ) {
    this.settings = sileroSettings(manifest);
    this.threshold = this.settings.speechThreshold;
    this.inputName = manifest.input.name;
    this.outputName = manifest.outputs.scores;
    const s = this.settings;
    const session = handle.session;
    for (const name of [this.inputName, s.stateInput, s.sampleRateInput]) {
      if (!session.inputNames.includes(name)) throw new ModelError(`${manifest.label}: the model has no input ${name} (it has ${session.inputNames.join(', ')})`);
    }
    for (const name of [this.outputName, s.stateOutput]) {
      if (!session.outputNames.includes(name)) throw new ModelError(`${manifest.label}: the model has no output ${name} (it has ${session.outputNames.join(', ')})`);
    }
    this.windowInput = new Float32Array(s.contextSamples + s.windowSamples);
    this.stateSize = s.stateShape.reduce((a, b) => a * b, 1);
    this.state = new Float32Array(this.stateSize);
    this.pending = new Float32Array(s.windowSamples);
    this.srTensor = new ort.Tensor('int64', BigInt64Array.from([BigInt(s.sampleRate)]), []);
  }

  /** Loads the model (the bundled Silero VAD v5 by default) through the shared session cache. */
  static async load(manifest: LoadedManifest | string = DEFAULT_VAD_MANIFEST, sessionOptions: SessionOptions = DEFAULT_VAD_SESSION_OPTIONS): Promise<SileroVAD> {
    const loaded = typeof manifest === 'string' ? await loadManifest(manifest) : manifest;
    sileroSettings(loaded);
    const handle = await acquireSession(loaded, sessionOptions);
    try {
      return new SileroVAD(handle, loaded);
    } catch (err) {
      await handle.release();
      throw err;
    }
  }

  /** Samples per window (512). */
  get windowSamples(): number {
    return this.settings.windowSamples;
  }

  /** Seconds per window (0.032). */
  get windowSeconds(): number {
    return this.settings.windowSamples / this.settings.sampleRate;
  }

  /** Windows evaluated since the last reset. */
  get windowsDone(): number {
    return this.windows;
  }

  /** Samples held towards the next window. */
  get pendingSamples(): number {
    return this.pendingLength;
  }

  /**
   * Takes the next samples of the stream; returns the speech probability of every window they
   * complete (possibly none), in order.
   */
  process(samples: Float32Array): Promise<Float32Array> {
    return this.enqueue(() => this.processNow(samples, false));
  }

  /** Evaluates the held partial window, zero-padded (no value when nothing is held). */
  flush(): Promise<Float32Array> {
    return this.enqueue(() => this.processNow(new Float32Array(0), true));
  }

  /** Starts a new stream: zero state and context, nothing held. Waits for calls in flight. */
  async reset(): Promise<void> {
    await this.enqueue(async () => {
      this.state = new Float32Array(this.stateSize);
      this.windowInput.fill(0);
      this.pendingLength = 0;
      this.windows = 0;
    });
  }

  /** Gives the session back (after calls in flight). Further calls fail. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.queue.catch(() => undefined);
    await this.handle.release();
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    if (this.released) return Promise.reject(new ModelError(`${this.manifest.label}: voice activity detector used after release`));
    const next = this.queue.then(task, task);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async processNow(samples: Float32Array, flush: boolean): Promise<Float32Array> {
    const size = this.settings.windowSamples;
    const total = this.pendingLength + samples.length;
    const count = Math.floor(total / size) + (flush && total % size !== 0 ? 1 : 0);
    const out = new Float32Array(count);
    let offset = 0;
    for (let w = 0; w < count; w++) {
      const take = Math.min(size - this.pendingLength, samples.length - offset);
      this.pending.set(samples.subarray(offset, offset + take), this.pendingLength);
      this.pendingLength += take;
      offset += take;
      if (this.pendingLength < size) this.pending.fill(0, this.pendingLength); // flush: zero padding
      out[w] = await this.runWindow(this.pending);
      this.pendingLength = 0;
    }
    const rest = samples.length - offset;
    if (rest > 0) {
      this.pending.set(samples.subarray(offset), this.pendingLength);
      this.pendingLength += rest;
    }
    return out;
  }

  /** One window: context + window in, probability out; state and context carried. */
  private async runWindow(window: Float32Array): Promise<number> {
    const { contextSamples, stateInput, stateOutput, sampleRateInput, stateShape } = this.settings;
    const input = this.windowInput;
    input.set(window, contextSamples);
    const feeds: Record<string, ort.Tensor> = {
      [this.inputName]: new ort.Tensor('float32', input, [1, input.length]),
      [stateInput]: new ort.Tensor('float32', this.state, [...stateShape]),
      [sampleRateInput]: this.srTensor,
    };
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      // All outputs are fetched: onnxruntime-node 1.23.2 mislabels results for a subset of names.
      results = await this.handle.session.run(feeds);
    } catch (err) {
      throw new ModelError(`${this.manifest.label}: inference failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const prob = results[this.outputName];
    const state = results[stateOutput];
    if (!(prob?.data instanceof Float32Array) || prob.data.length < 1 || !(state?.data instanceof Float32Array) || state.data.length !== this.stateSize) {
      throw new ModelError(`${this.manifest.label}: unexpected outputs (${this.outputName} and ${stateOutput} must be float32, the state ${this.stateSize} values)`);
    }
    this.state = Float32Array.from(state.data);
    // The next window's context: the last samples of this one.
    input.copyWithin(0, input.length - contextSamples);
    this.windows++;
    return prob.data[0];
  }
}

/** How overlapping windows combine into a frame's speech probability. */
export type SpeechReduce = 'max' | 'mean';

export interface FrameSpeechOptions {
  /** 'max' (default) or 'mean' of the windows overlapping the frame. */
  readonly reduce?: SpeechReduce;
  /** Probability at or above which a frame is speech (default 0.5). */
  readonly threshold?: number;
  /** Samples per VAD window (default 512) and sample rate (default 16000). */
  readonly windowSamples?: number;
  readonly sampleRate?: number;
}

interface Rational {
  readonly num: number;
  readonly den: number;
}

function toRational(fps: number | FrameRate): Rational {
  const rate = typeof fps === 'number' ? { num: fps, den: 1 } : fps;
  if (!(rate.num > 0 && rate.den > 0 && Number.isFinite(rate.num / rate.den))) throw new RangeError(`fps must be positive, got ${JSON.stringify(fps)}`);
  return rate;
}

/**
 * Per-frame speech from a stream of VAD window probabilities, as they arrive. Frame f is known
 * ("final") once every window overlapping [f/fps, (f+1)/fps) has been added, or after end().
 * Give the frame rate as a FrameRate (e.g. 30000/1001) for exact frame boundaries.
 */
export class FrameSpeech {
  readonly reduce: SpeechReduce;
  readonly threshold: number;
  private readonly rate: Rational;
  private readonly windowSamples: number;
  private readonly sampleRate: number;
  private probs = new Float32Array(1024);
  private count = 0;
  private ended = false;

  constructor(fps: number | FrameRate, options: FrameSpeechOptions = {}) {
    this.rate = toRational(fps);
    this.reduce = options.reduce ?? 'max';
    this.threshold = options.threshold ?? DEFAULT_SPEECH_THRESHOLD;
    this.windowSamples = options.windowSamples ?? VAD_WINDOW_SAMPLES;
    this.sampleRate = options.sampleRate ?? AUDIO_SAMPLE_RATE;
  }

  /** Appends the probabilities of the next windows, in stream order. */
  addWindows(probs: ArrayLike<number>): void {
    if (this.ended) throw new Error('FrameSpeech: windows added after end()');
    if (this.count + probs.length > this.probs.length) {
      const grown = new Float32Array(Math.max(this.probs.length * 2, this.count + probs.length));
      grown.set(this.probs.subarray(0, this.count));
      this.probs = grown;
    }
    for (let i = 0; i < probs.length; i++) this.probs[this.count++] = probs[i];
  }

  /** No more windows: every frame is final; frames after the last window have probability 0. */
  end(): void {
    this.ended = true;
  }

  /** Windows added so far. */
  get windows(): number {
    return this.count;
  }

  /** Frames 0 … finalFrames-1 are known (Infinity after end()). */
  get finalFrames(): number {
    if (this.ended) return Number.POSITIVE_INFINITY;
    // Frame f is final when (f+1)/fps <= windows·512/16000.
    return Math.floor((this.count * this.windowSamples * this.rate.num) / (this.sampleRate * this.rate.den) + 1e-9);
  }

  /** The indices [first, last] of the windows overlapping frame f (last < first when none exist yet). */
  windowsOfFrame(f: number): [number, number] {
    const startSample = (f * this.sampleRate * this.rate.den) / this.rate.num;
    const endSample = ((f + 1) * this.sampleRate * this.rate.den) / this.rate.num;
    const first = Math.floor(startSample / this.windowSamples);
    const last = Math.ceil(endSample / this.windowSamples) - 1;
    return [first, last];
  }

  /** Frame f's speech probability; null while it is not final. */
  probability(f: number): number | null {
    if (!Number.isInteger(f) || f < 0) throw new RangeError(`frame index must be a whole number >= 0, got ${f}`);
    if (f >= this.finalFrames) return null;
    const [first, lastWanted] = this.windowsOfFrame(f);
    const last = Math.min(lastWanted, this.count - 1);
    if (last < first) return 0;
    let max = 0;
    let sum = 0;
    for (let w = first; w <= last; w++) {
      const p = this.probs[w];
      if (p > max) max = p;
      sum += p;
    }
    return this.reduce === 'max' ? max : sum / (last - first + 1);
  }

  /** Whether frame f is speech (probability >= threshold); null while it is not final. */
  isSpeech(f: number): boolean | null {
    const p = this.probability(f);
    return p === null ? null : p >= this.threshold;
  }

  /**
   * A gate for the acoustic stage: true for speech frames. Asking about a frame that is not final
   * yet is an error (feed each audio chunk to the VAD before the acoustic stage).
   */
  gate(): (frame: number) => boolean {
    return (frame: number): boolean => {
      const speech = this.isSpeech(frame);
      if (speech === null) throw new Error(`voice activity for frame ${frame} is not known yet (${this.count} VAD windows so far): feed the VAD first`);
      return speech;
    };
  }

  /**
   * The acoustic stage's `skip` to go with gate(): true when frames first…last are all final and
   * none is speech, so that a window covering only them need not run.
   */
  skip(): (first: number, last: number) => boolean {
    return (first: number, last: number): boolean => {
      if (last >= this.finalFrames) return false;
      for (let f = first; f <= last; f++) if (this.isSpeech(f) === true) return false;
      return true;
    };
  }

  /** The acoustic stage's gating options: gate() and the skip() that agrees with it. */
  gating(): { gate: (frame: number) => boolean; skip: (first: number, last: number) => boolean } {
    return { gate: this.gate(), skip: this.skip() };
  }
}

/** Speech probabilities of frames 0 … frameCount-1 from all window probabilities of a stream. */
export function frameSpeechProbabilities(windowProbs: ArrayLike<number>, fps: number | FrameRate, frameCount: number, options: FrameSpeechOptions = {}): Float32Array {
  const speech = new FrameSpeech(fps, options);
  speech.addWindows(windowProbs);
  speech.end();
  const out = new Float32Array(frameCount);
  for (let f = 0; f < frameCount; f++) out[f] = speech.probability(f) ?? 0;
  return out;
}
