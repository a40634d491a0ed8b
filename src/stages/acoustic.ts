/**
 * The acoustic (A) stage (docs/method.md §7), streaming: 16 kHz mono audio chunks in,
 * one 7-class canonical probability vector per video frame out.
 *
 * Windows. Window k covers samples [8000·k, 8000·k + 64000): 4 s starting every 0.5 s from 0, for
 * every k whose start lies before the end of the audio. A window is run as soon as its 4 s of audio
 * have arrived; the windows that reach past the end of the audio (up to 8 of them) are run by end(),
 * each padded to 4 s with the mean of its own samples. (The reference also starts a window exactly
 * at the end when the length is a multiple of 0.5 s; it is empty, its NaN logits are skipped by the
 * reference's per-frame mean, so leaving it out changes nothing.)
 *
 * Normalisation (wav2vec2's feature extractor): each padded window becomes
 * (x − mean) / sqrt(var + 1e-7), mean and (population) variance over the padded 64000 values, so the
 * padding itself becomes 0. Computed in float64, fed as float32 [n, 64000].
 *
 * Windows → frames. Window [s, e) (e = s + 4, or the end of the audio for a window that reaches past
 * it) covers frame indices round(s·fps) … round(e·fps) inclusive, clipped to the frames that exist
 * when the frame count is known. Each frame sums the logits of every window covering it; its output
 * is the softmax of the mean, with the model's Other class dropped (LabelRemap, canonical order).
 * After end(), frames past the last covered frame repeat the last covered frame's output.
 *
 * referenceCompat reproduces the reference exactly: fps truncated to an integer first (its
 * `int(cv2.CAP_PROP_FPS)`, 29.97 → 29) and the frame range computed as Python's
 * `range(round(s·fps), round(e·fps + 1))`, with Python's round-half-to-even. By default the exact
 * frame rate is used and halves round up; the two differ only where s·fps or e·fps is exactly a
 * half (e.g. at 25 fps s = 0.5 gives 12.5) and, for non-integer rates, by the rate itself.
 *
 * Finality. Frame f is final once no window still to run can cover it: before end() that means
 * f < round(s_K·fps) for the first window K not run yet (A lags the audio by about 3.5–4 s); after
 * end() every frame is final. A caller fuses frame f once f < finalFrames.
 *
 * Gating. With a `gate`, a final frame for which gate(f) is false gets A = null (no vote); gate(f) is
 * asked when frame(f) is called (FrameSpeech.gate() from ./vad gives one: speech = Silero VAD
 * probability >= 0.5, max over the VAD windows in the frame). A frame's vote is the same with or
 * without gating; only whether it is given changes. A window can only matter through the frames it
 * covers, so with a `skip` test a window whose frames are all known to be gated out is not run
 * (the paper pipeline's dearest model; in a clip with silence at the end, the last windows).
 *
 * No model. Without an acoustic model (switched off, or none to be found) use
 * DisabledAcousticStage: every frame is final at once and A is null, and its `status` is
 * NO_ACOUSTIC_MODEL, a line to show.
 */
import { LabelRemap, NUM_BASIC, type OutputKind } from '../core/emotions';
import { AUDIO_SAMPLE_RATE, type AudioChunk } from '../media/audio';
import type { FrameRate } from '../media/types';
import { ModelError } from '../models/errors';
import { loadManifest, type LoadedManifest } from '../models/manifest';
import { acquireSession, type SessionOptions } from '../models/session';
import { WorkerSession, type ModelRunner } from '../models/worker-session';
import { DEFAULT_ACOUSTIC_MAX_BATCH } from '../defaults';

/** What the CLI and nodes show when no acoustic model is configured. */
export const NO_ACOUSTIC_MODEL = 'no acoustic model configured';
/** What they show when the acoustic model is switched off (`--no-acoustic`, the node's switch). */
export const ACOUSTIC_OFF = 'acoustic model off';
export const ACOUSTIC_WINDOW_SECONDS = 4;
export const ACOUSTIC_STEP_SECONDS = 0.5;
export const ACOUSTIC_WINDOW_SAMPLES = ACOUSTIC_WINDOW_SECONDS * AUDIO_SAMPLE_RATE;
export const ACOUSTIC_STEP_SAMPLES = ACOUSTIC_STEP_SECONDS * AUDIO_SAMPLE_RATE;
/** wav2vec2 feature extractor's variance epsilon. */
export const NORMALISE_EPSILON = 1e-7;

