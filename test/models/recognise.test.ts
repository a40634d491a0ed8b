/**
 * `cer models install FILE.onnx` without a manifest: the graph is recognised as a well-known public
 * facial-expression model (src/models/recognise.ts) and the manifest written for it. The real files
 * cannot be downloaded here: test/helpers/make_fer_lookalikes.py builds random-weight models of the
 * same architecture (torchvision's EfficientNet-B0/B2 for HSEmotion) or a small stand-in
 * (MobileFaceNet-like, FER+-like), exported with the real models' tensor names and shapes; the
 * paper's ResNet-50 comes from `cer models export vs --random-weights` itself, the mini-Xception
 * is the bundled file. Each installed model then runs through `cer analyze`, and its VS vote is
 * checked against the model run directly in onnxruntime with the preprocessing and class order
 * written out here from the publishers' code (not the package's), on a picture of the model's
 * input size given as the whole face.
 * The stand-ins need Debian's python3-torch, python3-onnx and python3-torchvision (skipped, with a
 * message, without them).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { resolveModelSpec } from '../../nodes/common/models';
import { runExportTool } from '../../src/models/export';
import { BASIC_EMOTIONS } from '../../src/core/emotions';
import { DEFAULT_MODELS_DIR } from '../../src/models/manifest';
import { cer } from '../helpers/cli';
import { requireTorchvision } from '../helpers/python';
import { REPO_ROOT } from '../helpers/testdata';

const ASTRONAUT = path.join(REPO_ROOT, 'docs', 'samples', 'astronaut.png');
const MAKER = path.join(REPO_ROOT, 'test', 'helpers', 'make_fer_lookalikes.py');
const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];

type Manifest = Record<string, unknown> & { id: string; input: unknown; preprocessing: unknown; outputs: unknown; outputKind: string; labels: string[]; extra: { crop: Record<string, unknown> } };

function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

function readManifest(dir: string, id: string): Manifest {
  return JSON.parse(fs.readFileSync(path.join(dir, `${id}.json`), 'utf8')) as Manifest;
}

/** `cer analyze` of one picture with the models of `dir`; the first result's VS vote. */
function vsVote(picture: string, dir: string, out: string, extra: string[] = []): { id: string; vs: number[] } {
  const r = cer(['analyze', picture, '--models', dir, '--no-acoustic', '--out', out, ...extra]);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(fs.readFileSync(path.join(out, `${path.basename(picture, path.extname(picture))}.json`), 'utf8')) as {
    models: { vs: string };
    results: { vs: number[] | null }[];
  };
  const vs = result.results[0].vs;
  assert.ok(vs !== null, 'a VS vote');
  return { id: result.models.vs, vs };
}

function assertProbabilities(vs: readonly number[]): void {
  assert.equal(vs.length, 7);
  for (const p of vs) assert.ok(p >= 0 && p <= 1);
  assert.ok(Math.abs(vs.reduce((a, b) => a + b, 0) - 1) < 1e-9);
}

/** A picture of `size`x`size` cut from the astronaut photo (its face), and its RGB pixels. */
async function facePicture(dir: string, size: number): Promise<{ file: string; rgb: Uint8Array }> {
  const file = path.join(dir, `face-${size}.png`);
  await sharp(ASTRONAUT).extract({ left: 150, top: 50, width: 200, height: 200 }).resize(size, size).removeAlpha().png().toFile(file);
  const { data } = await sharp(file).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { file, rgb: new Uint8Array(data) };
}

/** The scores of an ONNX file for one NCHW input, run directly. */
async function runDirect(file: string, input: string, output: string, data: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  try {
    const out = await session.run({ [input]: new ort.Tensor('float32', data, shape) });
    return out[output].data as Float32Array;
  } finally {
    await session.release();
  }
}

/** NCHW planes of RGB pixels, each value f(pixel, channel). */
function planes(rgb: Uint8Array, size: number, f: (v: number, c: number) => number): Float32Array {
  const n = size * size;
  const out = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) out[c * n + i] = f(rgb[i * 3 + c], c);
  return out;
}

