/**
 * tools/tfjs-to-onnx: the converter reproduces the committed FER2013 mini-Xception ONNX model
 * byte for byte, and that model computes what the original tfjs graph model computes (run by
 * @tensorflow/tfjs on its CPU backend from the files on disk) on random and real face inputs.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { convertGraphModel } from '../../tools/tfjs-to-onnx/convert';
import type { HostTensor, TfjsGraphModel, TfjsWeightSpec, TfNodeDef } from '../../tools/tfjs-to-onnx/tfjs-model';
import { runCli } from '../../tools/tfjs-to-onnx/main';
import type { ModelManifest } from '../../tools/tfjs-to-onnx/manifest';
import { readTfjsGraphModel } from '../../tools/tfjs-to-onnx/tfjs-model';
import { ASTRONAUT_PNG, RAVDESS_CLIP, REPO_ROOT } from '../helpers/testdata';
import { loadTfjsFromDisk, tf, tfjsCpu, type GraphModel } from '../helpers/tfjs';
import { loadGraphModel } from '@tensorflow/tfjs-converter';

const MODELS_DIR = path.join(REPO_ROOT, 'node_modules', '@vladmandic', 'human-models', 'models');
const EMOTION_JSON = path.join(MODELS_DIR, 'emotion.json');
const FACEMESH_JSON = path.join(MODELS_DIR, 'facemesh.json');
const BLAZEFACE_FULL_JSON = path.join(MODELS_DIR, 'facemesh-detection-full.json');
const BLAZEFACE_FULL_ONNX = path.join(REPO_ROOT, 'models', 'blazeface-full-192.onnx');
const BLAZEFACE_FULL_MANIFEST = path.join(REPO_ROOT, 'models', 'blazeface-full-192.json');
const COMMITTED_ONNX = path.join(REPO_ROOT, 'models', 'vs-fer2013-minixception.onnx');
const COMMITTED_MANIFEST = path.join(REPO_ROOT, 'models', 'vs-fer2013-minixception.json');
const TOLERANCE = 1e-5;



/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInput(n: number, seed: number, lo: number, hi: number): Float32Array {
  const rnd = seededRandom(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rnd();
  return out;
}

async function runTfjs(model: GraphModel, data: Float32Array, shape: number[], outputs?: string[]): Promise<Float32Array[]> {
  const x = tf.tensor(data, shape, 'float32');
  try {
    const y = model.execute(x, outputs);
    const ys = Array.isArray(y) ? y : [y];
    const values = await Promise.all(ys.map(async (t) => Float32Array.from(await t.data())));
    ys.forEach((t) => t.dispose());
    return values;
  } finally {
    x.dispose();
  }
}

async function runOnnx(session: ort.InferenceSession, data: Float32Array, shape: number[]): Promise<Record<string, ort.Tensor>> {
  return session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, shape) });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'output lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Decodes an image to packed RGB24 with the system ffmpeg. */
function decodeRgb(file: string): { width: number; height: number; rgb: Buffer } {
  const probe = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  const [width, height] = probe.trim().split(',').map(Number);
  const rgb = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 * 1024 * 1024 });
  assert.equal(rgb.length, width * height * 3, 'decoded size');
  return { width, height, rgb };
}

/**
 * The preprocessing the manifest describes: crop (x, y, size), bilinear stretch to `out`×`out`
 * (half-pixel centres), gray = weights · rgb, value = (gray * scale - mean) / std.
 */