/**
 * Runs the model on `n` normalised windows laid end to end in `windows` (n × 64000 values; the
 * buffer may be reused after the promise settles); resolves to n × width outputs, row by row.
 */
export type RunWindows = (windows: Float32Array, n: number) => Promise<Float32Array>;

export interface AcousticStageOptions {
  /** The video's frame rate (a FrameRate such as 30000/1001, or a number). */
  readonly fps: number | FrameRate;
  /** Number of video frames when known: coverage is clipped to them. */
  readonly frameCount?: number | null;
  /** Frame f gets A only when gate(f) is true (see the module notes). */
  readonly gate?: (frame: number) => boolean;
  /**
   * True when none of frames first…last can get a vote (each is final for the gate and gated out):
   * the window covering them is then not run. Must agree with `gate`.
   */
  readonly skip?: (first: number, last: number) => boolean;
  /** Reproduce the reference's integer fps and Python rounding (see the module notes). */
  readonly referenceCompat?: boolean;
  /** Most windows per model call (default 8; 1 for a model with a fixed batch of 1). */
  readonly maxBatch?: number;
}

/** What the pipeline needs from an acoustic stage, with or without a model. */
export interface AcousticSource {
  /** False for DisabledAcousticStage. */
  readonly enabled: boolean;
  /** One line for logs and status: the model in use, or NO_ACOUSTIC_MODEL. */
  readonly status: string;
  /** Takes the next audio chunk (chunks must be contiguous, from sample 0). */
  push(chunk: AudioChunk): Promise<void>;
  /** The audio has ended: runs the padded tail windows; every frame becomes final. */
  end(): Promise<void>;
  /** Frames 0 … finalFrames-1 are final (Infinity once every frame is). */
  readonly finalFrames: number;
  /** Canonical 7-class probabilities of final frame f, or null (no vote). */
  frame(f: number): Float64Array | null;
  release(): Promise<void>;
}

/** Python's round(): to nearest, halves to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The frames [first, last] (inclusive) a window of samples [startSample, endSample) covers, before
 * clipping to the frames that exist.
 */
export function windowFrameRange(startSample: number, endSample: number, fps: number, referenceCompat = false): [number, number] {
  if (referenceCompat) {
    const rate = Math.trunc(fps);
    return [roundHalfEven((startSample / AUDIO_SAMPLE_RATE) * rate), roundHalfEven((endSample / AUDIO_SAMPLE_RATE) * rate + 1) - 1];
  }
  return [Math.round((startSample / AUDIO_SAMPLE_RATE) * fps), Math.round((endSample / AUDIO_SAMPLE_RATE) * fps)];
}

/**
 * Normalises one window: `samples` (length <= 64000) padded with their mean to 64000, then
 * (x − mean) / sqrt(var + 1e-7), written into `out` (64000 values).
 */
export function normaliseWindow(samples: Float32Array, out: Float32Array): void {
  const n = samples.length;
  const size = out.length;
  if (n === 0 || n > size) throw new RangeError(`a window holds 1 to ${size} samples, got ${n}`);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += samples[i];
  const mean = sum / n; // the padding has this value, so it is also the padded window's mean
  let squares = 0;
  for (let i = 0; i < n; i++) {
    const d = samples[i] - mean;
    squares += d * d;
  }
  const scale = 1 / Math.sqrt(squares / size + NORMALISE_EPSILON);
  for (let i = 0; i < n; i++) out[i] = (samples[i] - mean) * scale;
  out.fill(0, n);
}

function fpsValue(fps: number | FrameRate): number {
  const value = typeof fps === 'number' ? fps : fps.num / fps.den;
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`fps must be a positive number, got ${JSON.stringify(fps)}`);
  return value;
}