/** Canonical probabilities from logits in the model's own class names (one of them dropped, or none). */
function canonical(logits: Float32Array, names: readonly string[], drop?: string): number[] {
  const kept = names.map((name, i) => ({ name, v: logits[i] })).filter((x) => x.name !== drop);
  const max = Math.max(...kept.map((x) => x.v));
  const sum = kept.reduce((s, x) => s + Math.exp(x.v - max), 0);
  return BASIC_EMOTIONS.map((e) => {
    const x = kept.find((k) => k.name === e);
    assert.ok(x !== undefined, e);
    return Math.exp(x.v - max) / sum;
  });
}

function assertClose(actual: readonly number[], expected: readonly number[], tolerance: number): void {
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) < tolerance, `${BASIC_EMOTIONS[i]}: ${a} vs ${expected[i]}\n${actual.join(', ')}\n${expected.join(', ')}`));
}

describe('cer models install recognises a bare ONNX file by its graph', function () {
  this.timeout(600000);
  const cleanup: string[] = [];
  const track = (dir: string): string => (cleanup.push(dir), dir);
  after(() => cleanup.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  describe('without PyTorch', function () {
    it("the bundled mini-Xception, copied without its manifest: the same manifest fields as the bundled one", function () {
      const src = track(tmpDir('cer-bare-'));
      const dir = track(tmpDir('cer-inst-'));
      fs.copyFileSync(path.join(DEFAULT_MODELS_DIR, 'vs-fer2013-minixception.onnx'), path.join(src, 'emotion.onnx'));
      const r = cer(['models', 'install', path.join(src, 'emotion.onnx'), '--dir', dir]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^recognised .*emotion\.onnx as the FER2013 mini-Xception bundled with this package \(graph: input_1 \[N,64,64,1\] -> Identity \[N,7\]\)$/m);
      assert.match(r.stdout, /^installed vs-fer2013-minixception: .*vs-fer2013-minixception\.onnx \(checksum ok\)\n {2}manifest written: .*vs-fer2013-minixception\.json$/m);
      const written = readManifest(dir, 'vs-fer2013-minixception');
      const bundled = readManifest(DEFAULT_MODELS_DIR, 'vs-fer2013-minixception');
      for (const key of ['task', 'sha256', 'input', 'preprocessing', 'outputs', 'outputKind', 'labels'] as const) assert.deepEqual(written[key], bundled[key], key);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['vs-fer2013-minixception.json', 'vs-fer2013-minixception.onnx']);
    });

    it('an ONNX file with its manifest beside it installs that manifest; --id is refused there', function () {
      const dir = track(tmpDir('cer-inst-'));
      const onnx = path.join(DEFAULT_MODELS_DIR, 'vs-fer2013-minixception.onnx');
      const refused = cer(['models', 'install', onnx, '--dir', dir, '--id', 'x']);
      assert.equal(refused.status, 1);
      assert.match(refused.stderr, /--id is for an ONNX file without a manifest/);
      const r = cer(['models', 'install', onnx, '--dir', dir]);
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /recognised/);
      assert.deepEqual(readManifest(dir, 'vs-fer2013-minixception'), readManifest(DEFAULT_MODELS_DIR, 'vs-fer2013-minixception'));
    });

    it('the model config node takes a bare ONNX file it recognises, and refuses a graph it does not know', async function () {
      const src = track(tmpDir('cer-bare-'));
      const bare = path.join(src, 'emotion.onnx');
      fs.copyFileSync(path.join(DEFAULT_MODELS_DIR, 'vs-fer2013-minixception.onnx'), bare);
      const manifest = await resolveModelSpec(bare, 'static-visual');
      assert.ok(manifest !== null);
      assert.equal(manifest.id, 'vs-fer2013-minixception');
      assert.equal(manifest.modelPath, bare);
      assert.deepEqual(fs.readdirSync(src), ['emotion.onnx'], "the user's folder is left as it was");
      await assert.rejects(resolveModelSpec(bare, 'face-detection'), /is a static-visual model; this node needs a face-detection model/);
      const detector = path.join(src, 'detector.onnx');
      fs.copyFileSync(path.join(DEFAULT_MODELS_DIR, 'blazeface-front-128.onnx'), detector);
      await assert.rejects(resolveModelSpec(detector, 'static-visual'), /not a facial-expression model cer recognises \(graph: .*\); write its manifest detector\.json beside it .*docs\/models\.md/);
    });

    it('a graph no family has (a face detector) is refused in one line naming the manifest fields; nothing is written', function () {
      const src = track(tmpDir('cer-bare-'));
      const dir = path.join(track(tmpDir('cer-inst-')), 'models');
      fs.copyFileSync(path.join(DEFAULT_MODELS_DIR, 'blazeface-front-128.onnx'), path.join(src, 'mystery.onnx'));
      const r = cer(['models', 'install', path.join(src, 'mystery.onnx'), '--dir', dir]);
      assert.equal(r.status, 1);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(
        r.stderr.trim(),
        /^cer: .*mystery\.onnx: not a facial-expression model cer recognises \(graph: input:0 \[1,128,128,3\] -> .*\); write its manifest mystery\.json beside it with id, task "static-visual", file, sha256, licence, nonCommercial, source, description, input \{name, shape, layout NCHW\|NHWC, dtype float32\}, preprocessing \{size \[w,h\], colour rgb\|bgr\|gray, scale, mean, std, interpolation, resize stretch\|letterbox\}, labels \(the classes in output order\), outputKind logits\|probabilities and outputs\.scores \(the output tensor\), then install that \.json: see docs\/models\.md$/,
      );
      assert.ok(!fs.existsSync(dir) || fs.readdirSync(dir).length === 0);
    });
  });

  describe('same-signature stand-ins of the public models (needs python3-torch, python3-torchvision)', function () {
    let built = '';
    let work = '';
    let python = '';

    before(function () {
      python = requireTorchvision(this).python;
      built = track(tmpDir('cer-lookalikes-'));
      work = track(tmpDir('cer-recognise-'));
      const r = spawnSync(python, ['-B', MAKER, built], { encoding: 'utf8', timeout: 600000 });
      assert.equal(r.status, 0, r.stderr);
    });

    /** Installs `name`.onnx from the stand-ins into a folder of its own; the folder and stdout. */
    function install(name: string, extra: string[] = []): { dir: string; stdout: string } {
      const dir = path.join(work, `models-${name}${extra.length > 0 ? '-id' : ''}`);
      const r = cer(['models', 'install', path.join(built, `${name}.onnx`), '--dir', dir, ...extra]);
      assert.equal(r.status, 0, r.stderr);
      return { dir, stdout: r.stdout };
    }

    for (const [name, variant, size, id] of [
      ['hsemotion-b0-8', 'B0', 224, 'vs-hsemotion-enet-b0-8'],
      ['hsemotion-b2-8', 'B2', 260, 'vs-hsemotion-enet-b2-8'],
    ] as const) {
      it(`HSEmotion EfficientNet-${variant} (${size}x${size}, 8 classes, Contempt as Other): manifest, and its VS vote matches the authors' preprocessing`, async function () {
        const { dir, stdout } = install(name);
        assert.match(stdout, new RegExp(`^recognised .*${name}\\.onnx as HSEmotion EfficientNet-${variant} 8-class .*\\(graph: input \\[N,3,${size},${size}\\] -> output \\[N,8\\]\\)$`, 'm'));
        if (variant === 'B0') assert.match(stdout, /note: enet_b0_8_best_vgaf and enet_b0_8_best_afew share this signature and preprocessing; name yours with --id/);
        const m = readManifest(dir, id);
        assert.equal(m.task, 'static-visual');
        assert.deepEqual(m.input, { name: 'input', shape: [-1, 3, size, size], layout: 'NCHW', dtype: 'float32' });
        assert.deepEqual(m.preprocessing, { size: [size, size], colour: 'rgb', scale: 1 / 255, mean: IMAGENET_MEAN, std: IMAGENET_STD, interpolation: 'bilinear', resize: 'stretch' });
        assert.deepEqual(m.outputs, { scores: 'output' });
        assert.equal(m.outputKind, 'logits');
        assert.deepEqual(m.labels, ['Anger', 'Other', 'Disgust', 'Fear', 'Happiness', 'Neutral', 'Sadness', 'Surprise']);
        assert.equal(m.extra.crop.margin, 0);

        const vote = vsVote(ASTRONAUT, dir, path.join(work, `out-${name}`));
        assert.equal(vote.id, id);
        assertProbabilities(vote.vs);

        // hsemotion_onnx/facial_emotions.py: RGB /255, ImageNet mean and std, NCHW; logits in the
        // order Anger, Contempt, Disgust, Fear, Happiness, Neutral, Sadness, Surprise.
        const face = await facePicture(work, size);
        const input = planes(face.rgb, size, (v, c) => (v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]);
        const logits = await runDirect(path.join(built, `${name}.onnx`), 'input', 'output', input, [1, 3, size, size]);
        const expected = canonical(logits, ['Anger', 'Contempt', 'Disgust', 'Fear', 'Happiness', 'Neutral', 'Sadness', 'Surprise'], 'Contempt');
        const whole = vsVote(face.file, dir, path.join(work, `out-${name}-face`), ['--whole-frame-face']);
        assertClose(whole.vs, expected, 1e-4);
      });
    }

    it('HSEmotion with --id: the manifest and model are named as the user says', function () {
      const { dir, stdout } = install('hsemotion-b0-8', ['--id', 'vs-enet-b0-8-best-afew']);
      assert.doesNotMatch(stdout, /name yours with --id/);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['vs-enet-b0-8-best-afew.json', 'vs-enet-b0-8-best-afew.onnx']);
      assert.equal(readManifest(dir, 'vs-enet-b0-8-best-afew').file, 'vs-enet-b0-8-best-afew.onnx');
    });

    for (const name of ['opencv-fer', 'opencv-fer-int8'] as const) {
      it(`OpenCV Zoo FER MobileFaceNet (${name === 'opencv-fer' ? 'fp32' : 'int8'}; 112x112, 7 classes): manifest with 5-point alignment advice, and its VS vote`, async function () {
        const { dir, stdout } = install(name);
        assert.match(stdout, /^recognised .* as OpenCV Zoo's facial_expression_recognition_mobilefacenet_2022july .*\(graph: data \[1,3,112,112\] -> label \[1,7\]\)$/m);
        assert.match(stdout, /note: its outputs are logits \(found by running it/);
        const m = readManifest(dir, 'vs-opencv-fer-mobilefacenet');
        assert.deepEqual(m.input, { name: 'data', shape: [1, 3, 112, 112], layout: 'NCHW', dtype: 'float32' });
        assert.deepEqual(m.preprocessing, { size: [112, 112], colour: 'rgb', scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], interpolation: 'bilinear', resize: 'stretch' });
        assert.deepEqual(m.outputs, { scores: 'label' });
        assert.equal(m.outputKind, 'logits');
        assert.deepEqual(m.labels, ['Anger', 'Disgust', 'Fear', 'Happiness', 'Neutral', 'Sadness', 'Surprise']);
        assert.equal(m.extra.crop.align, 'five-point');
        assert.deepEqual(m.extra.crop.template, [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]);

        assertProbabilities(vsVote(ASTRONAUT, dir, path.join(work, `out-${name}`)).vs);
        // facial_fer_model.py: BGR→RGB, /255, minus 0.5, over 0.5, blobFromImage (NCHW);
        // classes angry, disgust, fearful, happy, neutral, sad, surprised.
        const face = await facePicture(work, 112);
        const input = planes(face.rgb, 112, (v) => (v / 255 - 0.5) / 0.5);
        const logits = await runDirect(path.join(built, `${name}.onnx`), 'data', 'label', input, [1, 3, 112, 112]);
        const expected = canonical(logits, ['Anger', 'Disgust', 'Fear', 'Happiness', 'Neutral', 'Sadness', 'Surprise']);
        assertClose(vsVote(face.file, dir, path.join(work, `out-${name}-face`), ['--whole-frame-face']).vs, expected, 1e-4);
      });
    }

    it('FER+ emotion-ferplus (64x64 grey, raw 0-255, 8 classes, contempt as Other): manifest, and its VS vote', async function () {
      const { dir, stdout } = install('ferplus');
      assert.match(stdout, /^recognised .* as FER\+ emotion-ferplus \(ONNX model zoo\) \(graph: Input3 \[1,1,64,64\] -> Plus692_Output_0 \[1,8\]\)$/m);
      const m = readManifest(dir, 'vs-ferplus-8');
      assert.deepEqual(m.input, { name: 'Input3', shape: [1, 1, 64, 64], layout: 'NCHW', dtype: 'float32' });
      assert.deepEqual(m.preprocessing, { size: [64, 64], colour: 'gray', scale: 1, mean: [0], std: [1], interpolation: 'bilinear', resize: 'stretch' });
      assert.deepEqual(m.outputs, { scores: 'Plus692_Output_0' });
      assert.equal(m.outputKind, 'logits');
      assert.deepEqual(m.labels, ['Neutral', 'Happiness', 'Surprise', 'Sadness', 'Anger', 'Disgust', 'Fear', 'Other']);

      assertProbabilities(vsVote(ASTRONAUT, dir, path.join(work, 'out-ferplus')).vs);
      // onnx/models emotion_ferplus README: grey 64x64 pixel values as they are; softmax afterwards;
      // neutral, happiness, surprise, sadness, anger, disgust, fear, contempt.
      const face = await facePicture(work, 64);
      const grey = new Float32Array(64 * 64);
      for (let i = 0; i < grey.length; i++) grey[i] = 0.299 * face.rgb[i * 3] + 0.587 * face.rgb[i * 3 + 1] + 0.114 * face.rgb[i * 3 + 2];
      const logits = await runDirect(path.join(built, 'ferplus.onnx'), 'Input3', 'Plus692_Output_0', grey, [1, 1, 64, 64]);
      const expected = canonical(logits, ['Neutral', 'Happiness', 'Surprise', 'Sadness', 'Anger', 'Disgust', 'Fear', 'Contempt'], 'Contempt');
      assertClose(vsVote(face.file, dir, path.join(work, 'out-ferplus-face'), ['--whole-frame-face']).vs, expected, 1e-4);
    });

    it("the paper's ResNet-50 from cer models export vs, without its manifest: the exporter's manifest fields, and a VS vote", async function () {
      const exported = path.join(work, 'exported');
      await runExportTool(python, ['vs', '--random-weights', '--seed', '3', '--out', exported]);
      const written = readManifest(exported, 'vs-resnet50-random');
      const bare = path.join(work, 'bare-resnet');
      fs.mkdirSync(bare);
      fs.renameSync(path.join(exported, 'vs-resnet50-random.onnx'), path.join(bare, 'FER_static_ResNet50_AffectNet.onnx'));
      const dir = path.join(work, 'models-resnet');
      const r = cer(['models', 'install', path.join(bare, 'FER_static_ResNet50_AffectNet.onnx'), '--dir', dir]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /^recognised .* as the paper's ResNet-50 VS \(as cer models export vs writes it\) \(graph: input \[N,3,224,224\] -> logits \[N,7\], features \[N,512\]\)$/m);
      const m = readManifest(dir, 'vs-resnet50-affectnet');
      for (const key of ['task', 'sha256', 'input', 'preprocessing', 'outputs', 'outputKind', 'labels'] as const) assert.deepEqual(m[key], written[key], key);
      assert.equal(m.nonCommercial, true);
      const vote = vsVote(ASTRONAUT, dir, path.join(work, 'out-resnet'));
      assert.equal(vote.id, 'vs-resnet50-affectnet');
      assertProbabilities(vote.vs);
    });

    it('an unknown graph (pixels [N,3,48,48] -> probs [N,5]) is refused in one line', function () {
      const dir = path.join(work, 'models-unknown');
      const r = cer(['models', 'install', path.join(built, 'unknown.onnx'), '--dir', dir]);
      assert.equal(r.status, 1);
      assert.match(r.stderr, /^cer: .*unknown\.onnx: not a facial-expression model cer recognises \(graph: pixels \[N,3,48,48\] -> probs \[N,5\]\); write its manifest unknown\.json beside it with .*input \{name, shape, layout.*preprocessing \{size.*labels.*outputKind.*outputs\.scores.*docs\/models\.md\n$/);
      assert.ok(!fs.existsSync(dir) || fs.readdirSync(dir).length === 0);
    });
  });
});