function preprocessFace(img: { width: number; rgb: Buffer }, crop: { x: number; y: number; size: number }, m: ModelManifest): Float32Array {
  const [outH, outW] = m.preprocessing.size;
  const [wr, wg, wb] = m.preprocessing.grayWeights ?? [1 / 3, 1 / 3, 1 / 3];
  const { scale } = m.preprocessing;
  const [mean] = m.preprocessing.mean;
  const [std] = m.preprocessing.std;
  const px = (x: number, y: number, c: number): number => img.rgb[((crop.y + y) * img.width + crop.x + x) * 3 + c];
  const out = new Float32Array(outH * outW);
  for (let oy = 0; oy < outH; oy++) {
    const sy = Math.min(Math.max((oy + 0.5) * (crop.size / outH) - 0.5, 0), crop.size - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, crop.size - 1);
    const fy = sy - y0;
    for (let ox = 0; ox < outW; ox++) {
      const sx = Math.min(Math.max((ox + 0.5) * (crop.size / outW) - 0.5, 0), crop.size - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, crop.size - 1);
      const fx = sx - x0;
      const rgb = [0, 1, 2].map((c) => (px(x0, y0, c) * (1 - fx) + px(x1, y0, c) * fx) * (1 - fy) + (px(x0, y1, c) * (1 - fx) + px(x1, y1, c) * fx) * fy);
      const gray = wr * rgb[0] + wg * rgb[1] + wb * rgb[2];
      out[oy * outW + ox] = (gray * scale - mean) / std;
    }
  }
  return out;
}

function assertProbabilityRows(data: ArrayLike<number>, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let c = 0; c < cols; c++) {
      const p = data[r * cols + c];
      assert.ok(p >= 0 && p <= 1, `row ${r} class ${c}: ${p} is not a probability`);
      sum += p;
    }
    assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
  }
}

/** The CLI, quietly (it reports what it wrote). */
function runCliQuiet(args: string[]): ReturnType<typeof runCli> {
  const log = console.log;
  console.log = () => undefined;
  try {
    return runCli(args);
  } finally {
    console.log = log;
  }
}

/** Letterboxes an RGB image to `size`×`size` (bilinear, half-pixel centres, black bars) as p * 2/255 - 1, NHWC. */
function letterboxRgb(img: { width: number; height: number; rgb: Buffer }, size: number): Float32Array {
  const scale = Math.min(size / img.width, size / img.height);
  const w = Math.round(img.width * scale);
  const h = Math.round(img.height * scale);
  const ox = Math.floor((size - w) / 2);
  const oy = Math.floor((size - h) / 2);
  const out = new Float32Array(size * size * 3).fill(-1);
  const px = (x: number, y: number, c: number): number => img.rgb[(y * img.width + x) * 3 + c];
  for (let y = 0; y < h; y++) {
    const sy = Math.min(Math.max((y + 0.5) / scale - 0.5, 0), img.height - 1);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const fy = sy - y0;
    for (let x = 0; x < w; x++) {
      const sx = Math.min(Math.max((x + 0.5) / scale - 0.5, 0), img.width - 1);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const fx = sx - x0;
      for (let c = 0; c < 3; c++) {
        const v = (px(x0, y0, c) * (1 - fx) + px(x1, y0, c) * fx) * (1 - fy) + (px(x0, y1, c) * (1 - fx) + px(x1, y1, c) * fx) * fy;
        out[((oy + y) * size + ox + x) * 3 + c] = v * (2 / 255) - 1;
      }
    }
  }
  return out;
}

/** First frame of a video as RGB24. */
function decodeFirstFrame(file: string): { width: number; height: number; rgb: Buffer } {
  const probe = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'csv=p=0', file], { encoding: 'utf8' });
  const [width, height] = probe.trim().split(',').map(Number);
  const rgb = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { maxBuffer: 64 * 1024 * 1024 });
  return { width, height, rgb };
}

// ------------------------------------------------------------ small synthetic graphs, for single ops

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const ints = (...v: number[]): { list: { i: string[] } } => ({ list: { i: v.map(String) } });

/**
 * A tfjs graph model held in memory: `nodes` after a float Placeholder `x` of `inputShape`, with
 * the constants stored as weights, as the tfjs converter writes them. Returns the converter's
 * reading of it and a tfjs GraphModel of the same JSON and weights.
 */
