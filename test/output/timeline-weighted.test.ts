/**
 * The timeline's weighted rows on a real analysis: `cer analyze docs/samples/sample.mp4 --rule
 * rule1+rule2 --format json,png --timeline-weighted`, each model's row checked pixel by pixel
 * against the rule on P_m ⊙ w_m · v_m with the paper's published weights typed in here.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CE_COLOURS, NO_PREDICTION_COLOUR, timelineData, timelineLayout, type TimelineRow } from '../../src/output';
import type { AnalyzeResult, FrameResult } from '../../src/pipeline/analyze';
import { cer } from '../helpers/cli';
import { decodeImageForTest } from '../helpers/decode';
import { analyzeWithCli, hexRgb } from '../helpers/output-media';
import { SAMPLE_MP4 } from '../helpers/testdata';

// paper-av8 as the paper prints it: rows Ne An Di Fe Ha Sa Su, columns VS VD A; then Mo (v).
const AV8 = [
  [0.89900098, 0.01223291, 0.08876611],
  [0.10362151, 0.21364307, 0.68273542],
  [0.08577635, 0.66688002, 0.24734363],
  [0.04428126, 0.93791526, 0.01780348],
  [0.89679865, 0.0398964, 0.06330495],
  [0.02656456, 0.48670648, 0.48672896],
  [0.63040305, 0.22089692, 0.14870002],
];
// Table 1: [E1, CW1, E2, CW2], canonical indices Ne0 An1 Di2 Fe3 Ha4 Sa5 Su6.
const TABLE1: Array<[number, number, number, number]> = [
  [3, 5 / 7, 6, 2 / 7], [4, 6 / 8, 6, 2 / 8], [5, 4 / 6, 6, 2 / 6], [2, 6 / 8, 6, 2 / 8],
  [1, 5 / 7, 6, 2 / 7], [5, 4 / 9, 3, 5 / 9], [5, 4 / 9, 1, 5 / 9],
];
const MODEL = { VS: 0, VD: 1, A: 2 } as const;
const VOTE = { VS: 'vs', VD: 'vd', A: 'a' } as const;

/** The CE the reference draws for model row `row`: argmax of rule1+rule2 on P ⊙ w (dirichlet: v = 1). */
function referenceCE(r: FrameResult, row: keyof typeof MODEL): number | null {
  const p = r[VOTE[row]];
  if (!p) return null;
  const scaled = p.map((x, c) => x * AV8[c][MODEL[row]]);
  const keep = (x: number): number => (x > 1 / 7 ? x : 0);
  const scores = TABLE1.map(([e1, cw1, e2, cw2]) => keep(scaled[e1]) * cw1 + keep(scaled[e2]) * cw2);
  return scores.indexOf(Math.max(...scores));
}

/** The CE the default picture draws: argmax of the rule-free pair sums of P alone. */
function ownCE(r: FrameResult, row: keyof typeof MODEL): number | null {
  const p = r[VOTE[row]];
  if (!p) return null;
  const scores = TABLE1.map(([e1, , e2]) => p[e1] + p[e2]);
  return scores.indexOf(Math.max(...scores));
}

