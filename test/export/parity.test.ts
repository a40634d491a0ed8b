/**
 * tools/export: exports random-weight VS, VD and (shallow) A models, runs the same inputs through
 * PyTorch (saved by the tool) and through onnxruntime-node via our models layer, and compares.
 * Also checks the manifests the pipeline reads, the dynamic batch axis, and the int8 rewrite.
 *
 * Needs Debian's python3-torch, python3-torchaudio and python3-onnx (CI installs them with
 * tools/setup.sh --export); without them the suite is skipped with a message naming what is missing.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runExportTool, type ExportedModel } from '../../src/models/export';
import { requireTorch } from '../helpers/python';
import { loadManifest, type LoadedManifest } from '../../src/models/manifest';
import { acquireSession, type ModelSession } from '../../src/models/session';
import { readAudio } from '../../src/media/audio';
import { decodeFrames } from '../../src/media/frame-decoder';
import { ACOUSTIC_WINDOW_SAMPLES, normaliseWindow } from '../../src/stages/acoustic';
import { VSInput } from '../../src/stages/vs';
import { BlazeFaceDetector } from '../../src/vision/blazeface';
import { RAVDESS_CLIP } from '../helpers/testdata';

const TOLERANCE = 1e-4;
const THREADS = 2;
/** CI exports a 2-layer backbone (same code as the 12-layer one) to stay fast. */
const ACOUSTIC_LAYERS = 2;

interface ReferenceTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

interface Reference {
  readonly input: ReferenceTensor;
  readonly outputs: Readonly<Record<string, ReferenceTensor>>;
}

interface ReferenceJson {
  input: { file: string; shape: number[] };
  outputs: Record<string, { file: string; shape: number[] }>;
}

function readF32(file: string, shape: readonly number[]): ReferenceTensor {
  const bytes = fs.readFileSync(file);
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  assert.equal(data.length, shape.reduce((a, b) => a * b, 1), `${file}: size does not match shape ${shape.join('x')}`);
  return { data, shape };
}