async function syntheticModel(inputShape: number[], consts: Record<string, HostTensor>, nodes: TfNodeDef[]): Promise<{ model: TfjsGraphModel; tfModel: GraphModel }> {
  const weightSpecs: TfjsWeightSpec[] = [];
  const chunks: Buffer[] = [];
  const constNodes: TfNodeDef[] = [];
  for (const [name, t] of Object.entries(consts)) {
    const dtype = t.dtype === 'float32' ? 'float32' : 'int32';
    weightSpecs.push({ name, shape: t.shape, dtype });
    chunks.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    const tfType = dtype === 'float32' ? 'DT_FLOAT' : 'DT_INT32';
    constNodes.push({ name, op: 'Const', attr: { dtype: { type: tfType }, value: { tensor: { dtype: tfType, tensorShape: { dim: t.shape.map((d) => ({ size: String(d) })) } } } } });
  }
  const all = Buffer.concat(chunks);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  const placeholder: TfNodeDef = { name: 'x', op: 'Placeholder', attr: { dtype: { type: 'DT_FLOAT' }, shape: { shape: { dim: inputShape.map((d) => ({ size: String(d) })) } } } };
  const json = { format: 'graph-model', modelTopology: { node: [placeholder, ...constNodes, ...nodes], versions: { producer: 1 } }, weightsManifest: [{ paths: [], weights: weightSpecs }] };
  const weights = new Map(Object.entries(consts));
  const tfModel = await loadGraphModel({
    load: async () => ({ modelTopology: json.modelTopology, format: json.format, weightSpecs, weightData }),
  });
  return { model: { json, weights, weightData, weightSpecs }, tfModel };
}

const f32 = (shape: number[], seed: number): HostTensor => ({ dtype: 'float32', shape, data: randomInput(shape.reduce((p, q) => p * q, 1), seed, -1, 1) });
const i32 = (...v: number[]): HostTensor => ({ dtype: 'int32', shape: [v.length], data: Int32Array.from(v) });
const i32Scalar = (v: number): HostTensor => ({ dtype: 'int32', shape: [], data: Int32Array.from([v]) });