/** The acoustic stage with a model (see the module notes). push/end calls must be sequential. */
export class AcousticStage implements AcousticSource {
  readonly enabled = true;
  readonly status: string;
  readonly fps: number;
  readonly referenceCompat: boolean;
  private readonly remap: LabelRemap;
  private readonly width: number;
  private readonly frameCount: number | null;
  private readonly gate: ((frame: number) => boolean) | null;
  private readonly skip: ((first: number, last: number) => boolean) | null;
  private readonly maxBatch: number;
  /** The last 64000 samples: sample i at ring[i % 64000]. */
  private readonly ring = new Float32Array(ACOUSTIC_WINDOW_SAMPLES);
  private readonly window = new Float32Array(ACOUSTIC_WINDOW_SAMPLES);
  private readonly batch: Float32Array;
  private batchCount = 0;
  /** Frame range of each window queued since the last run, in order, with its row in the batch (-1: skipped). */
  private readonly batchRanges: Array<[number, number, number]> = [];
  private skipped = 0;
  private received = 0;
  /** Windows whose audio is complete (queued or run), and windows run. */
  private windowsQueued = 0;
  private windowsDone = 0;
  private sums = new Float64Array(0);
  private counts = new Int32Array(0);
  /** Frames 0 … covered-1 have at least one window. */
  private covered = 0;
  private ended = false;
  private releasedFlag = false;

  constructor(
    private readonly runWindows: RunWindows,
    labels: readonly string[],
    outputKind: OutputKind,
    options: AcousticStageOptions,
    private readonly onRelease: () => Promise<void> = async () => undefined,
    modelName = 'acoustic model',
  ) {
    this.remap = new LabelRemap(labels, outputKind);
    this.width = labels.length;
    this.fps = fpsValue(options.fps);
    this.referenceCompat = options.referenceCompat ?? false;
    if (this.referenceCompat && Math.trunc(this.fps) < 1) throw new RangeError(`referenceCompat truncates fps to an integer; ${this.fps} gives 0`);
    const frameCount = options.frameCount ?? null;
    if (frameCount !== null && !(Number.isInteger(frameCount) && frameCount >= 0)) throw new RangeError(`frameCount must be a whole number, got ${frameCount}`);
    this.frameCount = frameCount;
    this.gate = options.gate ?? null;
    this.skip = this.gate === null ? null : (options.skip ?? null);
    const maxBatch = options.maxBatch ?? DEFAULT_ACOUSTIC_MAX_BATCH;
    if (!(Number.isInteger(maxBatch) && maxBatch >= 1)) throw new RangeError(`maxBatch must be a whole number >= 1, got ${maxBatch}`);
    this.maxBatch = maxBatch;
    this.batch = new Float32Array(maxBatch * ACOUSTIC_WINDOW_SAMPLES);
    this.status = modelName;
  }

  /**
   * The stage for a model with a manifest of task "acoustic" (see openAcousticModel); the session is
   * released with the stage.
   */
  static async load(manifest: LoadedManifest | string, options: AcousticStageOptions, sessionOptions: AcousticSessionOptions = {}): Promise<AcousticStage> {
    const model = await openAcousticModel(manifest, sessionOptions);
    try {
      const maxBatch = Math.min(options.maxBatch ?? DEFAULT_ACOUSTIC_MAX_BATCH, model.maxBatch);
      return new AcousticStage(model.run, model.labels, model.outputKind, { ...options, maxBatch }, model.release, model.name);
    } catch (err) {
      await model.release();
      throw err;
    }
  }

  /**
   * A stage over a model someone else holds (a pipeline that analyses input after input): the
   * model is not released with the stage.
   */
  static fromModel(model: AcousticModel, options: AcousticStageOptions): AcousticStage {
    const maxBatch = Math.min(options.maxBatch ?? DEFAULT_ACOUSTIC_MAX_BATCH, model.maxBatch);
    return new AcousticStage(model.run, model.labels, model.outputKind, { ...options, maxBatch }, async () => undefined, model.name);
  }

