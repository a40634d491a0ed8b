/**
 * The visual voice-activity cue of the paper (§3.2): is the target speaker's mouth open?
 *
 * MediaPipe Face Mesh (models/facemesh.onnx, 468 landmarks) runs on the face: the detector box is
 * enlarged 1.4× about its centre and made square on its longer side (as @vladmandic/human feeds
 * the same model), that square is resampled bilinearly straight from the frame to 192×192 (parts
 * outside the frame read as black, like tf.image.cropAndResize's extrapolation value 0), values
 * p/255 in [0, 1], NHWC. One inference per call.
 *
 * The cue is the inner-lip gap: the distance from landmark 13 (upper inner lip, centre) to 14
 * (lower inner lip, centre) along the face's vertical axis (perpendicular to the line through the
 * outer eye corners 33 and 263, so head roll does not shrink it), divided by the distance between
 * those eye corners, which opening the mouth does not change. The ratio is comparable across
 * frames, image sizes and people; `open` is gap > threshold (DEFAULT_MOUTH_OPEN_THRESHOLD, see
 * there for how it was calibrated).
 */
import * as path from 'node:path';
import type { RgbImage } from '../media/types';
import { ModelError } from '../models/errors';
import { DEFAULT_MODELS_DIR, loadManifest, type LoadedManifest } from '../models/manifest';
import { acquireSession, type SessionOptions } from '../models/session';
import { WorkerSession, type ModelRunner } from '../models/worker-session';
import type { Box } from '../vision/types';

/** The package's facemesh manifest. */
export const FACEMESH_MANIFEST = path.join(DEFAULT_MODELS_DIR, 'facemesh.json');

/** MediaPipe Face Mesh landmark indices used here (canonical 468-point topology). */
export const FACEMESH_LANDMARKS = {
  /** Upper inner lip, centre. */
  upperInnerLip: 13,
  /** Lower inner lip, centre. */
  lowerInnerLip: 14,
  /** The person's right eye, outer corner (image left on a frontal face). */
  rightEyeOuter: 33,
  /** The person's left eye, outer corner. */
  leftEyeOuter: 263,
} as const;

/** How much the detector box is enlarged about its centre before the crop (Human's face.detector.scale). */
export const DEFAULT_CROP_SCALE = 1.4;

/**
 * Gap (inner-lip gap / outer-eye-corner distance) above which the mouth counts as open: 0.05,
 * i.e. lips apart by 5 % of the outer-eye-corner distance (about 4–5 mm on an adult face, whose
 * outer canthi are about 90 mm apart).
 *
 * Calibrated on the RAVDESS clip 01-01-01-01-01-01-01 (actor 1, "Kids are talking by the door",
 * front-128 BlazeFace boxes, 98 frames): with the lips closed (silent lead-in, t < 0.8 s) the mesh
 * leaves a residual gap of 0.016–0.022 (median 0.018), and 0.006–0.010 with the lips pressed after
 * the sentence (t > 2.4 s); while speaking (sound from 0.86 to 2.25 s by ffmpeg silencedetect at
 * -45 dB) the gap is 0.035–0.045 with the lips just parted and 0.06–0.12 on open vowels (median
 * 0.046), dropping to 0.02 on the closure of "by". 0.05 is more than twice the largest closed value,
 * so a closed mouth is not called open, and it is passed by the open-vowel frames (45 % of the
 * frames of the spoken interval). It measures lip separation, not speech: a broad smile with parted
 * lips (the astronaut photo, teeth showing: gap 0.10) is open too.
 */
export const DEFAULT_MOUTH_OPEN_THRESHOLD = 0.05;

/**
 * Face-presence score (the mesh model's sigmoid output) below which the mesh is not trusted and
 * `open` is false (@vladmandic/human drops meshes below its face.detector.minConfidence, 0.2).
 */
export const DEFAULT_MIN_FACE_SCORE = 0.2;

export interface MouthOpenOptions extends SessionOptions {
  /** Run the model in a worker thread (the main thread goes on meanwhile); default false. */
  readonly inWorker?: boolean;
  /** Gap above which the mouth is open; default DEFAULT_MOUTH_OPEN_THRESHOLD. */
  readonly threshold?: number;
  /** Box enlargement before the crop; default the manifest's extra.cropScale, else 1.4. */
  readonly cropScale?: number;
  /** Minimum mesh face score for `open` to be true; default DEFAULT_MIN_FACE_SCORE. */
  readonly minFaceScore?: number;
}

