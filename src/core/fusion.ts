/**
 * Fusion of several models' 7-class probability vectors (paper §3.3, docs/method.md §3).
 *
 * W is models × classes (row m = w_m, the per-class weights of model m); v has one scalar per model.
 *   dirichlet:    P̄ = Σ_m P_m ⊙ w_m
 *   hierarchical: P̂ = Σ_m (P_m ⊙ w_m) · v_m
 *   average:      P  = mean_m P_m
 */
import { BASIC_EMOTIONS, NUM_BASIC } from './emotions';

export const FUSION_STRATEGIES = ['dirichlet', 'hierarchical', 'average'] as const;
export type FusionStrategy = (typeof FUSION_STRATEGIES)[number];

export const PRESET_NAMES = ['paper-v', 'paper-av7', 'paper-av8'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

export interface FusionPreset {
  readonly name: PresetName;
  readonly description: string;
  /** The model names the preset's rows belong to, in row order. */
  readonly models: readonly string[];
  /** W, models × 7 classes (canonical order). */
  readonly weights: readonly (readonly number[])[];
  /** The `Mo` row: hierarchical model weights v. */
  readonly modelWeights: readonly number[];
}

/**
 * Published weights, transcribed from the paper's tables (docs/method.md §3) as printed, as
 * rows = classes (Ne An Di Fe Ha Sa Su), columns = models, then transposed into W (models × classes).
 * In paper-av7 the Disgust row repeats VS's Anger weight, so its column sums to 1.0536, not 1.
 */
function fromClassRows(classRows: readonly (readonly number[])[]): number[][] {
  const models = classRows[0].length;
  return Array.from({ length: models }, (_, m) => classRows.map((row) => row[m]));
}

export const FUSION_PRESETS: Readonly<Record<PresetName, FusionPreset>> = {
  'paper-v': {
    name: 'paper-v',
    description: 'VS + VD (paper models 3/4)',
    models: ['vs', 'vd'],
    weights: fromClassRows([
      [0.42633145, 0.57366855],
      [0.57803352, 0.42196648],
      [0.01878466, 0.98121534],
      [0.86451425, 0.13548575],
      [0.16464752, 0.83535248],
      [0.03786653, 0.96213347],
      [0.81048546, 0.18951454],
    ]),
    modelWeights: [0.365, 0.23],
  },
  'paper-av7': {
    name: 'paper-av7',
    description: 'VS + VD + A, 7-class acoustic model (paper models 7/8)',
    models: ['vs', 'vd', 'a'],
    weights: fromClassRows([
      [0.85806901, 0.11491265, 0.02701833],
      [0.2579578, 0.46222294, 0.27981925],
      [0.2579578, 0.62411413, 0.17148297],
      [0.72010502, 0.16716238, 0.1127326],
      [0.62082661, 0.31962795, 0.05954545],
      [0.06281922, 0.16603196, 0.77114883],
      [0.70875895, 0.24433032, 0.04691073],
    ]),
    modelWeights: [0.06, 0.21, 0.01],
  },
  'paper-av8': {
    name: 'paper-av8',
    description: 'VS + VD + A, 8-class acoustic model (paper models 9/10; the reference default)',
    models: ['vs', 'vd', 'a'],
    weights: fromClassRows([
      [0.89900098, 0.01223291, 0.08876611],
      [0.10362151, 0.21364307, 0.68273542],
      [0.08577635, 0.66688002, 0.24734363],
      [0.04428126, 0.93791526, 0.01780348],
      [0.89679865, 0.0398964, 0.06330495],
      [0.02656456, 0.48670648, 0.48672896],
      [0.63040305, 0.22089692, 0.14870002],
    ]),
    modelWeights: [0.16, 0.36, 0.01],
  },
};

/**
 * Per class, W's column (the weights of the models) sums to 1 within this; a column that sums to
 * something else (more than 0) is divided by its sum, with a warning. The published presets are
 * used as published: paper-av7's Disgust column (1.0536) is not touched.
 */
export const WEIGHT_SUM_TOLERANCE = 1e-3;

/** The largest column sum of W that fusion runs with: 1, or paper-av7's Disgust column. */
const MAX_COLUMN_SUM = Math.max(
  1 + WEIGHT_SUM_TOLERANCE,
  ...Object.values(FUSION_PRESETS).map((p) => Math.max(...BASIC_EMOTIONS.map((_, c) => p.weights.reduce((s, row) => s + row[c], 0)))),
);

/**
 * The largest fused score a valid fusion can give (every vote in [0, 1], every column of W summing
 * to at most MAX_COLUMN_SUM, every model weight v in [0, 1]), rounded up to 4 decimals: 1.0536.
 */
export const MAX_FUSED_SCORE = Math.ceil(MAX_COLUMN_SUM * 1e4) / 1e4;

/** How fusion is configured, as it appears in JSON (`cer fuse` input, `cer fit-weights` output). */
export interface FusionSpec {
  strategy: FusionStrategy;
  preset?: PresetName;
  weights?: number[][];
  modelWeights?: number[];
}

/** A fusion ready to run: every weight resolved. */
export interface Fusion {
  readonly strategy: FusionStrategy;
  readonly models: readonly string[];
  /** W as models × 7, flattened row-major (W[m*7 + c]). */
  readonly W: Float64Array;
  /** v, one per model (all 1 unless hierarchical). */
  readonly v: Float64Array;
  /** What was changed to make the weights usable (columns normalised), one line each; empty when nothing was. */
  readonly warnings: readonly string[];
}

/** The spec that reproduces a resolved fusion (for writing results out). */
export function fusionToSpec(fusion: Fusion): FusionSpec {
  const spec: FusionSpec = { strategy: fusion.strategy };
  if (fusion.strategy === 'average') return spec;
  spec.weights = fusion.models.map((_, m) => Array.from(fusion.W.subarray(m * NUM_BASIC, (m + 1) * NUM_BASIC)));
  if (fusion.strategy === 'hierarchical') spec.modelWeights = Array.from(fusion.v);
  return spec;
}

/**
 * Fuses one frame. `probs[m]` is model m's 7 canonical probabilities, or null where the model has
 * no vote for this frame (no face yet, outside speech). Missing models' weights are given to the
 * present ones in proportion, class by class, so each class keeps its total weight; with every
 * model present this is exactly the paper's formula. Returns false (and leaves `out` untouched)
 * when no model is present.
 */
export function fuseFrameInto(
  fusion: Fusion,
  probs: ReadonlyArray<ArrayLike<number> | null>,
  out: Float64Array | number[],
): boolean {
  const M = fusion.models.length;
  if (probs.length !== M) throw new Error(`fusion expects ${M} model vectors, got ${probs.length}`);
  let present = 0;
  for (let m = 0; m < M; m++) if (probs[m] !== null) present++;
  if (present === 0) return false;
  const { W, v } = fusion;
  for (let c = 0; c < NUM_BASIC; c++) {
    let sum = 0;
    let totalWeight = 0;
    let presentWeight = 0;
    for (let m = 0; m < M; m++) {
      const weight = W[m * NUM_BASIC + c] * v[m];
      totalWeight += weight;
      const p = probs[m];
      if (p === null) continue;
      presentWeight += weight;
      sum += p[c] * weight;
    }
    if (present === M) out[c] = sum;
    else out[c] = presentWeight > 0 ? (sum * totalWeight) / presentWeight : 0;
  }
  return true;
}

/**
 * Fuses many frames at once. `probs[m]` holds model m's frames × 7 values, row-major; every model
 * has the same number of frames. Returns frames × 7 fused values.
 */
export function fuseFrames(fusion: Fusion, probs: readonly Float64Array[]): Float64Array {
  const M = fusion.models.length;
  if (probs.length !== M) throw new Error(`fusion expects ${M} models, got ${probs.length}`);
  const n = probs[0].length;
  for (let m = 1; m < M; m++) {
    if (probs[m].length !== n) throw new Error(`model ${fusion.models[m]} has ${probs[m].length / NUM_BASIC} frames, ${fusion.models[0]} has ${n / NUM_BASIC}`);
  }
  const out = new Float64Array(n);
  const Wv = new Float64Array(M * NUM_BASIC);
  for (let m = 0; m < M; m++) for (let c = 0; c < NUM_BASIC; c++) Wv[m * NUM_BASIC + c] = fusion.W[m * NUM_BASIC + c] * fusion.v[m];
  for (let m = 0; m < M; m++) {
    const p = probs[m];
    for (let i = 0; i < n; i += NUM_BASIC) {
      for (let c = 0; c < NUM_BASIC; c++) out[i + c] += p[i + c] * Wv[m * NUM_BASIC + c];
    }
  }
  return out;
}