  /** Samples received so far. */
  get samplesReceived(): number {
    return this.received;
  }

  /** Windows run through the model so far. */
  get windowsRun(): number {
    return this.windowsDone - this.skipped;
  }

  /** Windows not run because every frame they cover is gated out. */
  get windowsSkipped(): number {
    return this.skipped;
  }

  /** How many windows cover frame f so far (after clipping). */
  coverCount(f: number): number {
    return f >= 0 && f < this.covered ? this.counts[f] : 0;
  }

  get finalFrames(): number {
    if (this.ended) return this.frameCount ?? Number.POSITIVE_INFINITY;
    const [first] = windowFrameRange(this.windowsDone * ACOUSTIC_STEP_SAMPLES, this.windowsDone * ACOUSTIC_STEP_SAMPLES + ACOUSTIC_WINDOW_SAMPLES, this.fps, this.referenceCompat);
    return this.frameCount === null ? first : Math.min(first, this.frameCount);
  }

  async push(chunk: AudioChunk): Promise<void> {
    this.checkOpen('push');
    if (chunk.sampleIndex !== this.received) {
      throw new RangeError(`audio chunk starts at sample ${chunk.sampleIndex}, expected ${this.received} (chunks must be contiguous from 0)`);
    }
    const samples = chunk.samples;
    let offset = 0;
    while (offset < samples.length) {
      // Copy up to the sample that completes the next window.
      const completes = this.windowsQueued * ACOUSTIC_STEP_SAMPLES + ACOUSTIC_WINDOW_SAMPLES;
      const take = Math.min(samples.length - offset, completes - this.received);
      this.write(samples.subarray(offset, offset + take));
      offset += take;
      if (this.received === completes) {
        this.queueWindow(this.windowsQueued * ACOUSTIC_STEP_SAMPLES, ACOUSTIC_WINDOW_SAMPLES);
        if (this.batchCount === this.maxBatch) await this.runBatch();
      }
    }
    await this.runBatch();
  }

  async end(): Promise<void> {
    this.checkOpen('end');
    // The windows that start before the end of the audio but reach past it, each padded with its mean.
    for (;;) {
      const start = this.windowsQueued * ACOUSTIC_STEP_SAMPLES;
      if (start >= this.received) break;
      this.queueWindow(start, this.received - start);
      if (this.batchCount === this.maxBatch) await this.runBatch();
    }
    await this.runBatch();
    this.ended = true;
  }

  frame(f: number): Float64Array | null {
    if (!Number.isInteger(f) || f < 0) throw new RangeError(`frame index must be a whole number >= 0, got ${f}`);
    if (f >= this.finalFrames) throw new RangeError(`frame ${f} is not final yet (frames 0…${this.finalFrames - 1} are)`);
    if (this.gate !== null && !this.gate(f)) return null;
    if (this.covered === 0) return null; // no audio at all
    const g = Math.min(f, this.covered - 1); // past the last window: repeat the last prediction
    const mean = new Float64Array(this.width);
    const base = g * this.width;
    const n = this.counts[g];
    for (let c = 0; c < this.width; c++) mean[c] = this.sums[base + c] / n;
    return this.remap.toCanonical(mean, new Float64Array(NUM_BASIC));
  }

  async release(): Promise<void> {
    if (this.releasedFlag) return;
    this.releasedFlag = true;
    await this.onRelease();
  }

  private checkOpen(what: string): void {
    if (this.releasedFlag) throw new Error(`acoustic stage: ${what} after release`);
    if (this.ended) throw new Error(`acoustic stage: ${what} after end`);
  }

  private write(samples: Float32Array): void {
    let at = this.received % ACOUSTIC_WINDOW_SAMPLES;
    let offset = 0;
    while (offset < samples.length) {
      const n = Math.min(samples.length - offset, ACOUSTIC_WINDOW_SAMPLES - at);
      this.ring.set(samples.subarray(offset, offset + n), at);
      offset += n;
      at = (at + n) % ACOUSTIC_WINDOW_SAMPLES;
    }
    this.received += samples.length;
  }

