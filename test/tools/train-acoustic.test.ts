/**
 * tools/train-acoustic/train.py, run for real on a small corpus made here (espeak-ng voices laid
 * out as EMO-DB is): one short epoch, leave one speaker out, export, and the exported model loaded
 * through the project's own model layer. Optional like the export tests: it needs Python's torch
 * (bash tools/setup.sh --export).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BASIC_EMOTIONS, OTHER_LABEL } from '../../src/core/emotions';
import { loadManifest } from '../../src/models/manifest';
import { ACOUSTIC_WINDOW_SAMPLES, openAcousticModel } from '../../src/stages/acoustic';
import { requireTorch } from '../helpers/python';
import { syntheticEmodb } from '../helpers/speech';
import { REPO_ROOT } from '../helpers/testdata';

const TRAIN = path.join(REPO_ROOT, 'tools', 'train-acoustic', 'train.py');
const ID = 'a-test-8cl';

interface Fold {
  speaker: string;
  uar: number;
  accuracy: number;
  n: number;
  confusion: number[][];
}
interface Summary {
  final: { sha256: string; bytes: number; check: { maxAbsDiff: number; msPerWindow: number } };
  loso: { uar: number; accuracy: number; folds: Array<{ speaker: string; uar: number }> };
}

const readF32 = (file: string): Float32Array => {
  const bytes = fs.readFileSync(file);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

describe('tools/train-acoustic: trains, judges per speaker and exports a model the project runs', function () {
  this.timeout(240000);
  let python: string;
  let dir: string;
  let out: string;
  let summary: Summary;
  let seconds: number;

  before(function () {
    python = requireTorch(this).python;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-train-acoustic-'));
    // Three voices, each saying one sentence in each of the seven emotions (prosody stands in for them).
    syntheticEmodb(path.join(dir, 'corpus'), ['en-us', 'en-gb+f3', 'de+m3']);
    out = path.join(dir, 'out');
    const started = Date.now();
    const r = spawnSync(python, [TRAIN, '--data', path.join(dir, 'corpus'), '--out', out, '--id', ID, '--loso', '--epochs', '1', '--copies', '1', '--json'], {
      encoding: 'utf8',
      cwd: REPO_ROOT,
      timeout: 200000,
    });
    seconds = (Date.now() - started) / 1000;
    assert.equal(r.status, 0, r.stderr);
    summary = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Summary;
  });
  after(() => dir && fs.rmSync(dir, { recursive: true, force: true }));

  it('takes under a minute for one short epoch', () => {
    console.log(`      ${seconds.toFixed(1)} s (leave-one-speaker-out over 3 speakers, then the final model)`);
    assert.ok(seconds <= 60, `${seconds} s`);
  });

  it('writes the model and a manifest with its checksum, the paper\'s 8-class order and the corpus credit', async () => {
    const manifest = await loadManifest(path.join(out, `${ID}.json`));
    const onnx = fs.readFileSync(path.join(out, `${ID}.onnx`));
    assert.equal(manifest.task, 'acoustic');
    assert.equal(manifest.sha256, crypto.createHash('sha256').update(onnx).digest('hex'));
    assert.equal(manifest.sha256, summary.final.sha256);
    assert.deepEqual(manifest.input.shape, [-1, ACOUSTIC_WINDOW_SAMPLES]);
    assert.deepEqual(manifest.labels, [...BASIC_EMOTIONS, OTHER_LABEL]);
    assert.match(manifest.source ?? '', /Burkhardt/);
    assert.ok(onnx.byteLength <= 5e6, `${onnx.byteLength} bytes`);
    // The report names the files relative to --out: it travels with the model.
    const report = JSON.parse(fs.readFileSync(path.join(out, `${ID}.training`, 'report.json'), 'utf8')) as { final: { model: string; manifest: string } };
    assert.deepEqual([report.final.model, report.final.manifest], [`${ID}.onnx`, `${ID}.json`]);
    // Only the model and its manifest in --out (cer reads every .json there as a manifest).
    assert.deepEqual(fs.readdirSync(out).sort(), [`${ID}.json`, `${ID}.onnx`, `${ID}.training`]);
  });

  it('the exported ONNX gives PyTorch\'s logits to 1e-4 through the project\'s model layer, with Surprise at its fixed 2 %', async () => {
    assert.ok(summary.final.check.maxAbsDiff <= 1e-4, `the tool's own check: ${summary.final.check.maxAbsDiff}`);
    const refDir = path.join(out, `${ID}.training`, 'reference');
    const ref = JSON.parse(fs.readFileSync(path.join(refDir, 'reference.json'), 'utf8')) as { inputShape: number[]; outputShape: number[]; input: string; output: string };
    const [n] = ref.inputShape;
    assert.deepEqual(ref.inputShape, [n, ACOUSTIC_WINDOW_SAMPLES]);
    const input = readF32(path.join(refDir, ref.input));
    const torchLogits = readF32(path.join(refDir, ref.output));
    const model = await openAcousticModel(path.join(out, `${ID}.json`), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    try {
      assert.equal(model.outputKind, 'logits');
      const logits = await model.run(input, n);
      assert.equal(logits.length, n * 8);
      let maxDiff = 0;
      logits.forEach((x, i) => (maxDiff = Math.max(maxDiff, Math.abs(x - torchLogits[i]))));
      assert.ok(maxDiff <= 1e-4, `max |onnxruntime-node − PyTorch| ${maxDiff}`);
      // The stage's softmax over the 7 canonical classes (Other dropped): Surprise is 0.02 in every window.
      for (let w = 0; w < n; w++) {
        const row = Array.from(logits.subarray(w * 8, w * 8 + 7));
        const top = Math.max(...row);
        const exp = row.map((x) => Math.exp(x - top));
        const surprise = exp[6] / exp.reduce((s, x) => s + x, 0);
        assert.ok(Math.abs(surprise - 0.02) < 1e-4, `window ${w}: Surprise ${surprise}`);
      }
    } finally {
      await model.release();
    }
  });

  it('reports leave-one-speaker-out per fold and pooled: UAR, accuracy and the confusion matrix', () => {
    const report = JSON.parse(fs.readFileSync(path.join(out, `${ID}.training`, 'report.json'), 'utf8')) as {
      loso: { classes: string[]; folds: Fold[]; pooled: { uar: number; accuracy: number; confusion: number[][] } };
    };
    const { classes, folds, pooled } = report.loso;
    assert.deepEqual(classes, ['Neutral', 'Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Other']);
    assert.deepEqual(folds.map((f) => f.speaker).sort(), ['10', '11', '12']);
    for (const f of folds) {
      // Each held-out speaker said one sentence per emotion: 7 utterances, one per row.
      assert.equal(f.n, 7);
      assert.deepEqual(f.confusion.map((row) => row.reduce((a, b) => a + b, 0)), [1, 1, 1, 1, 1, 1, 1]);
      const correct = f.confusion.reduce((s, row, c) => s + row[c], 0);
      assert.equal(f.accuracy, correct / 7);
      assert.ok(Math.abs(f.uar - correct / 7) < 1e-12, 'one utterance per class: UAR is accuracy');
    }
    const summed = classes.map((_, t) => classes.map((__, p) => folds.reduce((s, f) => s + f.confusion[t][p], 0)));
    assert.deepEqual(pooled.confusion, summed);
    assert.equal(pooled.accuracy, summed.reduce((s, row, c) => s + row[c], 0) / 21);
    assert.equal(summary.loso.uar, pooled.uar);
    const md = fs.readFileSync(path.join(out, `${ID}.training`, 'report.md'), 'utf8');
    assert.match(md, /Leave-one-speaker-out/);
    assert.match(md, /confusion matrix/i);
  });

  it('a folder without labels.csv: one line that names it, and a non-zero exit', () => {
    const empty = fs.mkdtempSync(path.join(dir, 'empty-'));
    const r = spawnSync(python, [TRAIN, '--data', empty, '--out', path.join(dir, 'never')], { encoding: 'utf8', cwd: REPO_ROOT });
    assert.notEqual(r.status, 0);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], new RegExp(`${path.join(empty, 'labels.csv').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: not found`));
    assert.ok(!fs.existsSync(path.join(dir, 'never', `${ID}.onnx`)));
  });
});