describe('timeline: the reference\'s weighted model rows (--timeline-weighted)', function () {
  this.timeout(300_000);
  let work: string;
  let result: AnalyzeResult;
  let png: string;

  before(function () {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-timeline-weighted-'));
    // One frame per result (the largest face), as the picture's first group shows it.
    result = analyzeWithCli(SAMPLE_MP4, work, ['--rule', 'rule1+rule2', '--format', 'json,png', '--timeline-weighted', '--target', 'largest']).result;
    png = path.join(work, 'sample.png');
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  it('the analysis ran rule1+rule2 under paper-av8: each frame\'s compound scores are the formula on its fused scores', () => {
    assert.equal(result.rule, 'rule1+rule2');
    assert.deepEqual(result.fusion, { strategy: 'dirichlet', preset: 'paper-av8' });
    let masked = 0;
    for (const r of result.results) {
      const { fused, compound } = r;
      if (!fused || !compound) continue;
      const keep = (x: number): number => (x > 1 / 7 ? x : 0);
      TABLE1.forEach(([e1, cw1, e2, cw2], k) => assert.ok(Math.abs(compound[k] - (keep(fused[e1]) * cw1 + keep(fused[e2]) * cw2)) < 1e-6, `frame ${r.frame} CE ${k}`));
      if (fused.some((x) => x > 0.01 && x <= 1 / 7)) masked++;
    }
    assert.ok(masked > 0, 'the mask drops scores on some frames');
  });

  it('timelineData: each model row is the rule on P_m·w_m·v_m; the AV row is the analysis label', () => {
    const data = timelineData(result, { weighted: true });
    const plain = timelineData(result);
    assert.equal(data.slots.length, result.results.length);
    let differ = 0;
    for (const row of ['VS', 'VD', 'A'] as const) {
      result.results.forEach((r, f) => {
        assert.equal(data.rows[row][f], referenceCE(r, row), `${row} frame ${r.frame}`);
        assert.equal(plain.rows[row][f], ownCE(r, row), `${row} frame ${r.frame}, unweighted`);
        if (data.rows[row][f] !== plain.rows[row][f]) differ++;
      });
    }
    assert.ok(differ > 0, 'the weighted rows differ from the plain ones somewhere');
    assert.deepEqual(data.rows.AV, plain.rows.AV);
    assert.deepEqual(data.unfused, []);
  });

  it('the PNG cer analyze wrote shows those rows, pixel for pixel at each frame\'s middle', async () => {
    const layout = timelineLayout(result);
    const img = await decodeImageForTest(png);
    assert.equal(img.width, layout.width);
    assert.equal(img.height, layout.height);
    const data = timelineData(result, { weighted: true });
    let checked = 0;
    for (const row of ['VS', 'VD', 'A', 'AV'] as TimelineRow[]) {
      const { top, height } = layout.rows[row];
      data.rows[row].forEach((k, f) => {
        const [x0, x1] = layout.frameX[f];
        if (x1 - x0 < 3) return;
        const x = (x0 + x1) >> 1;
        const y = top + (height >> 1);
        const i = (y * img.width + x) * 3;
        const got = [img.data[i], img.data[i + 1], img.data[i + 2]];
        const r = result.results[f];
        const want = row === 'AV' ? (r.label === null ? null : k) : referenceCE(r, row as keyof typeof MODEL);
        assert.deepEqual(got, hexRgb(want === null ? NO_PREDICTION_COLOUR : CE_COLOURS[want]), `${row} frame ${r.frame}`);
        checked++;
      });
    }
    assert.ok(checked >= 4 * result.results.length * 0.9, `checked ${checked} pixels`);
  });

  it('a model outside the fusion has no weighted row (paper-v has no A)', () => {
    const visual = { ...result, fusion: { strategy: 'hierarchical' as const, preset: 'paper-v' as const } };
    const data = timelineData(visual, { weighted: true });
    assert.deepEqual(data.unfused, ['A']);
    assert.equal(data.present.A, false);
    assert.ok(result.results.some((r) => r.a !== null), 'A voted on some frames');
    // VS under paper-v, hierarchical: w_VS · v_VS with v_VS = 0.365 (the paper's Mo row).
    const wVS = [0.42633145, 0.57803352, 0.01878466, 0.86451425, 0.16464752, 0.03786653, 0.81048546];
    result.results.forEach((r, f) => {
      if (!r.vs) return assert.equal(data.rows.VS[f], null);
      const scaled = r.vs.map((x, c) => x * wVS[c] * 0.365);
      const keep = (x: number): number => (x > 1 / 7 ? x : 0);
      const scores = TABLE1.map(([e1, cw1, e2, cw2]) => keep(scaled[e1]) * cw1 + keep(scaled[e2]) * cw2);
      assert.equal(data.rows.VS[f], scores.indexOf(Math.max(...scores)), `frame ${r.frame}`);
    });
  });

  it('--timeline-weighted without png in --format is refused in one line before any work', () => {
    const r = cer(['analyze', SAMPLE_MP4, '--out', work, '--format', 'json', '--timeline-weighted']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'cer: --timeline-weighted changes the png timeline: add png to --format\n');
  });
});