  /** Copies window [start, start+length) out of the ring, normalised, into the batch. */
  private queueWindow(start: number, length: number): void {
    const range = windowFrameRange(start, start + length, this.fps, this.referenceCompat);
    this.windowsQueued++;
    const last = this.frameCount === null ? range[1] : Math.min(range[1], this.frameCount - 1);
    if (this.skip !== null && this.skip(range[0], last)) {
      this.batchRanges.push([range[0], range[1], -1]);
      return;
    }
    const at = start % ACOUSTIC_WINDOW_SAMPLES;
    const first = Math.min(length, ACOUSTIC_WINDOW_SAMPLES - at);
    const raw = this.window.subarray(0, length);
    raw.set(this.ring.subarray(at, at + first), 0);
    if (first < length) raw.set(this.ring.subarray(0, length - first), first);
    normaliseWindow(raw, this.batch.subarray(this.batchCount * ACOUSTIC_WINDOW_SAMPLES, (this.batchCount + 1) * ACOUSTIC_WINDOW_SAMPLES));
    this.batchRanges.push([range[0], range[1], this.batchCount]);
    this.batchCount++;
  }

  private async runBatch(): Promise<void> {
    const n = this.batchCount;
    const queued = this.batchRanges.length;
    if (queued === 0) return;
    const out = n === 0 ? new Float32Array(0) : await this.runWindows(this.batch, n);
    if (out.length !== n * this.width) throw new ModelError(`acoustic model returned ${out.length} values for ${n} window(s), expected ${n * this.width}`);
    for (const [first, lastWanted, w] of this.batchRanges) {
      if (w < 0) {
        this.skipped++; // covers no frame that can have a vote
        continue;
      }
      const last = this.frameCount === null ? lastWanted : Math.min(lastWanted, this.frameCount - 1);
      if (last >= first) this.ensureFrames(last + 1);
      for (let f = first; f <= last; f++) {
        const base = f * this.width;
        for (let c = 0; c < this.width; c++) this.sums[base + c] += out[w * this.width + c];
        this.counts[f]++;
      }
      if (last + 1 > this.covered) this.covered = last + 1;
    }
    this.batchCount = 0;
    this.batchRanges.length = 0;
    this.windowsDone += queued;
  }

  private ensureFrames(frames: number): void {
    if (frames <= this.counts.length) return;
    const capacity = Math.max(frames, this.counts.length * 2, 256);
    const sums = new Float64Array(capacity * this.width);
    sums.set(this.sums);
    const counts = new Int32Array(capacity);
    counts.set(this.counts);
    this.sums = sums;
    this.counts = counts;
  }
}

/** The stage when no acoustic model is configured: every frame final, A null everywhere. */
export class DisabledAcousticStage implements AcousticSource {
  readonly enabled = false;
  readonly status = NO_ACOUSTIC_MODEL;
  readonly finalFrames = Number.POSITIVE_INFINITY;

  async push(chunk: AudioChunk): Promise<void> {
    void chunk; // the audio is not needed
  }

  async end(): Promise<void> {
    // nothing to do
  }

  frame(f: number): Float64Array | null {
    void f;
    return null;
  }

  async release(): Promise<void> {
    // nothing to release
  }
}

/** An acoustic model opened for the stage. */
export interface AcousticModel {
  readonly manifest: LoadedManifest;
  /** e.g. `acoustic model w2v2-8cl (cpu)`. */
  readonly name: string;
  /** The execution provider the model runs on. */
  readonly provider: string;
  readonly labels: readonly string[];
  readonly outputKind: OutputKind;
  /** Most windows per call: 1 for a model with a fixed batch of 1, else unlimited. */
  readonly maxBatch: number;
  readonly run: RunWindows;
  release(): Promise<void>;
}

/**
 * Opens a model with a manifest of task "acoustic": input float32 [batch, 64000] (layout NT; a fixed
 * batch of 1 is honoured), output `outputs.scores` with one value per label (labels: the 7 canonical
 * emotions, optionally with Other; outputKind logits unless the manifest says otherwise).
 */
