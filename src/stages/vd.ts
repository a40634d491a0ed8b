/**
 * The dynamic visual (VD) stage (docs/method.md §6), one instance per face stream
 * (per track, or the single target stream). Two kinds share one interface:
 *
 * - `SequenceModelVD` (id `sequence-model`): the paper's contract. A window of the last 10
 *   static-model feature vectors is given to an injected sequence model (the authors' LSTM,
 *   wired in elsewhere), whose logits (in the model's own label order) become canonical
 *   probabilities through a LabelRemap.
 * - `TemporalSmoothingVD` (id `temporal-smoothing`): used when no sequence model is configured.
 *   The window holds VS's canonical probability vectors and the output is their mean. It is a
 *   plain moving average, not a learned model.
 *
 * Shared rules (the reference's):
 * - Sampling at about 5 per second: a frame is an update frame when
 *   `index % round(5·fps/25) == 0`, index counted from the start of the video (not from when
 *   the face appeared). In referenceCompat mode fps is truncated to an integer first
 *   (29.97 → 29), as the reference's `int(cv2 CAP_PROP_FPS)`; by default the exact rate is used.
 *   The step is at least 1 (the reference would divide by zero below 2.5 fps).
 * - Window of 10 vectors, oldest first. On an update frame the frame's vector is pushed (the
 *   oldest dropped), or, when the window is empty, the window is filled with 10 copies of it;
 *   then the window is evaluated and that output is held for every frame until the next update.
 * - A frame without a face clears the window and repeats the held output.
 *
 * Before the first update since a clear — decision:
 * - Default: when a face frame finds the window empty, it is an update frame whatever its
 *   index ("eager start"): the window is filled from this frame and evaluated at once, so VD
 *   has an output for the very first frame with a face, and a face coming back after a gap
 *   does not inherit the output computed before the gap. Later pushes still happen only on
 *   `index % step == 0` frames. Before any face has been seen the output is null (no estimate;
 *   fusion should leave VD out) rather than a made-up distribution.
 * - referenceCompat: as the reference, updates happen only on `index % step == 0` frames. Until
 *   the first update the reference emits zero logits, i.e. a uniform 1/7 after softmax, for face
 *   and face-less frames alike, so this mode returns uniform 1/7 then; after a clear the output
 *   from before the gap is held until the next update frame refills the window.
 *
 * Calls to `update` on one instance must be sequential (await each before the next).
 */
import { LabelRemap, NUM_BASIC } from '../core/emotions';
import type { ModelSession } from '../models/session';

/** Updates per second the paper samples the stream at (5·fps/25 frames between updates). */
export const VD_UPDATES_PER_SECOND = 5;
/** Vectors in the window: 10 at 5 per second = 2 s. */
export const VD_WINDOW_LENGTH = 10;

export const SEQUENCE_MODEL_VD_ID = 'sequence-model';
export const TEMPORAL_SMOOTHING_VD_ID = 'temporal-smoothing';

/**
 * Frames between VD updates: round(5·fps/25), at least 1. With `referenceCompat` fps is
 * truncated to an integer first. Halves round up (JavaScript's Math.round); for the integer
 * rates of referenceCompat 5·fps/25 never ends in .5, so this matches Python's round there.
 */
export function vdStep(fps: number, referenceCompat = false): number {
  if (!(Number.isFinite(fps) && fps > 0)) throw new Error(`fps must be a positive number, got ${fps}`);
  const rate = referenceCompat ? Math.trunc(fps) : fps;
  return Math.max(1, Math.round((VD_UPDATES_PER_SECOND * rate) / 25));
}

/** One frame of one face stream, as VD sees it. */
export interface VDFrame {
  /** 0-based index of the frame in the video. */
  readonly index: number;
  /** The video's frame rate (exact, e.g. 30000/1001). */
  readonly fps: number;
  /** Whether the stream has a face in this frame. */
  readonly face: boolean;
  /** The static model's feature vector (ReLU of fc1, `dim` values): SequenceModelVD needs it. */
  readonly features?: Float32Array;
  /** VS's canonical 7-class probabilities: TemporalSmoothingVD needs them. */
  readonly vsProbs?: ArrayLike<number>;
}