export interface MouthMeasure {
  /** Inner-lip gap / outer-eye-corner distance (0 when the lips overlap). */
  readonly gap: number;
  /** gap > threshold and the mesh is trusted (faceScore >= minFaceScore). */
  readonly open: boolean;
  /** The mesh model's face-presence score, 0..1. */
  readonly faceScore: number;
  /** Inner-lip gap in frame pixels (along the face's vertical axis). */
  readonly gapPx: number;
  /** Distance between the outer eye corners in frame pixels (the normaliser). */
  readonly eyeDistancePx: number;
  /** The square crop that was fed to the mesh, [x1, y1, x2, y2] in frame pixels. */
  readonly crop: Box;
  /** 468 × (x, y, z) in frame pixels (z: relative depth, scaled like x). */
  readonly landmarks: Float32Array;
}

/**
 * The square crop facemesh expects: `box` enlarged `scale`× about its centre, then widened to a
 * square on its longer side, same centre. Not clipped (parts outside the frame read as black).
 */
export function facemeshCrop(box: Readonly<Box>, scale: number = DEFAULT_CROP_SCALE): Box {
  const cx = (box[0] + box[2]) / 2;
  const cy = (box[1] + box[3]) / 2;
  const half = (Math.max(box[2] - box[0], box[3] - box[1]) * scale) / 2;
  return [cx - half, cy - half, cx + half, cy + half];
}

/**
 * Resamples the square `crop` of `image` into a size×size NHWC float tensor of p/255 (bilinear,
 * pixel centres aligned; samples outside the frame are 0).
 */
export function cropToTensor(image: RgbImage, crop: Readonly<Box>, size: number, out: Float32Array): void {
  const { width: W, height: H, data } = image;
  const f = (crop[2] - crop[0]) / size;
  const fy = (crop[3] - crop[1]) / size;
  const inv = 1 / 255;
  // Per-column source offsets and weights; -1 marks a column outside the frame.
  const x0s = new Int32Array(size);
  const x1s = new Int32Array(size);
  const wxs = new Float32Array(size);
  for (let x = 0; x < size; x++) {
    const sx = crop[0] + (x + 0.5) * f - 0.5;
    if (sx < -0.5 || sx > W - 0.5) {
      x0s[x] = -1;
      continue;
    }
    const c = Math.min(Math.max(sx, 0), W - 1);
    const x0 = Math.floor(c);
    x0s[x] = x0 * 3;
    x1s[x] = Math.min(x0 + 1, W - 1) * 3;
    wxs[x] = c - x0;
  }
  const stride = W * 3;
  let t = 0;
  for (let y = 0; y < size; y++) {
    const sy = crop[1] + (y + 0.5) * fy - 0.5;
    if (sy < -0.5 || sy > H - 0.5) {
      out.fill(0, t, t + size * 3);
      t += size * 3;
      continue;
    }
    const c = Math.min(Math.max(sy, 0), H - 1);
    const y0 = Math.floor(c);
    const wy = c - y0;
    const r0 = y0 * stride;
    const r1 = Math.min(y0 + 1, H - 1) * stride;
    for (let x = 0; x < size; x++, t += 3) {
      const xo = x0s[x];
      if (xo < 0) {
        out[t] = 0;
        out[t + 1] = 0;
        out[t + 2] = 0;
        continue;
      }
      const a = r0 + xo;
      const b = r0 + x1s[x];
      const d = r1 + xo;
      const e = r1 + x1s[x];
      const wx = wxs[x];
      // The three channels unrolled (this loop is most of the preprocessing time).
      let top = data[a] + (data[b] - data[a]) * wx;
      let bottom = data[d] + (data[e] - data[d]) * wx;
      out[t] = (top + (bottom - top) * wy) * inv;
      top = data[a + 1] + (data[b + 1] - data[a + 1]) * wx;
      bottom = data[d + 1] + (data[e + 1] - data[d + 1]) * wx;
      out[t + 1] = (top + (bottom - top) * wy) * inv;
      top = data[a + 2] + (data[b + 2] - data[a + 2]) * wx;
      bottom = data[d + 2] + (data[e + 2] - data[d + 2]) * wx;
      out[t + 2] = (top + (bottom - top) * wy) * inv;
    }
  }
}

/** The settings of a face-landmarks manifest this cue relies on. */
interface MeshModel {
  readonly size: number;
  readonly landmarkCount: number;
  readonly landmarkDims: number;
  readonly cropScale: number;
  readonly landmarksOutput: string;
  readonly scoresOutput: string;
}