describe('tools/tfjs-to-onnx', function () {
  this.timeout(120000);
  let tmp: string;
  let manifest: ModelManifest;
  let tfModel: GraphModel;
  let session: ort.InferenceSession;

  before(async function () {
    await tfjsCpu();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-to-onnx-'));
    manifest = JSON.parse(fs.readFileSync(COMMITTED_MANIFEST, 'utf8')) as ModelManifest;
    tfModel = await loadTfjsFromDisk(EMOTION_JSON);
    session = await ort.InferenceSession.create(COMMITTED_ONNX);
  });

  after(async function () {
    await session?.release();
    tfModel?.dispose();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('vs-fer2013-minixception', function () {
    it('reconverts to the committed ONNX file and manifest, byte for byte', function () {
      const out = path.join(tmp, 'vs-fer2013-minixception.onnx');
      const log = console.log;
      console.log = () => undefined; // the CLI reports what it wrote; keep the test output clean
      let res: ReturnType<typeof runCli>;
      try {
        res = runCli(['--in', EMOTION_JSON, '--out', out]);
      } finally {
        console.log = log;
      }
      const committed = fs.readFileSync(COMMITTED_ONNX);
      const fresh = fs.readFileSync(out);
      assert.equal(res.sha256, crypto.createHash('sha256').update(committed).digest('hex'));
      assert.ok(fresh.equals(committed), 'reconverted ONNX differs from models/vs-fer2013-minixception.onnx');
      assert.equal(res.manifestPath, path.join(tmp, 'vs-fer2013-minixception.json'));
      assert.equal(fs.readFileSync(res.manifestPath, 'utf8'), fs.readFileSync(COMMITTED_MANIFEST, 'utf8'));
    });

    it('has a manifest that describes the committed file and its graph', function () {
      assert.equal(manifest.sha256, crypto.createHash('sha256').update(fs.readFileSync(COMMITTED_ONNX)).digest('hex'));
      assert.equal(manifest.id, 'vs-fer2013-minixception');
      assert.equal(manifest.file, path.basename(COMMITTED_ONNX));
      assert.equal(manifest.task, 'static-visual');
      assert.deepEqual(session.inputNames, [manifest.input.name]);
      assert.deepEqual(session.outputNames, [manifest.outputs.scores]);
      assert.deepEqual(manifest.input.shape, [-1, 64, 64, 1]);
      assert.equal(manifest.input.layout, 'NHWC');
      assert.deepEqual(manifest.preprocessing.size, [64, 64]);
      assert.equal(manifest.outputKind, 'probabilities');
      assert.deepEqual(manifest.labels, ['Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Surprise', 'Neutral']);
      // Input (NHWC, dynamic batch) and output metadata as the graph declares them.
      const meta = session.inputMetadata[0];
      assert.ok(meta.isTensor);
      if (meta.isTensor) assert.deepEqual(meta.shape, ['N', 64, 64, 1]);
    });

    it(`matches tfjs on seeded random inputs, batched (max |diff| <= ${TOLERANCE})`, async function () {
      const batch = 5;
      const shape = [batch, 64, 64, 1];
      let worst = 0;
      // Full-range noise drives the softmax to near one-hot; low-amplitude noise keeps it spread.
      for (const [seed, amplitude] of [[1, 1], [2, 1], [3, 0.05], [4, 0.02]]) {
        const x = randomInput(batch * 64 * 64, seed, -amplitude, amplitude);
        const [expected] = await runTfjs(tfModel, x, shape);
        const got = (await runOnnx(session, x, shape))[manifest.outputs.scores];
        assert.deepEqual(got.dims, [batch, 7]);
        const y = got.data as Float32Array;
        assertProbabilityRows(y, batch, 7);
        worst = Math.max(worst, maxAbsDiff(y, expected));
      }
      console.log(`      random inputs: max |onnx - tfjs| = ${worst.toExponential(3)}`);
      assert.ok(worst <= TOLERANCE, `max abs difference ${worst}`);
    });

    it(`matches tfjs before the softmax too (logits, max |diff| <= ${TOLERANCE} x max |logit|)`, async function () {
      // The same conversion with the global-average-pool output (the logits) exposed as well.
      const logitsRef = 'StatefulPartitionedCall/model_1/global_average_pooling2d_1/Mean:0';
      const variant = convertGraphModel(readTfjsGraphModel(EMOTION_JSON), { outputs: [logitsRef, 'Identity:0'] });
      const s2 = await ort.InferenceSession.create(variant.bytes);
      try {
        assert.deepEqual(variant.outputs.map((o) => o.shape), [[-1, 7], [-1, 7]]);
        const batch = 4;
        const shape = [batch, 64, 64, 1];
        let worst = 0;
        let scale = 0;
        for (const [seed, amplitude] of [[11, 1], [12, 0.05]]) {
          const x = randomInput(batch * 64 * 64, seed, -amplitude, amplitude);
          const [expectedLogits, expectedProbs] = await runTfjs(tfModel, x, shape, [logitsRef, 'Identity:0']);
          const got = await runOnnx(s2, x, shape);
          const logits = got[variant.outputs[0].name].data as Float32Array;
          assert.deepEqual(got[variant.outputs[0].name].dims, [batch, 7]);
          // The committed model's output is the softmax of these logits.
          const probs = got[variant.outputs[1].name].data as Float32Array;
          for (let r = 0; r < batch; r++) {
            const row = logits.subarray(7 * r, 7 * r + 7);
            const m = Math.max(...row);
            const z = row.reduce((acc, v) => acc + Math.exp(v - m), 0);
            for (let c = 0; c < 7; c++) assert.ok(Math.abs(Math.exp(row[c] - m) / z - probs[7 * r + c]) < 1e-6);
          }
          assert.ok(maxAbsDiff(probs, expectedProbs) <= TOLERANCE);
          scale = Math.max(scale, ...Array.from(expectedLogits, Math.abs));
          worst = Math.max(worst, maxAbsDiff(logits, expectedLogits));
        }
        console.log(`      logits: max |onnx - tfjs| = ${worst.toExponential(3)} (max |logit| ${scale.toFixed(2)})`);
        assert.ok(worst <= TOLERANCE * Math.max(1, scale), `max abs logit difference ${worst}`);
      } finally {
        await s2.release();
      }
    });

    it(`matches tfjs on a real face and reads it as happy (max |diff| <= ${TOLERANCE})`, async function () {
      const img = decodeRgb(ASTRONAUT_PNG);
      // Eileen Collins' face in the 512×512 scikit-image astronaut photo (hairline to chin).
      const face = preprocessFace(img, { x: 165, y: 62, size: 120 }, manifest);
      const whole = preprocessFace(img, { x: 0, y: 0, size: 512 }, manifest);
      let worst = 0;
      for (const x of [face, whole]) {
        const shape = [1, 64, 64, 1];
        const [expected] = await runTfjs(tfModel, x, shape);
        const got = (await runOnnx(session, x, shape))[manifest.outputs.scores];
        assert.deepEqual(got.dims, [1, 7]);
        const y = got.data as Float32Array;
        assertProbabilityRows(y, 1, 7);
        worst = Math.max(worst, maxAbsDiff(y, expected));
        if (x === face) {
          const top = y.indexOf(Math.max(...y));
          const shown = (manifest.labels ?? []).map((l, i) => `${l} ${y[i].toExponential(2)}`).join(', ');
          console.log(`      astronaut face: ${shown}`);
          assert.equal((manifest.labels ?? [])[top], 'Happiness', `smiling face classified as ${(manifest.labels ?? [])[top]}`);
        }
      }
      console.log(`      astronaut: max |onnx - tfjs| = ${worst.toExponential(3)}`);
      assert.ok(worst <= TOLERANCE, `max abs difference ${worst}`);
    });
  });

  describe('generality: MediaPipe facemesh', function () {
    it('converts facemesh.json and matches tfjs on all three outputs', async function () {
      const out = path.join(tmp, 'facemesh.onnx');
      const log = console.log;
      console.log = () => undefined;
      try {
        runCli(['--in', FACEMESH_JSON, '--out', out]);
      } finally {
        console.log = log;
      }
      const mesh = await loadTfjsFromDisk(FACEMESH_JSON);
      const fm = await ort.InferenceSession.create(out);
      try {
        const shape = [2, 192, 192, 3];
        const x = randomInput(2 * 192 * 192 * 3, 7, 0, 1);
        const names = ['Identity_2:0', 'Identity_1:0', 'Identity:0'];
        const expected = await runTfjs(mesh, x, shape, names);
        const got = await runOnnx(fm, x, shape);
        const report: string[] = [];
        names.forEach((n, k) => {
          const y = got[n.replace(/:0$/, '')];
          assert.ok(y, `ONNX output for ${n}`);
          // Landmarks are pixel coordinates (0..192): compare relative to their magnitude.
          const scale = Math.max(1, ...Array.from(expected[k], Math.abs));
          const diff = maxAbsDiff(y.data as ArrayLike<number>, expected[k]);
          report.push(`${n} ${diff.toExponential(3)} (max |value| ${scale.toFixed(1)})`);
          assert.ok(diff / scale <= 1e-5, `${n}: max abs difference ${diff} (scale ${scale})`);
        });
        console.log(`      facemesh: max |onnx - tfjs|: ${report.join(', ')}`);
      } finally {
        await fm.release();
        mesh.dispose();
      }
    });
  });
  describe('blazeface-full-192 (MediaPipe full-range face detector)', function () {
    let bf: GraphModel;
    let bfSession: ort.InferenceSession;
    let bfManifest: ModelManifest;
    before(async function () {
      bf = await loadTfjsFromDisk(BLAZEFACE_FULL_JSON);
      bfSession = await ort.InferenceSession.create(BLAZEFACE_FULL_ONNX);
      bfManifest = JSON.parse(fs.readFileSync(BLAZEFACE_FULL_MANIFEST, 'utf8')) as ModelManifest;
    });
    after(async function () {
      await bfSession?.release();
      bf?.dispose();
    });

    it('reconverts to the committed ONNX file and manifest, byte for byte, twice over', function () {
      for (const round of [1, 2]) {
        const out = path.join(tmp, `round${round}`, 'blazeface-full-192.onnx');
        const res = runCliQuiet(['--in', BLAZEFACE_FULL_JSON, '--out', out]);
        const committed = fs.readFileSync(BLAZEFACE_FULL_ONNX);
        assert.equal(res.sha256, crypto.createHash('sha256').update(committed).digest('hex'));
        assert.ok(fs.readFileSync(out).equals(committed), 'reconverted ONNX differs from models/blazeface-full-192.onnx');
        assert.equal(res.manifestPath, path.join(tmp, `round${round}`, 'blazeface-full-192.json'));
        assert.equal(fs.readFileSync(res.manifestPath, 'utf8'), fs.readFileSync(BLAZEFACE_FULL_MANIFEST, 'utf8'));
      }
      assert.equal(bfManifest.sha256, crypto.createHash('sha256').update(fs.readFileSync(BLAZEFACE_FULL_ONNX)).digest('hex'));
    });

    it('declares its input and its two [N, 2304, 17] heads; the shape arithmetic is folded away', function () {
      assert.deepEqual(bfSession.inputNames, [bfManifest.input.name]);
      assert.deepEqual([...bfSession.outputNames].sort(), ['Identity', 'Identity_1']);
      assert.equal(bfManifest.outputs.scores, 'Identity');
      assert.equal(bfManifest.outputs.boxes, 'Identity');
      assert.equal(bfManifest.outputs.person, 'Identity_1');
      for (const meta of bfSession.outputMetadata) {
        assert.ok(meta.isTensor);
        if (meta.isTensor) assert.deepEqual(meta.shape, ['N', 2304, 17]);
      }
      // Shape → StridedSlice → Pack (the batch as a reshape target) became a constant [0, -1, k].
      const ops = (convertGraphModel(readTfjsGraphModel(BLAZEFACE_FULL_JSON)).model.graph?.node ?? []).map((n) => n.opType ?? '');
      const count = (op: string): number => ops.filter((o) => o === op).length;
      assert.deepEqual([count('DepthToSpace'), count('Resize'), count('Reshape')], [4, 3, 4]);
      // Only the Resize sizes of a dynamic batch read a shape at run time.
      assert.equal(count('Shape'), count('Resize'));
      assert.deepEqual(['Cast', 'Gather', 'Squeeze', 'Unsqueeze'].map(count), [0, 0, 0, 0]);
    });

    it('matches tfjs on seeded random inputs and on real faces (max |diff| <= 1e-3 on logits and pixel offsets)', async function () {
      const shape1 = [1, 192, 192, 3];
      const inputs: Array<[string, Float32Array, number[]]> = [
        ['random x2', randomInput(2 * 192 * 192 * 3, 21, -1, 1), [2, 192, 192, 3]],
        ['astronaut', letterboxRgb(decodeRgb(ASTRONAUT_PNG), 192), shape1],
        ['ravdess frame 0', letterboxRgb(decodeFirstFrame(RAVDESS_CLIP), 192), shape1],
      ];
      const report: string[] = [];
      for (const [label, x, shape] of inputs) {
        const expected = await runTfjs(bf, x, shape, ['Identity:0', 'Identity_1:0']);
        const got = await runOnnx(bfSession, x, shape);
        const diffs = ['Identity', 'Identity_1'].map((n, k) => {
          assert.deepEqual(got[n].dims, [shape[0], 2304, 17]);
          return maxAbsDiff(got[n].data as Float32Array, expected[k]);
        });
        const [faceScores] = [expected[0].filter((_, i) => i % 17 === 0)];
        const best = 1 / (1 + Math.exp(-Math.max(...faceScores)));
        report.push(`${label} ${diffs.map((d) => d.toExponential(2)).join('/')} (best face ${best.toFixed(3)})`);
        if (label !== 'random x2') assert.ok(best > 0.8, `${label}: best face score ${best}`);
        for (const d of diffs) assert.ok(d <= 1e-3, `${label}: max abs difference ${d}`);
      }
      console.log(`      max |onnx - tfjs| face/person: ${report.join('; ')}`);
    });
  });

  describe('single ops on synthetic graphs, against tfjs (NCHW-carried inputs, dynamic batch)', function () {
    it('DepthToSpace, ResizeBilinear (3 coordinate modes), Shape/StridedSlice/Pack → Reshape, StridedSlice and Pack', async function () {
      const conv = 'conv';
      const consts: Record<string, HostTensor> = {
        w: f32([1, 1, 8, 8], 31),
        size79: i32(7, 9),
        size812: i32(8, 12),
        ssBegin: i32(0), ssEnd: i32(1), ssStride: i32(1),
        minus1: i32Scalar(-1), two: i32Scalar(2),
        b4: i32(0, 1, -1, 0), e4: i32(0, 4, 0, 8), s4: i32(1, 2, -2, 3),
        bShrink: i32(0, 0, 0, 2), eShrink: i32(0, 0, 0, 3), sShrink: i32(1, 1, 1, 1),
      };
      const nodes: TfNodeDef[] = [
        { name: conv, op: 'Conv2D', input: ['x', 'w'], attr: { strides: ints(1, 1, 1, 1), padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') }, dilations: ints(1, 1, 1, 1) } },
        { name: 'd2s', op: 'DepthToSpace', input: [conv], attr: { block_size: { i: '2' }, data_format: { s: b64('NHWC') } } },
        { name: 'rHalf', op: 'ResizeBilinear', input: [conv, 'size79'], attr: { align_corners: { b: false }, half_pixel_centers: { b: true } } },
        { name: 'rAlign', op: 'ResizeBilinear', input: [conv, 'size79'], attr: { align_corners: { b: true }, half_pixel_centers: { b: false } } },
        { name: 'rLegacy', op: 'ResizeBilinear', input: [conv, 'size812'], attr: { align_corners: { b: false }, half_pixel_centers: { b: false } } },
        { name: 'shape', op: 'Shape', input: ['d2s'], attr: { out_type: { type: 'DT_INT32' } } },
        { name: 'batch', op: 'StridedSlice', input: ['shape', 'ssBegin', 'ssEnd', 'ssStride'], attr: { shrink_axis_mask: { i: '1' } } },
        { name: 'target', op: 'Pack', input: ['batch', 'minus1', 'two'], attr: { axis: { i: '0' }, N: { i: '3' } } },
        { name: 'flat', op: 'Reshape', input: ['d2s', 'target'] },
        { name: 'strided', op: 'StridedSlice', input: [conv, 'b4', 'e4', 's4'], attr: { begin_mask: { i: '1' }, end_mask: { i: '1' } } },
        { name: 'channel2', op: 'StridedSlice', input: [conv, 'bShrink', 'eShrink', 'sShrink'], attr: { begin_mask: { i: '7' }, end_mask: { i: '7' }, shrink_axis_mask: { i: '8' } } },
        { name: 'stacked', op: 'Pack', input: ['channel2', 'channel2'], attr: { axis: { i: '1' }, N: { i: '2' } } },
      ];
      // shape and target as outputs too: computed at run time (Shape of an NCHW value, Slice, Pack).
      const outputs = ['d2s', 'rHalf', 'rAlign', 'rLegacy', 'flat', 'strided', 'channel2', 'stacked', 'shape', 'target'];
      const { model, tfModel } = await syntheticModel([-1, 4, 6, 8], consts, nodes);
      const conv2 = convertGraphModel(model, { outputs: outputs.map((o) => `${o}:0`) });
      const session = await ort.InferenceSession.create(conv2.bytes);
      try {
        const shape = [2, 4, 6, 8];
        const x = randomInput(2 * 4 * 6 * 8, 32, -1, 1);
        const expected = await runTfjs(tfModel, x, shape, outputs.map((o) => `${o}:0`));
        const got = await runOnnx(session, x, shape);
        const report: string[] = [];
        outputs.forEach((o, k) => {
          const y = got[o];
          const declared = conv2.outputs[k].shape;
          assert.deepEqual(y.dims.map((d, i) => (declared[i] === -1 ? -1 : d)), declared, `${o}: declared shape`);
          const diff = maxAbsDiff(y.data as ArrayLike<number>, expected[k]);
          report.push(`${o} [${y.dims.join('x')}] ${diff.toExponential(1)}`);
          assert.ok(diff <= 1e-5, `${o}: max abs difference ${diff}`);
        });
        assert.deepEqual(conv2.outputs.map((o) => o.shape), [[-1, 8, 12, 2], [-1, 7, 9, 8], [-1, 7, 9, 8], [-1, 8, 12, 8], [-1, 96, 2], [-1, 2, 3, 3], [-1, 4, 6], [-1, 2, 4, 6], [4], [3]]);
        assert.deepEqual(Array.from(got.target.data as Int32Array), [2, -1, 2]);
        console.log(`      ${report.join(', ')}`);
      } finally {
        await session.release();
        tfModel.dispose();
      }
    });

    it('folds Shape, StridedSlice and Pack to constants when the shape is static', async function () {
      const consts: Record<string, HostTensor> = {
        b: i32(1), e: i32(3), s: i32(1), k: i32Scalar(-1), w: f32([1, 1, 3, 4], 41),
      };
      const nodes: TfNodeDef[] = [
        { name: 'conv', op: 'Conv2D', input: ['x', 'w'], attr: { strides: ints(1, 1, 1, 1), padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') }, dilations: ints(1, 1, 1, 1) } },
        { name: 'shape', op: 'Shape', input: ['conv'], attr: { out_type: { type: 'DT_INT32' } } },
        { name: 'hw', op: 'StridedSlice', input: ['shape', 'b', 'e', 's'] },
        { name: 'h', op: 'StridedSlice', input: ['shape', 'b', 'e', 's'], attr: { shrink_axis_mask: { i: '1' } } },
        { name: 'target', op: 'Pack', input: ['h', 'k'], attr: { axis: { i: '0' }, N: { i: '2' } } },
        { name: 'out', op: 'Reshape', input: ['conv', 'target'] },
      ];
      const { model, tfModel } = await syntheticModel([1, 5, 6, 3], consts, nodes);
      try {
        const result = convertGraphModel(model, { outputs: ['out:0', 'hw:0'] });
        const ops = (result.model.graph?.node ?? []).map((n) => n.opType ?? '');
        assert.deepEqual(ops.filter((o) => ['Shape', 'Slice', 'Squeeze', 'Unsqueeze', 'Concat', 'Cast'].includes(o)), []);
        assert.deepEqual(result.outputs.map((o) => o.shape), [[5, 24], [2]]);
        const session = await ort.InferenceSession.create(result.bytes);
        try {
          const x = randomInput(5 * 6 * 3, 42, -1, 1);
          const [expected, hw] = await runTfjs(tfModel, x, [1, 5, 6, 3], ['out:0', 'hw:0']);
          const got = await runOnnx(session, x, [1, 5, 6, 3]);
          assert.ok(maxAbsDiff(got.out.data as Float32Array, expected) <= 1e-5);
          assert.deepEqual(Array.from(got.hw.data as Int32Array), Array.from(hw));
        } finally {
          await session.release();
        }
      } finally {
        tfModel.dispose();
      }
    });
  });
});