export interface VDStage {
  readonly id: string;
  /**
   * Feeds one frame; returns VD's canonical 7-class probabilities for it (a fresh array), or
   * null when there is no estimate yet (default mode, before the first face).
   */
  update(frame: VDFrame): Promise<Float64Array | null>;
  /** Forgets the window and the held output (a new stream). */
  reset(): void;
}

export interface WindowedVDOptions {
  /** Reproduce the reference's quirks (integer fps, uniform 1/7 before the first update). */
  readonly referenceCompat?: boolean;
  /** Vectors in the window; default 10. */
  readonly windowLength?: number;
  /**
   * Whether a face frame that finds the window empty updates at once whatever its index;
   * default true, false in referenceCompat mode. See the module comment.
   */
  readonly eagerStart?: boolean;
}

type Vector = Float32Array | Float64Array;

/** Sampling, window, hold and clear rules shared by both kinds of VD. */
abstract class WindowedVD<V extends Vector> implements VDStage {
  abstract readonly id: string;
  readonly referenceCompat: boolean;
  readonly windowLength: number;
  readonly eagerStart: boolean;
  /** Oldest first; empty or exactly windowLength long. */
  private window: V[] = [];
  private held: Float64Array | null = null;

  constructor(options: WindowedVDOptions) {
    this.referenceCompat = options.referenceCompat ?? false;
    this.windowLength = options.windowLength ?? VD_WINDOW_LENGTH;
    if (!(Number.isInteger(this.windowLength) && this.windowLength >= 1)) {
      throw new Error(`windowLength must be a positive integer, got ${this.windowLength}`);
    }
    this.eagerStart = options.eagerStart ?? !this.referenceCompat;
  }

  /** This frame's vector for the window (a copy the caller cannot change afterwards). */
  protected abstract vectorOf(frame: VDFrame): V;
  /** Canonical probabilities from a full window, oldest first. */
  protected abstract evaluate(window: readonly V[]): Promise<Float64Array>;

  async update(frame: VDFrame): Promise<Float64Array | null> {
    if (!(Number.isInteger(frame.index) && frame.index >= 0)) {
      throw new Error(`frame index must be a non-negative integer, got ${frame.index}`);
    }
    const step = vdStep(frame.fps, this.referenceCompat);
    if (!frame.face) {
      this.window = [];
      return this.output();
    }
    const due = frame.index % step === 0 || (this.eagerStart && this.window.length === 0);
    if (due) {
      const v = this.vectorOf(frame);
      if (this.window.length === 0) {
        this.window = new Array<V>(this.windowLength).fill(v);
      } else {
        this.window = [...this.window.slice(1), v];
      }
      this.held = await this.evaluate(this.window);
    }
    return this.output();
  }

  reset(): void {
    this.window = [];
    this.held = null;
  }

  /** Vectors now in the window (0 after a clear). */
  get windowSize(): number {
    return this.window.length;
  }

  private output(): Float64Array | null {
    if (this.held !== null) return Float64Array.from(this.held);
    return this.referenceCompat ? new Float64Array(NUM_BASIC).fill(1 / NUM_BASIC) : null;
  }
}

/**
 * The sequence model: `window` holds `windowLength × dim` values, oldest vector first; returns
 * the model's logits in its own label order.
 */
export type RunSequence = (window: Float32Array, dim: number) => Promise<Float32Array>;

export interface SequenceModelVDOptions extends WindowedVDOptions {
  readonly runSequence: RunSequence;
  /** Length of a feature vector (512 for the authors' static model). */
  readonly dim: number;
  /** The sequence model's label order and output kind (logits for the authors' LSTM). */
  readonly remap: LabelRemap;
}

export class SequenceModelVD extends WindowedVD<Float32Array> {
  readonly id = SEQUENCE_MODEL_VD_ID;
  readonly dim: number;
  private readonly runSequence: RunSequence;
  private readonly remap: LabelRemap;

  constructor(options: SequenceModelVDOptions) {
    super(options);
    if (!(Number.isInteger(options.dim) && options.dim >= 1)) throw new Error(`dim must be a positive integer, got ${options.dim}`);
    this.dim = options.dim;
    this.runSequence = options.runSequence;
    this.remap = options.remap;
  }