function meshModel(m: LoadedManifest): MeshModel {
  const fail = (what: string): ModelError => new ModelError(`${m.label}: ${what}`);
  if (m.task !== 'face-landmarks') throw fail(`task must be face-landmarks for the mouth-open cue (got ${m.task})`);
  const pre = m.preprocessing;
  if (pre === undefined) throw fail('preprocessing is required for the mouth-open cue');
  if (pre.size[0] !== pre.size[1]) throw fail(`preprocessing.size must be square (got ${pre.size.join('x')})`);
  if (pre.colour !== 'rgb' || m.input.layout !== 'NHWC') throw fail('the mouth-open cue feeds RGB NHWC (preprocessing.colour rgb, input.layout NHWC)');
  const unit = Math.abs(pre.scale - 1 / 255) < 1e-9 && pre.mean.every((v) => v === 0) && pre.std.every((v) => v === 1);
  if (!unit) throw fail('the mouth-open cue feeds p/255 (preprocessing.scale 1/255, mean 0, std 1)');
  const landmarksOutput = m.outputs.landmarks;
  if (landmarksOutput === undefined) throw fail('outputs.landmarks is required for the mouth-open cue');
  const num = (key: string, fallback: number): number => {
    const v = m.extra?.[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !(v > 0)) throw fail(`extra.${key} must be a positive number (got ${JSON.stringify(v)})`);
    return v;
  };
  const landmarkCount = num('landmarkCount', 468);
  const landmarkDims = num('landmarkDims', 3);
  if (landmarkCount <= FACEMESH_LANDMARKS.leftEyeOuter || landmarkDims < 2) {
    throw fail(`the mouth-open cue needs the 468-point mesh (extra.landmarkCount ${landmarkCount}, landmarkDims ${landmarkDims})`);
  }
  return {
    size: pre.size[0],
    landmarkCount,
    landmarkDims,
    cropScale: num('cropScale', DEFAULT_CROP_SCALE),
    landmarksOutput,
    scoresOutput: m.outputs.scores,
  };
}

function positiveOption(v: number | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!(v > 0) || !Number.isFinite(v)) throw new RangeError(`mouth-open option ${name} must be a positive number (got ${v})`);
  return v;
}

export class MouthOpenCue {
  readonly threshold: number;
  readonly cropScale: number;
  readonly minFaceScore: number;
  private readonly model: MeshModel;
  private readonly inputShape: readonly number[];
  private queue: Promise<unknown> = Promise.resolve();
  private handle: ModelRunner | undefined;

  private constructor(handle: ModelRunner, model: MeshModel, options: MouthOpenOptions) {
    this.handle = handle;
    this.model = model;
    this.threshold = positiveOption(options.threshold, 'threshold', DEFAULT_MOUTH_OPEN_THRESHOLD);
    this.cropScale = positiveOption(options.cropScale, 'cropScale', model.cropScale);
    const minFaceScore = options.minFaceScore ?? DEFAULT_MIN_FACE_SCORE;
    if (!(minFaceScore >= 0 && minFaceScore <= 1)) throw new RangeError(`mouth-open option minFaceScore must be from 0 to 1 (got ${minFaceScore})`);
    this.minFaceScore = minFaceScore;
    this.inputShape = [1, model.size, model.size, 3];
  }

  /**
   * Loads the cue: the package's models/facemesh.json by default, or the path of a face-landmarks
   * manifest, or a loaded one. The onnxruntime session is shared with other users of the same
   * model and session options.
   */
  static async load(manifest: LoadedManifest | string = FACEMESH_MANIFEST, options: MouthOpenOptions = {}): Promise<MouthOpenCue> {
    const m = typeof manifest === 'string' ? await loadManifest(manifest) : manifest;
    const model = meshModel(m);
    const handle = await acquireSession(m, options);
    try {
      const session = handle.session;
      for (const name of [model.landmarksOutput, model.scoresOutput]) {
        if (!session.outputNames.includes(name)) {
          throw new ModelError(`${m.label}: output ${name} is not an output of the model (it has ${session.outputNames.join(', ')})`);
        }
      }
      if (!session.inputNames.includes(m.input.name)) {
        throw new ModelError(`${m.label}: input.name ${m.input.name} is not an input of the model (it has ${session.inputNames.join(', ')})`);
      }
      if (!options.inWorker) return new MouthOpenCue(handle, model, options);
    } catch (err) {
      await handle.release();
      throw err;
    }
    // Checked here; run in a worker thread, so the main thread can go on meanwhile.
    await handle.release();
    return new MouthOpenCue(await WorkerSession.load(m, options), model, options);
  }

