/**
 * MediaPipe Face Mesh (models/facemesh.onnx, 468 landmarks), as src/stages/mouth.ts's mouth-open
 * cue (the paper's visual voice-activity cue, §3.2) uses it: the detector box is enlarged 1.4×
 * about its centre and made square on its longer side (as @vladmandic/human feeds the same model),
 * that square is resampled bilinearly straight from the frame to 192×192 (parts outside the frame
 * read as black, like tf.image.cropAndResize's extrapolation value 0), values p/255 in [0, 1],
 * NHWC. One inference per call; the landmarks come back in frame pixels.
 */
import * as path from 'node:path';
import type { RgbImage } from '../media/types';
import { ModelError } from '../models/errors';
import { ModelHolder } from '../models/holder';
import { DEFAULT_MODELS_DIR, loadManifest, type LoadedManifest } from '../models/manifest';
import { acquireSession, type SessionOptions } from '../models/session';
import { WorkerSession, type ModelRunner } from '../models/worker-session';
import type { Box } from './types';

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

/** The settings of a face-landmarks manifest the face mesh relies on. */
export interface FacemeshConfig {
  readonly size: number;
  readonly landmarkCount: number;
  readonly landmarkDims: number;
  readonly cropScale: number;
  readonly landmarksOutput: string;
  readonly scoresOutput: string;
}

/**
 * The face-mesh settings of a manifest, checked; `user` names what needs them in the errors
 * ("mouth-open cue").
 */