function readReference(folder: string): Reference {
  const meta = JSON.parse(fs.readFileSync(path.join(folder, 'reference.json'), 'utf8')) as ReferenceJson;
  const outputs: Record<string, ReferenceTensor> = {};
  for (const [name, o] of Object.entries(meta.outputs)) outputs[name] = readF32(path.join(folder, o.file), o.shape);
  return { input: readF32(path.join(folder, meta.input.file), meta.input.shape), outputs };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

function maxAbs(a: Float32Array): number {
  let worst = 0;
  for (const v of a) worst = Math.max(worst, Math.abs(v));
  return worst;
}

/** Row `i` of a batch tensor, as a batch of one. */
function row(t: ReferenceTensor, i: number): ReferenceTensor {
  const size = t.data.length / t.shape[0];
  return { data: t.data.slice(i * size, (i + 1) * size), shape: [1, ...t.shape.slice(1)] };
}

describe('tools/export parity (PyTorch vs onnxruntime-node)', function () {
  this.timeout(900000);
  let workDir = '';
  const exported = new Map<string, readonly ExportedModel[]>();

  before(async function () {
    const status = requireTorch(this);
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-export-'));
    const python = status.python;
    // One at a time: the machine is shared and the exports are memory-hungry.
    exported.set('vs', (await runExportTool(python, ['vs', '--random-weights', '--seed', '3', '--out', workDir, '--reference', '3', '--quantize', 'int8-static'])).models);
    exported.set('vd', (await runExportTool(python, ['vd', '--random-weights', '--seed', '3', '--out', workDir, '--reference', '3'])).models);
    exported.set(
      'a',
      (await runExportTool(python, ['a', '--random-weights', '--seed', '3', '--layers', String(ACOUSTIC_LAYERS), '--out', workDir, '--reference', '2', '--quantize', 'int8-static'])).models,
    );
  });

  after(function () {
    if (workDir !== '') fs.rmSync(workDir, { recursive: true, force: true });
  });

  async function check(kind: string, outputNames: readonly string[]): Promise<{ manifest: LoadedManifest; diffs: Record<string, number>; session: ModelSession; reference: Reference }> {
    const fp32 = exported.get(kind)?.[0];
    assert.ok(fp32 !== undefined && fp32.reference !== undefined);
    const manifest = await loadManifest(fp32.manifest);
    const reference = readReference(fp32.reference);
    const session = await acquireSession(manifest, { intraOpNumThreads: THREADS });
    const out = await session.run({ [manifest.input.name]: reference.input });
    const diffs: Record<string, number> = {};
    for (const name of outputNames) {
      const expected = reference.outputs[name];
      assert.deepEqual([...out[name].dims], [...expected.shape], `${kind} ${name} dims`);
      diffs[name] = maxAbsDiff(out[name].data, expected.data);
      // Outputs of a sensible size, so the tolerance means something.
      const scale = maxAbs(expected.data);
      assert.ok(scale > 0.05 && scale < 1e4, `${kind} ${name}: reference magnitude ${scale}`);
      console.log(`      ${kind} ${name}: max |onnxruntime - PyTorch| = ${diffs[name].toExponential(2)} (outputs up to ${scale.toFixed(3)})`);
      assert.ok(diffs[name] <= TOLERANCE, `${kind} ${name}: max abs diff ${diffs[name]} > ${TOLERANCE}`);
    }
    // The batch axis is dynamic: one row alone gives that row's outputs.
    const single = await session.run({ [manifest.input.name]: row(reference.input, 1) });
    for (const name of outputNames) {
      assert.deepEqual([...single[name].dims], [1, ...reference.outputs[name].shape.slice(1)]);
      assert.ok(maxAbsDiff(single[name].data, row(reference.outputs[name], 1).data) <= TOLERANCE, `${kind} ${name}: batch of one differs`);
    }
    return { manifest, diffs, session, reference };
  }

  it('VS ResNet-50: logits and features match within 1e-4; the manifest is what the pipeline reads', async function () {
    const { manifest, session } = await check('vs', ['logits', 'features']);
    try {
      assert.equal(manifest.task, 'static-visual');
      assert.deepEqual(manifest.input, { name: 'input', shape: [-1, 3, 224, 224], layout: 'NCHW', dtype: 'float32' });
      assert.deepEqual(manifest.outputs, { scores: 'logits', features: 'features' });
      assert.equal(manifest.outputKind, 'logits');
      assert.deepEqual(manifest.preprocessing, {
        size: [224, 224],
        colour: 'bgr',
        scale: 1,
        mean: [91.4953, 103.8827, 131.0912],
        std: [1, 1, 1],
        interpolation: 'nearest',
        resize: 'stretch',
      });
      assert.deepEqual(manifest.labels, ['Neutral', 'Happiness', 'Sadness', 'Surprise', 'Fear', 'Disgust', 'Anger']);
      // Random weights carry no one's licence restrictions.
      assert.equal(manifest.nonCommercial, false);
      assert.match(manifest.source, /random weights/);
    } finally {
      await session.release();
    }
  });

  it('VS int8 static: every convolution in QDQ form with calibrated ranges; on real faces close to fp32, same top class', async function () {
    const [fp32, int8] = exported.get('vs') ?? [];
    assert.ok(fp32 !== undefined && int8 !== undefined && int8.quantisation !== undefined);
    assert.equal(int8.id, `${fp32.id}-int8s`);
    assert.equal(int8.quantisation.conv, 53, JSON.stringify(int8.quantisation)); // ResNet-50's convolutions
    assert.ok(int8.bytes < 0.35 * fp32.bytes, `int8 ${int8.bytes} bytes vs fp32 ${fp32.bytes}`);
    const [m32, m8] = await Promise.all([loadManifest(fp32.manifest), loadManifest(int8.manifest)]);
    assert.match(m8.description ?? '', /static quantisation/);
    const [s32, s8] = await Promise.all([acquireSession(m32, { intraOpNumThreads: THREADS }), acquireSession(m8, { intraOpNumThreads: THREADS })]);
    const prepare = new VSInput(m32);
    const detector = await BlazeFaceDetector.load('front-128', { intraOpNumThreads: 1 });
    try {
      let faces = 0;
      let agree = 0;
      for await (const frame of decodeFrames(RAVDESS_CLIP)) {
        if (frame.index % 10 !== 0) continue;
        const [face] = await detector.detect(frame);
        assert.ok(face, `a face in frame ${frame.index}`);
        const input = { data: Float32Array.from(prepare.prepare(frame, face.box, { keypoints: face.keypoints })[0]), shape: prepare.shape };
        const [a, b] = [await s32.run({ input }), await s8.run({ input })];
        for (const name of ['logits', 'features']) {
          const diff = maxAbsDiff(b[name].data, a[name].data);
          const scale = maxAbs(a[name].data);
          assert.ok(diff <= 0.15 * scale, `frame ${frame.index} ${name}: int8 differs by ${diff}, values up to ${scale}`);
        }
        const top = (v: Float32Array): number => v.indexOf(Math.max(...v));
        if (top(a.logits.data) === top(b.logits.data)) agree++;
        faces++;
      }
      assert.equal(faces, 10);
      assert.ok(agree >= 9, `top class agrees on ${agree} of ${faces} faces`);
    } finally {
      await Promise.all([s32.release(), s8.release(), detector.release()]);
    }
  });

  it('VD LSTM: logits match within 1e-4; input [-1, 10, 512] NTC', async function () {
    const { manifest, session } = await check('vd', ['logits']);
    try {
      assert.equal(manifest.task, 'dynamic-visual');
      assert.deepEqual(manifest.input, { name: 'input', shape: [-1, 10, 512], layout: 'NTC', dtype: 'float32' });
      assert.deepEqual(manifest.outputs, { scores: 'logits' });
      assert.equal(manifest.outputKind, 'logits');
      assert.deepEqual(manifest.labels, ['Neutral', 'Happiness', 'Sadness', 'Surprise', 'Fear', 'Disgust', 'Anger']);
    } finally {
      await session.release();
    }
  });

  it(`A wav2vec2 (${ACOUSTIC_LAYERS} layers) + head: logits match within 1e-4; input [-1, 64000] NT; canonical labels + Other`, async function () {
    const { manifest, session, reference } = await check('a', ['logits']);
    try {
      assert.equal(manifest.task, 'acoustic');
      assert.deepEqual(manifest.input, { name: 'input', shape: [-1, 64000], layout: 'NT', dtype: 'float32' });
      assert.deepEqual(manifest.outputs, { scores: 'logits' });
      assert.equal(manifest.outputKind, 'logits');
      assert.deepEqual(manifest.labels, ['Neutral', 'Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Surprise', 'Other']);
      // The window is normalised inside the model: an already normalised window gives the same logits.
      const normalised = new Float32Array(reference.input.data.length);
      const n = reference.input.shape[1];
      for (let r = 0; r < reference.input.shape[0]; r++) {
        const x = reference.input.data.subarray(r * n, (r + 1) * n);
        let mean = 0;
        for (const v of x) mean += v;
        mean /= n;
        let variance = 0;
        for (const v of x) variance += (v - mean) * (v - mean);
        variance /= n;
        const scale = 1 / Math.sqrt(variance + 1e-7);
        for (let i = 0; i < n; i++) normalised[r * n + i] = (x[i] - mean) * scale;
      }
      const again = await session.run({ input: { data: normalised, shape: reference.input.shape } });
      assert.ok(maxAbsDiff(again.logits.data, reference.outputs.logits.data) <= 1e-3);
    } finally {
      await session.release();
    }
  });

  it('A int8 static: the plain convolutions of the int8 model become QDQ with ranges from speech; logits stay near fp32', async function () {
    const [fp32, dynamic, int8s] = exported.get('a') ?? [];
    assert.ok(fp32 !== undefined && dynamic !== undefined && int8s !== undefined && int8s.quantisation !== undefined);
    assert.equal(int8s.id, `${fp32.id}-int8s`);
    // wav2vec2's feature convolutions 1-6 and the head's two; not the first (one input channel) nor the grouped positional one.
    assert.equal(int8s.quantisation.conv, 8, JSON.stringify(int8s.quantisation));
    assert.ok(int8s.bytes < dynamic.bytes, `int8s ${int8s.bytes} bytes vs int8 ${dynamic.bytes}`);
    const [m32, m8s] = await Promise.all([loadManifest(fp32.manifest), loadManifest(int8s.manifest)]);
    const [s32, s8s] = await Promise.all([acquireSession(m32, { intraOpNumThreads: THREADS }), acquireSession(m8s, { intraOpNumThreads: THREADS })]);
    try {
      // Speech the calibration did not see: the RAVDESS clip's 3.3 s, padded and normalised as A's stage does.
      const audio = (await readAudio(RAVDESS_CLIP)).samples;
      const window = new Float32Array(ACOUSTIC_WINDOW_SAMPLES);
      normaliseWindow(audio.subarray(0, Math.min(audio.length, ACOUSTIC_WINDOW_SAMPLES)), window);
      const input = { data: window, shape: [1, ACOUSTIC_WINDOW_SAMPLES] };
      const [a, b] = [await s32.run({ input }), await s8s.run({ input })];
      const diff = maxAbsDiff(b.logits.data, a.logits.data);
      const scale = maxAbs(a.logits.data);
      console.log(`      a int8 static logits: max |int8s - fp32| = ${diff.toExponential(2)} (logits up to ${scale.toFixed(3)})`);
      assert.ok(diff <= 0.25 * scale, `int8s differs from fp32 by ${diff}, logits up to ${scale}`);
    } finally {
      await Promise.all([s32.release(), s8s.release()]);
    }
  });

  it('A int8: MatMuls become integer ops, the file shrinks, logits stay close to fp32', async function () {
    const models = exported.get('a') ?? [];
    const int8 = models[1];
    assert.ok(int8 !== undefined && int8.quantisation !== undefined);
    assert.ok(Number(int8.quantisation.matmul) >= 4 * ACOUSTIC_LAYERS + 8, `quantised MatMuls: ${JSON.stringify(int8.quantisation)}`);
    assert.ok(int8.bytes < 0.6 * models[0].bytes, `int8 ${int8.bytes} bytes vs fp32 ${models[0].bytes}`);
    const manifest = await loadManifest(int8.manifest);
    assert.equal(manifest.id, `${models[0].id}-int8`);
    const reference = readReference(models[0].reference ?? '');
    const session = await acquireSession(manifest, { intraOpNumThreads: THREADS });
    try {
      const out = await session.run({ input: reference.input });
      const diff = maxAbsDiff(out.logits.data, reference.outputs.logits.data);
      const scale = maxAbs(reference.outputs.logits.data);
      console.log(`      a int8 logits: max |int8 - fp32| = ${diff.toExponential(2)} (logits up to ${scale.toFixed(3)})`);
      assert.ok(diff <= 0.1 * scale, `int8 differs from fp32 by ${diff}, logits up to ${scale}`);
    } finally {
      await session.release();
    }
  });
});
