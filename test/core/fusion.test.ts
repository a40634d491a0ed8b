import { strict as assert } from 'node:assert';
import {
  applyRule,
  COMPOUND_NAMES,
  FUSION_PRESETS,
  fuseFrameInto,
  fuseFrames,
  PRESET_NAMES,
  resolveFusion,
} from '../../src/core';

const close = (a: number, b: number, tol = 1e-15) => Math.abs(a - b) <= tol;

function oneHot(c: number): number[] {
  return Array.from({ length: 7 }, (_, i) => (i === c ? 1 : 0));
}
// Canonical indices.
const AN = 1;
const FE = 3;
const SA = 5;

function fuseOne(preset: 'paper-v' | 'paper-av7' | 'paper-av8', strategy: 'dirichlet' | 'hierarchical', frame: number[][]): number[] {
  const fusion = resolveFusion({ strategy, preset }, FUSION_PRESETS[preset].models);
  const out = new Array<number>(7);
  assert.ok(fuseFrameInto(fusion, frame, out));
  return out;
}

describe('fusion', () => {
  it('holds the published weights (columns of W sum to one over the models)', () => {
    // Spot checks against the paper's tables (rows = classes, columns = models).
    assert.equal(FUSION_PRESETS['paper-v'].weights[0][3], 0.86451425, 'VS+VD, Fe, VS');
    assert.equal(FUSION_PRESETS['paper-av7'].weights[2][5], 0.77114883, 'VS+VD+A7, Sa, A');
    assert.equal(FUSION_PRESETS['paper-av8'].weights[1][3], 0.93791526, 'VS+VD+A8, Fe, VD');
    assert.deepEqual(FUSION_PRESETS['paper-v'].modelWeights, [0.365, 0.23]);
    assert.deepEqual(FUSION_PRESETS['paper-av7'].modelWeights, [0.06, 0.21, 0.01]);
    assert.deepEqual(FUSION_PRESETS['paper-av8'].modelWeights, [0.16, 0.36, 0.01]);
    for (const preset of Object.values(FUSION_PRESETS)) {
      for (let c = 0; c < 7; c++) {
        const sum = preset.weights.reduce((s, row) => s + row[c], 0);
        // As published, VS+VD+A7's Disgust row repeats VS's Anger weight 0.2579578 and sums to
        // 1.0535549; the preset keeps the published numbers.
        const expected = preset.name === 'paper-av7' && c === 2 ? 1.0535549 : 1;
        assert.ok(Math.abs(sum - expected) < 2e-8, `${preset.name} class ${c} sums to ${sum}`);
      }
    }
  });

  // Hand-worked frame: VS is certain of Fear, VD of Sadness, A of Anger. Each fused class then
  // carries just one model's weight: P̄_Fe = w_VS,Fe, P̄_Sa = w_VD,Sa, P̄_An = w_A,An.
  it('paper-v on a hand-computed frame', () => {
    const frame = [oneHot(FE), oneHot(SA)];
    assert.deepEqual(fuseOne('paper-v', 'dirichlet', frame), [0, 0, 0, 0.86451425, 0, 0.96213347, 0]);
    const h = fuseOne('paper-v', 'hierarchical', frame);
    assert.ok(close(h[FE], 0.86451425 * 0.365) && close(h[SA], 0.96213347 * 0.23));
    // 0.31554770125 vs 0.2212906981: Sadly Fearful (Sa+Fe) wins either way.
    assert.equal(COMPOUND_NAMES[applyRule(Float64Array.from(h), 'none').indices[0]], 'Sadly Fearful');
  });

  it('paper-av7 on a hand-computed frame', () => {
    const frame = [oneHot(FE), oneHot(SA), oneHot(AN)];
    assert.deepEqual(fuseOne('paper-av7', 'dirichlet', frame), [0, 0.27981925, 0, 0.72010502, 0, 0.16603196, 0]);
    const h = fuseOne('paper-av7', 'hierarchical', frame);
    assert.ok(close(h[AN], 0.27981925 * 0.01) && close(h[FE], 0.72010502 * 0.06) && close(h[SA], 0.16603196 * 0.21));
    // Dirichlet: SF = 0.16603196 + 0.72010502 = 0.88613698 is the largest pair.
    const d = applyRule(Float64Array.from(fuseOne('paper-av7', 'dirichlet', frame)), 'none');
    assert.equal(COMPOUND_NAMES[d.indices[0]], 'Sadly Fearful');
    assert.ok(close(d.compound[5], 0.88613698, 1e-15));
  });

  it('paper-av8 on a hand-computed frame', () => {
    const frame = [oneHot(FE), oneHot(SA), oneHot(AN)];
    const d = fuseOne('paper-av8', 'dirichlet', frame);
    assert.deepEqual(d, [0, 0.68273542, 0, 0.04428126, 0, 0.48670648, 0]);
    // Pairs: FS .04428126, SS .48670648, AS .68273542, SF .53098774, SA 1.1694419 → Sadly Angry.
    const r = applyRule(Float64Array.from(d), 'none');
    assert.ok(close(r.compound[6], 1.1694419, 1e-15));
    assert.equal(COMPOUND_NAMES[r.indices[0]], 'Sadly Angry');
    const h = fuseOne('paper-av8', 'hierarchical', frame);
    assert.ok(close(h[AN], 0.68273542 * 0.01) && close(h[FE], 0.04428126 * 0.16) && close(h[SA], 0.48670648 * 0.36));
    // Rule 1 on the Dirichlet output: Fe .044 ≤ 1/7 is dropped, so SF = Sa only.
    const r1 = applyRule(Float64Array.from(d), 'rule1');
    assert.equal(r1.compound[5], 0.48670648);
  });

  it('average is the plain mean', () => {
    const fusion = resolveFusion({ strategy: 'average' }, ['vs', 'vd', 'a']);
    const out = new Array<number>(7);
    fuseFrameInto(fusion, [oneHot(FE), oneHot(SA), oneHot(FE)], out);
    assert.ok(close(out[FE], 2 / 3) && close(out[SA], 1 / 3) && out[0] === 0);
  });

  it('gives a missing model’s weight to the models present, class by class', () => {
    const fusion = resolveFusion({ strategy: 'dirichlet', preset: 'paper-v' }, ['vs', 'vd']);
    const vs = [0.1, 0.2, 0.05, 0.05, 0.4, 0.1, 0.1];
    const out = new Array<number>(7);
    fuseFrameInto(fusion, [vs, null], out);
    // Each class column sums to one, so VS alone keeps its probabilities.
    vs.forEach((p, c) => assert.ok(close(out[c], p, 1e-15), `class ${c}`));
    assert.equal(fuseFrameInto(fusion, [null, null], out), false);
  });

  it('fuses many frames like frame by frame', () => {
    const fusion = resolveFusion({ strategy: 'hierarchical', preset: 'paper-av8' }, ['vs', 'vd', 'a']);
    const probs = [0, 1, 2].map((m) => Float64Array.from({ length: 70 }, (_, i) => ((i * 7 + m * 3) % 11) / 11));
    const all = fuseFrames(fusion, probs);
    const one = new Array<number>(7);
    for (let f = 0; f < 10; f++) {
      fuseFrameInto(fusion, probs.map((p) => p.subarray(f * 7, f * 7 + 7)), one);
      one.forEach((x, c) => assert.ok(close(all[f * 7 + c], x, 1e-15)));
    }
  });

  it('rejects presets for other models and weights of the wrong shape', () => {
    assert.throws(() => resolveFusion({ strategy: 'dirichlet', preset: 'paper-av8' }, ['vs', 'vd']), /preset paper-av8 needs the models \[vs, vd, a\]/);
    assert.throws(() => resolveFusion({ strategy: 'dirichlet', preset: 'paper-v' }, ['vd', 'vs']), /needs the models \[vs, vd\] in that order/);
    assert.throws(() => resolveFusion({ strategy: 'dirichlet', weights: [[1, 1, 1, 1, 1, 1, 1]] }, ['vs', 'vd']), /1 rows, expected one per model \(2/);
    assert.throws(() => resolveFusion({ strategy: 'dirichlet', weights: [[1, 1, 1], [1, 1, 1]] }, ['vs', 'vd']), /weights\[0\] \(vs\) must have 7 numbers/);
    assert.throws(() => resolveFusion({ strategy: 'hierarchical', weights: [[1, 1, 1, 1, 1, 1, 1]] }, ['vs']), /needs "modelWeights"/);
  });

  it('uses the presets as published (paper-av7 keeps its Disgust column of 1.0536), without a warning', () => {
    for (const preset of PRESET_NAMES) {
      for (const strategy of ['dirichlet', 'hierarchical'] as const) {
        const fusion = resolveFusion({ strategy, preset }, FUSION_PRESETS[preset].models);
        assert.deepEqual(fusion.warnings, []);
        FUSION_PRESETS[preset].weights.forEach((row, m) => row.forEach((w, c) => assert.equal(fusion.W[m * 7 + c], w)));
      }
    }
    const av7 = resolveFusion({ strategy: 'dirichlet', weights: FUSION_PRESETS['paper-av7'].weights.map((r) => [...r]) }, ['vs', 'vd', 'a']);
    assert.deepEqual(av7.warnings, []);
    assert.ok(Math.abs(av7.W[2] + av7.W[9] + av7.W[16] - 1.0535549) < 1e-12);
  });

  it('normalises columns that do not sum to 1 (with a warning) and refuses a class with no weight or v out of [0, 1]', () => {
    const fusion = resolveFusion({ strategy: 'dirichlet', weights: [[3, 1, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0, 0.5]] }, ['vs', 'vd']);
    assert.deepEqual(Array.from(fusion.W), [0.75, 1, 1, 1, 1, 1, 2 / 3, 0.25, 0, 0, 0, 0, 0, 1 / 3]);
    assert.deepEqual(fusion.warnings, ["fusion.weights: the models' weights of a class should sum to 1; normalised the columns that did not (Neutral 4, Surprise 1.5)"]);
    assert.throws(() => resolveFusion({ strategy: 'dirichlet', weights: [[0, 1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0, 0]] }, ['vs', 'vd']), /every model's weight for Neutral \(column 0\) is 0/);
    assert.throws(() => resolveFusion({ strategy: 'hierarchical', preset: 'paper-v', modelWeights: [1.5, 0.2] }, ['vs', 'vd']), /modelWeights\[0\] must be a number in \[0, 1\], got 1\.5/);
    assert.throws(() => resolveFusion({ strategy: 'hierarchical', preset: 'paper-v', modelWeights: [0, 0] }, ['vs', 'vd']), /every model weight is 0/);
  });
});