  protected vectorOf(frame: VDFrame): Float32Array {
    const f = frame.features;
    if (f === undefined) throw new Error(`${this.id} VD needs the static model's features for frame ${frame.index}`);
    if (f.length !== this.dim) throw new Error(`${this.id} VD expects ${this.dim} features, frame ${frame.index} has ${f.length}`);
    return Float32Array.from(f);
  }

  protected async evaluate(window: readonly Float32Array[]): Promise<Float64Array> {
    const packed = new Float32Array(window.length * this.dim);
    window.forEach((v, t) => packed.set(v, t * this.dim));
    const logits = await this.runSequence(packed, this.dim);
    return this.remap.toCanonical(logits);
  }
}

/**
 * Mean of the last 10 VS probability vectors sampled at 5 per second: a moving average used in
 * place of a sequence model when none is configured.
 */
export class TemporalSmoothingVD extends WindowedVD<Float64Array> {
  readonly id = TEMPORAL_SMOOTHING_VD_ID;

  constructor(options: WindowedVDOptions = {}) {
    super(options);
  }

  protected vectorOf(frame: VDFrame): Float64Array {
    const p = frame.vsProbs;
    if (p === undefined) throw new Error(`${this.id} VD needs VS's probabilities for frame ${frame.index}`);
    if (p.length !== NUM_BASIC) throw new Error(`${this.id} VD expects ${NUM_BASIC} VS probabilities, frame ${frame.index} has ${p.length}`);
    return Float64Array.from(p);
  }

  protected evaluate(window: readonly Float64Array[]): Promise<Float64Array> {
    const mean = new Float64Array(NUM_BASIC);
    for (const v of window) for (let c = 0; c < NUM_BASIC; c++) mean[c] += v[c];
    for (let c = 0; c < NUM_BASIC; c++) mean[c] /= window.length;
    return Promise.resolve(mean);
  }
}

/** One track's inputs for a frame. */
export interface VDTrackInput {
  readonly track: number;
  readonly features?: Float32Array;
  readonly vsProbs?: ArrayLike<number>;
}

/**
 * One VD stream per track. A track's state is created when the track first appears and dropped
 * as soon as a frame lacks it (the tracker never revives an ended track, so its id will not come
 * back). For a single target stream whose track can change, use one VDStage directly instead.
 */
export class VDTrackBank {
  private readonly stages = new Map<number, VDStage>();

  constructor(private readonly create: (track: number) => VDStage) {}

  /** Updates every track present in this frame, in the given order; returns each one's output. */
  async update(index: number, fps: number, faces: readonly VDTrackInput[]): Promise<Map<number, Float64Array | null>> {
    const present = new Set(faces.map((f) => f.track));
    if (present.size !== faces.length) throw new Error(`frame ${index} lists a track more than once`);
    for (const track of [...this.stages.keys()]) if (!present.has(track)) this.stages.delete(track);
    const out = new Map<number, Float64Array | null>();
    for (const f of faces) {
      let stage = this.stages.get(f.track);
      if (stage === undefined) {
        stage = this.create(f.track);
        this.stages.set(f.track, stage);
      }
      out.set(f.track, await stage.update({ index, fps, face: true, features: f.features, vsProbs: f.vsProbs }));
    }
    return out;
  }

  /** Ids of the tracks with VD state. */
  get tracks(): number[] {
    return [...this.stages.keys()];
  }

  reset(): void {
    this.stages.clear();
  }
}

/**
 * A fresh VD stage: the sequence model when one is configured (a session on a manifest of task
 * "dynamic-visual", input [batch, 10, dim]), else temporal smoothing.
 */
export function createVDStage(session: Pick<ModelSession, 'manifest' | 'run'> | null, referenceCompat: boolean): VDStage {
  if (session === null) return new TemporalSmoothingVD({ referenceCompat });
  const m = session.manifest;
  const remap = new LabelRemap(m.labels ?? [], m.outputKind ?? 'logits');
  return new SequenceModelVD({
    referenceCompat,
    dim: m.input.shape[2],
    remap,
    runSequence: async (window, d) => {
      const out = await session.run({ [m.input.name]: { data: window, shape: [1, window.length / d, d] } }, [m.outputs.scores]);
      return out[m.outputs.scores].data;
    },
  });
}
