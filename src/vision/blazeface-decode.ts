/**
 * BlazeFace output decoding: MediaPipe SSD anchors, box/keypoint regression relative to the
 * anchors, sigmoid scores, and weighted non-maximum suppression. Pure functions on typed arrays,
 * independent of onnxruntime, in the model's normalised input coordinates (0..1 over the square
 * model input).
 */

/** MediaPipe SsdAnchorsCalculator settings as BlazeFace uses them (fixed anchor size 1x1). */
export interface AnchorSpec {
  /** Input size in pixels (square). */
  readonly inputSize: number;
  /** Stride of each layer; consecutive layers with the same stride share one grid. */
  readonly strides: readonly number[];
  /** Anchors each layer adds per grid cell (aspect ratio 1 plus the interpolated scale: 2). */
  readonly anchorsPerLayer: number;
  /** Anchor centre offset within a cell, in cells (0.5: the cell centre). */
  readonly offset: number;
}

/** One grid of anchors: `cells` x `cells` cells with `perCell` anchors each. */
export interface AnchorGrid {
  readonly stride: number;
  readonly cells: number;
  readonly perCell: number;
  readonly count: number;
}

/** The grids of an anchor spec, in output order. */
export function anchorGrids(spec: AnchorSpec): AnchorGrid[] {
  const grids: AnchorGrid[] = [];
  let i = 0;
  while (i < spec.strides.length) {
    const stride = spec.strides[i];
    let layers = 0;
    while (i < spec.strides.length && spec.strides[i] === stride) {
      layers++;
      i++;
    }
    const cells = Math.ceil(spec.inputSize / stride);
    const perCell = layers * spec.anchorsPerLayer;
    grids.push({ stride, cells, perCell, count: cells * cells * perCell });
  }
  return grids;
}

/**
 * Anchor centres, normalised, as [x0, y0, x1, y1, ...] in the order the model emits them: grid by
 * grid, then row by row, cell by cell, anchor by anchor.
 */
export function ssdAnchors(spec: AnchorSpec): Float32Array {
  const grids = anchorGrids(spec);
  const total = grids.reduce((n, g) => n + g.count, 0);
  const out = new Float32Array(total * 2);
  let k = 0;
  for (const g of grids) {
    for (let y = 0; y < g.cells; y++) {
      const cy = (y + spec.offset) / g.cells;
      for (let x = 0; x < g.cells; x++) {
        const cx = (x + spec.offset) / g.cells;
        for (let a = 0; a < g.perCell; a++) {
          out[k++] = cx;
          out[k++] = cy;
        }
      }
    }
  }
  return out;
}

/** A decoded detection in normalised model-input coordinates. */
export interface RawDetection {
  /** [xmin, ymin, xmax, ymax] normalised. */
  readonly box: [number, number, number, number];
  /** Keypoints normalised, [x0, y0, x1, y1, ...]. */
  readonly keypoints: Float64Array;
  readonly score: number;
}

export interface DecodeSettings {
  /** Regressor scale: the input size in pixels (128 or 256). */
  readonly boxScale: number;
  /** Raw scores are clipped to +-scoreClip before the sigmoid. */
  readonly scoreClip: number;
  /** Keep anchors whose sigmoid score is at least this. */
  readonly scoreThreshold: number;
  /** Keypoints per anchor (regressors per anchor = 4 + 2 * keypoints). */
  readonly keypointCount: number;
}

/**
 * One output pair of the model: scores for `count` anchors and their regressors. By default
 * `scores` holds one value per anchor and `boxes` the regressors of each anchor back to back; a
 * model that writes score and regressors into one row per anchor ([score, regressors...], e.g.
 * MediaPipe full-range) passes that tensor as both, with the row length as both strides and
 * `boxOffset` 1.
 */