export async function openAcousticModel(manifest: LoadedManifest | string, sessionOptions: AcousticSessionOptions = {}): Promise<AcousticModel> {
  const loaded = typeof manifest === 'string' ? await loadManifest(manifest) : manifest;
  const { labels, batch } = checkAcousticManifest(loaded);
  const { inWorker, ...options } = sessionOptions;
  const handle: ModelRunner = inWorker ? await WorkerSession.load(loaded, options) : await acquireSession(loaded, options);
  const inputName = loaded.input.name;
  const outputName = loaded.outputs.scores;
  const missing = !handle.inputNames.includes(inputName)
    ? `the model has no input ${inputName} (it has ${handle.inputNames.join(', ')})`
    : !handle.outputNames.includes(outputName)
      ? `the model has no output ${outputName} (it has ${handle.outputNames.join(', ')})`
      : null;
  if (missing !== null) {
    await handle.release();
    throw new ModelError(`${loaded.label}: ${missing}`);
  }
  const run: RunWindows = async (windows, n) => {
    // A worker takes its input's memory: it gets a copy, the stage keeps filling its batch buffer.
    const data = inWorker ? windows.slice(0, n * ACOUSTIC_WINDOW_SAMPLES) : windows.subarray(0, n * ACOUSTIC_WINDOW_SAMPLES);
    const out = await handle.run({ [inputName]: { data, shape: [n, ACOUSTIC_WINDOW_SAMPLES] } }, [outputName]);
    const scores = out[outputName];
    if (scores.data.length !== n * labels.length) {
      throw new ModelError(`${loaded.label}: output ${outputName} has ${scores.data.length} values for ${n} window(s), expected ${n * labels.length}`);
    }
    return scores.data;
  };
  return {
    manifest: loaded,
    name: `acoustic model ${loaded.id} (${handle.provider})`,
    provider: handle.provider,
    labels,
    outputKind: loaded.outputKind ?? 'logits',
    maxBatch: batch === 1 ? 1 : Number.MAX_SAFE_INTEGER,
    run,
    release: () => handle.release(),
  };
}

export interface AcousticSessionOptions extends SessionOptions {
  /**
   * Run the model in a worker thread (as `cer analyze` does): its windows, the dearest computation of
   * the paper pipeline, then run beside the visual models instead of between their frames.
   */
  readonly inWorker?: boolean;
}

/** Checks an acoustic manifest; returns its labels and its batch dimension (-1 = dynamic). */
export function checkAcousticManifest(manifest: LoadedManifest): { labels: readonly string[]; batch: number } {
  const label = manifest.label;
  if (manifest.task !== 'acoustic') throw new ModelError(`${label}: task is ${manifest.task}, not acoustic`);
  const { layout, shape } = manifest.input;
  if (layout !== 'NT' || (shape[1] !== -1 && shape[1] !== ACOUSTIC_WINDOW_SAMPLES)) {
    throw new ModelError(`${label}: an acoustic model takes input layout NT, shape [batch, ${ACOUSTIC_WINDOW_SAMPLES}] (4 s at 16 kHz)`);
  }
  if (shape[0] !== -1 && shape[0] !== 1) throw new ModelError(`${label}: input.shape[0] (the batch) must be -1 (dynamic) or 1`);
  const sampleRate = manifest.extra?.sampleRate;
  if (sampleRate !== undefined && sampleRate !== AUDIO_SAMPLE_RATE) throw new ModelError(`${label}: extra.sampleRate must be ${AUDIO_SAMPLE_RATE}`);
  if (manifest.labels === undefined) throw new ModelError(`${label}: an acoustic model needs "labels" (the 7 canonical emotions, optionally with Other)`);
  try {
    new LabelRemap(manifest.labels, manifest.outputKind ?? 'logits');
  } catch (err) {
    throw new ModelError(`${label}: labels: ${(err as Error).message}`);
  }
  return { labels: manifest.labels, batch: shape[0] };
}

