/**
 * `cer fit-weights` as the reference searches: the uar-1to6 objective (worked out by hand below),
 * --reference-compat, the reference's two hierarchical grids, and the rule rule1+rule2.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cer } from '../helpers/cli';

interface Fitted {
  strategy: string;
  weights: number[][];
  modelWeights?: number[];
  search: { metric: string; score: number; frames: number; rule?: string; grid?: { from: number; to: number; step: number; values: number }; dirichletScore?: number };
}

/** A vote of 0.7 on class c, 0.05 on each of the others. */
function vote(c: number): number[] {
  return Array.from({ length: 7 }, (_, i) => (i === c ? 0.7 : 0.05));
}

describe('cer fit-weights: the reference objective uar-1to6', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-fit-ref-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /**
   * Twelve frames on which VS and VD vote alike, so every W (each class column summing to 1) fuses
   * to the vote itself and the search's score is that of the votes' argmax, whatever it draws.
   * Truth → prediction (Ne An Di Fe Ha Sa Su = 0 … 6):
   *   Ne→Ne, Ne→An, An→An, An→An, An→Sa, Di→Di, Fe→Su, Ha→Ha, Sa→Sa, Sa→Ne, Su→Su, Ha→Ha
   * Recall over An … Su (Neutral left out):
   *   An 2/3 · Di 1/1 · Fe 0/1 · Ha 2/2 · Sa 1/2 · Su 1/1
   *   uar-1to6 = (2/3 + 1 + 0 + 1 + 1/2 + 1)/6 = (25/6)/6 = 25/36
   * F1 = 2TP/(2TP + FP + FN) over the same six, for the current default f1-1to6:
   *   An 4/(4+1+1) = 2/3 (FP: Ne→An; FN: An→Sa) · Di 1 · Fe 0 · Ha 1 · Sa 2/(2+1+1) = 1/2 (FP: An→Sa;
   *   FN: Sa→Ne) · Su 2/(2+1+0) = 2/3 (FP: Fe→Su)
   *   f1-1to6 = (2/3 + 1 + 0 + 1 + 1/2 + 2/3)/6 = (23/6)/6 = 23/36
   */
  const PAIRS: Array<[number, number]> = [[0, 0], [0, 1], [1, 1], [1, 1], [1, 5], [2, 2], [3, 6], [4, 4], [5, 5], [5, 0], [6, 6], [4, 4]];
  const UAR_1TO6 = 25 / 36;
  const F1_1TO6 = 23 / 36;

  function handWorked(): { input: string; truth: string } {
    const votes = PAIRS.map(([, p]) => vote(p));
    const input = path.join(dir, 'hand.json');
    fs.writeFileSync(input, JSON.stringify({ models: ['vs', 'vd'], probs: { vs: votes, vd: votes } }));
    const truth = path.join(dir, 'hand-truth.txt');
    fs.writeFileSync(truth, ['Neutral,Anger,Disgust,Fear,Happiness,Sadness,Surprise,Other', ...PAIRS.map(([t]) => String(t))].join('\n') + '\n');
    return { input, truth };
  }

  function fit(args: string[]): Fitted {
    const r = cer(['fit-weights', ...args, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    return JSON.parse(r.stdout) as Fitted;
  }

  it('--objective uar-1to6 scores the hand-worked confusion: 25/36', () => {
    const { input, truth } = handWorked();
    const fitted = fit(['--in', input, '--truth', truth, '--objective', 'uar-1to6', '--samples', '50']);
    assert.equal(fitted.search.metric, 'uar-1to6');
    assert.equal(fitted.search.frames, 12);
    assert.ok(Math.abs(fitted.search.score - UAR_1TO6) < 1e-12, `score ${fitted.search.score}, by hand 25/36`);
    // --metric is the same setting by its older name.
    assert.deepEqual(fit(['--in', input, '--truth', truth, '--metric', 'uar-1to6', '--samples', '50']), fitted);
  });

  it('--reference-compat makes uar-1to6 the default; without it the default stays f1-1to6 (23/36)', () => {
    const { input, truth } = handWorked();
    const compat = fit(['--in', input, '--truth', truth, '--reference-compat', '--samples', '50']);
    assert.equal(compat.search.metric, 'uar-1to6');
    assert.ok(Math.abs(compat.search.score - UAR_1TO6) < 1e-12);
    const plain = fit(['--in', input, '--truth', truth, '--samples', '50']);
    assert.equal(plain.search.metric, 'f1-1to6');
    assert.ok(Math.abs(plain.search.score - F1_1TO6) < 1e-12, `score ${plain.search.score}, by hand 23/36`);
    // An objective given outright wins over the compat default.
    assert.equal(fit(['--in', input, '--truth', truth, '--reference-compat', '--objective', 'f1', '--samples', '50']).search.metric, 'f1');
  });

  it('the search maximises uar-1to6: the fitted W scores at least the preset on the sample, as cer eval recounts it', () => {
    const fitted = fit(['--in', 'docs/samples/fuse-input.json', '--truth', 'docs/samples/fuse-truth-basic.txt', '--reference-compat', '--samples', '300', '--seed', '3']);
    const file = path.join(dir, 'fitted.json');
    fs.writeFileSync(file, JSON.stringify(fitted));
    const recount = (fusion: string[]): number => {
      const fused = path.join(dir, 'fused.json');
      const f = cer(['fuse', '--in', 'docs/samples/fuse-input.json', ...fusion, '--out', fused]);
      assert.equal(f.status, 0, f.stderr);
      const e = cer(['eval', '--pred', fused, '--truth', 'docs/samples/fuse-truth-basic.txt']);
      assert.equal(e.status, 0, e.stderr);
      // Recall of An … Su from the confusion matrix (rows truth, columns prediction).
      const { confusion } = JSON.parse(e.stdout) as { confusion: number[][] };
      let sum = 0;
      for (let c = 1; c <= 6; c++) {
        const row = confusion[c].reduce((a, b) => a + b, 0);
        sum += row > 0 ? confusion[c][c] / row : 0;
      }
      return sum / 6;
    };
    assert.ok(Math.abs(recount(['--fusion', file]) - fitted.search.score) < 1e-12, 'cer eval agrees with the search score');
    assert.ok(fitted.search.score >= recount([]), 'at least the paper-av8 preset');
  });

  it('hierarchical: v on the video grid (98 values) for 2 models, the audio-visual grid (10) for 3', () => {
    const { input, truth } = handWorked();
    const two = fit(['--in', input, '--truth', truth, '--strategy', 'hierarchical', '--reference-compat', '--samples', '20']);
    assert.deepEqual(two.search.grid, { from: 0.01, to: 0.495, step: 0.005, values: 98 });
    const video = Array.from({ length: 98 }, (_, k) => Number((0.01 + 0.005 * k).toFixed(3)));
    assert.equal(two.modelWeights?.length, 2);
    two.modelWeights?.forEach((v) => assert.ok(video.includes(v), `${v} on the 0.005 grid`));
    const three = fit(['--in', 'docs/samples/fuse-input.json', '--truth', 'docs/samples/fuse-truth-basic.txt', '--strategy', 'hierarchical', '--reference-compat', '--samples', '20']);
    assert.deepEqual(three.search.grid, { from: 0.01, to: 0.46, step: 0.05, values: 10 });
    assert.equal(three.modelWeights?.length, 3);
    three.modelWeights?.forEach((v) => assert.ok([0.01, 0.06, 0.11, 0.16, 0.21, 0.26, 0.31, 0.36, 0.41, 0.46].includes(v), `${v} on the 0.05 grid`));
    assert.ok((three.search.score ?? 0) >= (three.search.dirichletScore ?? Infinity));
  });

  it('--task compound --rule rule1+rule2: the score is the macro F1 of cer fuse with that rule, as cer eval counts it', () => {
    const fitted = fit(['--in', 'docs/samples/fuse-input.json', '--truth', 'docs/samples/fuse-truth-compound.txt', '--task', 'compound', '--rule', 'rule1+rule2', '--samples', '200']);
    assert.equal(fitted.search.rule, 'rule1+rule2');
    assert.equal(fitted.search.metric, 'f1');
    const file = path.join(dir, 'fitted-compound.json');
    fs.writeFileSync(file, JSON.stringify(fitted));
    const fused = path.join(dir, 'fused-compound.json');
    const f = cer(['fuse', '--in', 'docs/samples/fuse-input.json', '--fusion', file, '--rule', 'rule1+rule2', '--out', fused]);
    assert.equal(f.status, 0, f.stderr);
    const e = cer(['eval', '--pred', fused, '--truth', 'docs/samples/fuse-truth-compound.txt', '--task', 'compound']);
    assert.equal(e.status, 0, e.stderr);
    // Macro F1 over all 7 compound classes, F1 = 2TP/(2TP + FP + FN) (0 for a class never seen).
    const { confusion } = JSON.parse(e.stdout) as { confusion: number[][] };
    let sum = 0;
    for (let c = 0; c < 7; c++) {
      const tp = confusion[c][c];
      const fn = confusion[c].reduce((a, b) => a + b, 0) - tp;
      const fp = confusion.reduce((a, row) => a + row[c], 0) - tp;
      sum += 2 * tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : 0;
    }
    assert.ok(Math.abs(sum / 7 - fitted.search.score) < 1e-12, `eval ${sum / 7}, search ${fitted.search.score}`);
  });

  it('refuses uar-1to6 for compound labels and two different objectives, in one line', () => {
    const base = ['fit-weights', '--in', 'docs/samples/fuse-input.json', '--truth', 'docs/samples/fuse-truth-compound.txt', '--samples', '5'];
    const compound = cer([...base, '--task', 'compound', '--objective', 'uar-1to6']);
    assert.equal(compound.status, 1);
    assert.equal(compound.stderr, 'cer: --objective uar-1to6 (Neutral excluded) applies to --task basic only\n');
    const both = cer([...base, '--objective', 'uar-1to6', '--metric', 'f1']);
    assert.equal(both.status, 1);
    assert.equal(both.stderr, 'cer: --metric f1 and --objective uar-1to6: they are one setting, give one of them\n');
    const unknown = cer([...base, '--objective', 'uar-0to6']);
    assert.equal(unknown.stderr, 'cer: --objective: expected one of f1-1to6, uar-1to6, f1, uar, got "uar-0to6"\n');
    const rule = cer([...base, '--task', 'compound', '--rule', 'rule2+rule1']);
    assert.equal(rule.stderr, 'cer: --rule: expected one of none, rule1, rule2, rule1+rule2, got "rule2+rule1"\n');
  });
});