export interface OutputChunk {
  readonly scores: Float32Array;
  readonly boxes: Float32Array;
  /** Values per anchor in `scores` (the score is the first); default 1. */
  readonly scoreStride?: number;
  /** Values per anchor in `boxes`; default the regressor count, 4 + 2 * keypoints. */
  readonly boxStride?: number;
  /** Index of the first regressor within an anchor's values in `boxes`; default 0. */
  readonly boxOffset?: number;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Candidates above the score threshold. The output chunks are concatenated in order and must
 * together cover every anchor. Box centre = anchor + offset / boxScale; size = size / boxScale.
 */
export function decodeCandidates(chunks: readonly OutputChunk[], anchors: Float32Array, settings: DecodeSettings): RawDetection[] {
  const anchorCount = anchors.length / 2;
  const coords = 4 + 2 * settings.keypointCount;
  const counts = chunks.map((c) => {
    const stride = c.scoreStride ?? 1;
    if (!(Number.isInteger(stride) && stride >= 1) || c.scores.length % stride !== 0) {
      throw new RangeError(`model gave ${c.scores.length} score values, not a whole number of rows of ${stride}`);
    }
    return c.scores.length / stride;
  });
  const total = counts.reduce((n, c) => n + c, 0);
  if (total !== anchorCount) throw new RangeError(`model gave ${total} scores for ${anchorCount} anchors`);

  // Comparing logits avoids an exp per anchor: sigmoid(x) >= t  <=>  x >= ln(t / (1 - t)).
  const t = settings.scoreThreshold;
  const minLogit = t <= 0 ? -Infinity : t >= 1 ? Infinity : Math.log(t / (1 - t));
  const inv = 1 / settings.boxScale;
  const clip = settings.scoreClip;
  const out: RawDetection[] = [];
  let a = 0;
  for (const [c, chunk] of chunks.entries()) {
    const n = counts[c];
    const scoreStride = chunk.scoreStride ?? 1;
    const boxStride = chunk.boxStride ?? coords;
    const boxOffset = chunk.boxOffset ?? 0;
    if (chunk.boxes.length !== n * boxStride || boxOffset < 0 || boxOffset + coords > boxStride) {
      throw new RangeError(`model gave ${chunk.boxes.length} regressors for ${n} anchors (${coords} each expected${boxStride !== coords ? ` at ${boxOffset} in rows of ${boxStride}` : ''})`);
    }
    for (let i = 0; i < n; i++, a++) {
      let raw = chunk.scores[i * scoreStride];
      if (raw < minLogit) continue;
      if (raw > clip) raw = clip;
      else if (raw < -clip) raw = -clip;
      const score = sigmoid(raw);
      if (score < t) continue;
      const ax = anchors[2 * a];
      const ay = anchors[2 * a + 1];
      const r = i * boxStride + boxOffset;
      const b = chunk.boxes;
      const cx = ax + b[r] * inv;
      const cy = ay + b[r + 1] * inv;
      const hw = (b[r + 2] * inv) / 2;
      const hh = (b[r + 3] * inv) / 2;
      const keypoints = new Float64Array(2 * settings.keypointCount);
      for (let k = 0; k < settings.keypointCount; k++) {
        keypoints[2 * k] = ax + b[r + 4 + 2 * k] * inv;
        keypoints[2 * k + 1] = ay + b[r + 5 + 2 * k] * inv;
      }
      out.push({ box: [cx - hw, cy - hh, cx + hw, cy + hh], keypoints, score });
    }
  }
  return out;
}

/** Intersection over union of two [x1, y1, x2, y2] boxes. */
export function iou(a: readonly number[], b: readonly number[]): number {
  const iw = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const ih = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * MediaPipe's weighted non-maximum suppression: take the best remaining candidate, gather every
 * remaining candidate overlapping it by more than `iouThreshold` (itself included), and output the
 * score-weighted mean of their boxes and keypoints with the best candidate's score. Repeats until
 * none remain, or `maxDetections` are out. Results are sorted by score, best first.
 */
export function weightedNms(candidates: readonly RawDetection[], iouThreshold: number, maxDetections = Infinity): RawDetection[] {
  const remaining = [...candidates].sort((p, q) => q.score - p.score);
  const out: RawDetection[] = [];
  while (remaining.length > 0 && out.length < maxDetections) {
    const top = remaining[0];
    const box = [0, 0, 0, 0];
    const keypoints = new Float64Array(top.keypoints.length);
    let weight = 0;
    let w = 0;
    for (let i = 0; i < remaining.length; i++) {
      const c = remaining[i];
      if (i > 0 && iou(top.box, c.box) <= iouThreshold) {
        remaining[w++] = c;
        continue;
      }
      const s = c.score;
      weight += s;
      for (let k = 0; k < 4; k++) box[k] += c.box[k] * s;
      for (let k = 0; k < keypoints.length; k++) keypoints[k] += c.keypoints[k] * s;
    }
    remaining.length = w;
    for (let k = 0; k < 4; k++) box[k] /= weight;
    for (let k = 0; k < keypoints.length; k++) keypoints[k] /= weight;
    out.push({ box: [box[0], box[1], box[2], box[3]], keypoints, score: top.score });
  }
  return out;
}
