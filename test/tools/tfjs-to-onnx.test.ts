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
import { runCli } from '../../tools/tfjs-to-onnx/main';
import type { ModelManifest } from '../../tools/tfjs-to-onnx/manifest';
import { readTfjsGraphModel } from '../../tools/tfjs-to-onnx/tfjs-model';
import { ASTRONAUT_PNG, REPO_ROOT } from '../helpers/testdata';
import { loadTfjsFromDisk, tf, tfjsCpu, type GraphModel } from '../helpers/tfjs';

const MODELS_DIR = path.join(REPO_ROOT, 'node_modules', '@vladmandic', 'human-models', 'models');
const EMOTION_JSON = path.join(MODELS_DIR, 'emotion.json');
const FACEMESH_JSON = path.join(MODELS_DIR, 'facemesh.json');
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
          const shown = manifest.labels.map((l, i) => `${l} ${y[i].toExponential(2)}`).join(', ');
          console.log(`      astronaut face: ${shown}`);
          assert.equal(manifest.labels[top], 'Happiness', `smiling face classified as ${manifest.labels[top]}`);
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
          const diff = maxAbsDiff(y.data as Float32Array, expected[k]);
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
});