export function facemeshConfig(m: LoadedManifest, user = 'face mesh'): FacemeshConfig {
  const fail = (what: string): ModelError => new ModelError(`${m.label}: ${what}`);
  if (m.task !== 'face-landmarks') throw fail(`task must be face-landmarks for the ${user} (got ${m.task})`);
  const pre = m.preprocessing;
  if (pre === undefined) throw fail(`preprocessing is required for the ${user}`);
  if (pre.size[0] !== pre.size[1]) throw fail(`preprocessing.size must be square (got ${pre.size.join('x')})`);
  if (pre.colour !== 'rgb' || m.input.layout !== 'NHWC') throw fail(`the ${user} feeds RGB NHWC (preprocessing.colour rgb, input.layout NHWC)`);
  const unit = Math.abs(pre.scale - 1 / 255) < 1e-9 && pre.mean.every((v) => v === 0) && pre.std.every((v) => v === 1);
  if (!unit) throw fail(`the ${user} feeds p/255 (preprocessing.scale 1/255, mean 0, std 1)`);
  const landmarksOutput = m.outputs.landmarks;
  if (landmarksOutput === undefined) throw fail(`outputs.landmarks is required for the ${user}`);
  const num = (key: string, fallback: number): number => {
    const v = m.extra?.[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !(v > 0)) throw fail(`extra.${key} must be a positive number (got ${JSON.stringify(v)})`);
    return v;
  };
  const landmarkCount = num('landmarkCount', 468);
  const landmarkDims = num('landmarkDims', 3);
  if (landmarkCount <= FACEMESH_LANDMARKS.leftEyeOuter || landmarkDims < 2) {
    throw fail(`the ${user} needs the 468-point mesh (extra.landmarkCount ${landmarkCount}, landmarkDims ${landmarkDims})`);
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

export interface FaceMeshOptions extends SessionOptions {
  /** Run the model in a worker thread (the main thread goes on meanwhile); default false. */
  readonly inWorker?: boolean;
  /** Box enlargement before the crop; default the manifest's extra.cropScale, else 1.4. */
  readonly cropScale?: number;
}

/** The mesh of one face. */
export interface FaceMeshResult {
  /** The mesh model's face-presence score, 0..1. */
  readonly faceScore: number;
  /** The square crop that was fed to the mesh, [x1, y1, x2, y2] in frame pixels. */
  readonly crop: Box;
  /** landmarkCount × (x, y, z) in frame pixels (z: relative depth, scaled like x). */
  readonly landmarks: Float32Array;
}

export class FaceMesh extends ModelHolder {
  readonly cropScale: number;
  private readonly inputShape: readonly number[];

  private constructor(handle: ModelRunner, readonly config: FacemeshConfig, cropScale: number, user: string) {
    super(handle, user);
    this.cropScale = cropScale;
    this.inputShape = [1, config.size, config.size, 3];
  }

  /**
   * Loads the mesh: the package's models/facemesh.json by default, or the path of a face-landmarks
   * manifest, or a loaded one; `user` names what uses it in errors. The onnxruntime session is
   * shared with other users of the same model and session options.
   */
  static async load(manifest: LoadedManifest | string = FACEMESH_MANIFEST, options: FaceMeshOptions = {}, user = 'face mesh'): Promise<FaceMesh> {
    const m = typeof manifest === 'string' ? await loadManifest(manifest) : manifest;
    const config = facemeshConfig(m, user);
    const cropScale = options.cropScale ?? config.cropScale;
    if (!(cropScale > 0) || !Number.isFinite(cropScale)) throw new RangeError(`${user} option cropScale must be a positive number (got ${cropScale})`);
    const handle = await acquireSession(m, options);
    try {
      const session = handle.session;
      for (const name of [config.landmarksOutput, config.scoresOutput]) {
        if (!session.outputNames.includes(name)) {
          throw new ModelError(`${m.label}: output ${name} is not an output of the model (it has ${session.outputNames.join(', ')})`);
        }
      }
      if (!session.inputNames.includes(m.input.name)) {
        throw new ModelError(`${m.label}: input.name ${m.input.name} is not an input of the model (it has ${session.inputNames.join(', ')})`);
      }
      if (!options.inWorker) return new FaceMesh(handle, config, cropScale, user);
    } catch (err) {
      await handle.release();
      throw err;
    }
    // Checked here; run in a worker thread, so the main thread can go on meanwhile.
    await handle.release();
    return new FaceMesh(await WorkerSession.load(m, options), config, cropScale, user);
  }

  /**
   * The mesh of the face in `faceBox` (a face detector box, [x1, y1, x2, y2] in frame pixels). The
   * face is cut out before this returns, so the caller may reuse the frame's memory at once; the
   * model runs afterwards, calls one after another.
   */
  landmarks(frame: RgbImage, faceBox: Readonly<Box>): Promise<FaceMeshResult> {
    if (!(faceBox[2] > faceBox[0] && faceBox[3] > faceBox[1])) {
      return Promise.reject(new RangeError(`face box [${faceBox.join(', ')}] is empty`));
    }
    if (frame.data.length < frame.width * frame.height * 3 || !(frame.width > 0 && frame.height > 0)) {
      return Promise.reject(new RangeError(`image data has ${frame.data.length} bytes, ${frame.width}x${frame.height} RGB needs ${frame.width * frame.height * 3}`));
    }
    const size = this.config.size;
    const crop = facemeshCrop(faceBox, this.cropScale);
    const tensor = new Float32Array(size * size * 3);
    cropToTensor(frame, crop, size, tensor);
    return this.enqueue(() => this.landmarksNow(crop, tensor));
  }

  private async landmarksNow(crop: Box, tensor: Float32Array): Promise<FaceMeshResult> {
    const session = this.session;
    const m = session.manifest;
    const { size, landmarkCount, landmarkDims, landmarksOutput, scoresOutput } = this.config;
    const out = await session.run({ [m.input.name]: { data: tensor, shape: this.inputShape } }, [landmarksOutput, scoresOutput]);
    const raw = out[landmarksOutput].data;
    if (raw.length < landmarkCount * landmarkDims) {
      throw new ModelError(`${m.label}: output ${landmarksOutput} has ${raw.length} values, ${landmarkCount * landmarkDims} expected`);
    }
    const faceScore = out[scoresOutput].data[0];
    // Input pixels → frame pixels (z scaled like x).
    const k = (crop[2] - crop[0]) / size;
    const landmarks = new Float32Array(landmarkCount * 3);
    for (let i = 0; i < landmarkCount; i++) {
      landmarks[3 * i] = crop[0] + raw[landmarkDims * i] * k;
      landmarks[3 * i + 1] = crop[1] + raw[landmarkDims * i + 1] * k;
      landmarks[3 * i + 2] = landmarkDims > 2 ? raw[landmarkDims * i + 2] * k : 0;
    }
    return { faceScore, crop, landmarks };
  }
}