  get manifest(): LoadedManifest {
    return this.session.manifest;
  }

  get provider(): string {
    return this.session.provider;
  }

  private get session(): ModelRunner {
    if (this.handle === undefined) throw new ModelError('mouth-open cue used after release');
    return this.handle;
  }

  /**
   * The mouth-open measure of the face in `faceBox` (a face detector box, [x1, y1, x2, y2] in
   * frame pixels). The face is cut out before this returns, so the caller may reuse the frame's
   * memory at once; the model runs afterwards, calls one after another.
   */
  measure(frame: RgbImage, faceBox: Readonly<Box>): Promise<MouthMeasure> {
    if (!(faceBox[2] > faceBox[0] && faceBox[3] > faceBox[1])) {
      return Promise.reject(new RangeError(`face box [${faceBox.join(', ')}] is empty`));
    }
    if (frame.data.length < frame.width * frame.height * 3 || !(frame.width > 0 && frame.height > 0)) {
      return Promise.reject(new RangeError(`image data has ${frame.data.length} bytes, ${frame.width}x${frame.height} RGB needs ${frame.width * frame.height * 3}`));
    }
    const size = this.model.size;
    const crop = facemeshCrop(faceBox, this.cropScale);
    const tensor = new Float32Array(size * size * 3);
    cropToTensor(frame, crop, size, tensor);
    const run = this.queue.then(() => this.measureNow(crop, tensor));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async measureNow(crop: Box, tensor: Float32Array): Promise<MouthMeasure> {
    const session = this.session;
    const m = session.manifest;
    const { size, landmarkCount, landmarkDims } = this.model;
    const out = await session.run({ [m.input.name]: { data: tensor, shape: this.inputShape } }, [this.model.landmarksOutput, this.model.scoresOutput]);
    const raw = out[this.model.landmarksOutput].data;
    if (raw.length < landmarkCount * landmarkDims) {
      throw new ModelError(`${m.label}: output ${this.model.landmarksOutput} has ${raw.length} values, ${landmarkCount * landmarkDims} expected`);
    }
    const faceScore = out[this.model.scoresOutput].data[0];

    // Input pixels → frame pixels (z scaled like x).
    const k = (crop[2] - crop[0]) / size;
    const landmarks = new Float32Array(landmarkCount * 3);
    for (let i = 0; i < landmarkCount; i++) {
      landmarks[3 * i] = crop[0] + raw[landmarkDims * i] * k;
      landmarks[3 * i + 1] = crop[1] + raw[landmarkDims * i + 1] * k;
      landmarks[3 * i + 2] = landmarkDims > 2 ? raw[landmarkDims * i + 2] * k : 0;
    }
    const L = FACEMESH_LANDMARKS;
    const px = (i: number): number => landmarks[3 * i];
    const py = (i: number): number => landmarks[3 * i + 1];
    const ex = px(L.leftEyeOuter) - px(L.rightEyeOuter);
    const ey = py(L.leftEyeOuter) - py(L.rightEyeOuter);
    const eyeDistancePx = Math.hypot(ex, ey);
    let gapPx = 0;
    let gap = 0;
    if (eyeDistancePx > 0) {
      // Unit vector down the face: the eye line (person's right → left eye, i.e. image left →
      // right on a frontal face) turned 90° clockwise in image coordinates (y down).
      const nx = -ey / eyeDistancePx;
      const ny = ex / eyeDistancePx;
      const dx = px(L.lowerInnerLip) - px(L.upperInnerLip);
      const dy = py(L.lowerInnerLip) - py(L.upperInnerLip);
      gapPx = Math.max(0, dx * nx + dy * ny);
      gap = gapPx / eyeDistancePx;
    }
    const open = faceScore >= this.minFaceScore && gap > this.threshold;
    return { gap, open, faceScore, gapPx, eyeDistancePx, crop, landmarks };
  }

  /** Gives the session back (closed when no one else uses it). Further calls do nothing. */
  async release(): Promise<void> {
    const handle = this.handle;
    if (handle === undefined) return;
    this.handle = undefined;
    await this.queue;
    await handle.release();
  }
}
