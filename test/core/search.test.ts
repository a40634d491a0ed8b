import { strict as assert } from 'node:assert';
import {
  dirichletSearch,
  HIERARCHICAL_GRID,
  HIERARCHICAL_GRID_AV,
  hierarchicalGrid,
  hierarchicalGridSearch,
  scoreWeights,
  SearchData,
} from '../../src/core';

/** A small deterministic generator for test data (Park–Miller). */
function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 48271) % 2147483647;
    return s / 2147483647;
  };
}

/** A 7-vector with `peak` on class c and the rest shared equally. */
function peaked(c: number, peak: number): number[] {
  return Array.from({ length: 7 }, (_, i) => (i === c ? peak : (1 - peak) / 6));
}

/**
 * Two models, each an expert on some classes: model 0 on Ne An Di Fe (0-3), model 1 on Ha Sa Su
 * (4-6). On a frame of class t the expert is right (peak 0.7 on t); the other model is confidently
 * wrong (peak 0.8) on another class of the same group. Only a W that trusts, class by class, the
 * planted expert gets every frame right.
 */
function expertData(frames: number, seed: number): SearchData {
  const rand = lcg(seed);
  const groups = [[0, 1, 2, 3], [4, 5, 6]];
  const expertOf = (c: number) => (c < 4 ? 0 : 1);
  const truth = new Int32Array(frames);
  const probs = [new Float64Array(frames * 7), new Float64Array(frames * 7)];
  for (let f = 0; f < frames; f++) {
    const t = Math.floor(rand() * 7);
    const group = groups[expertOf(t)];
    const others = group.filter((c) => c !== t);
    const wrong = others[Math.floor(rand() * others.length)];
    truth[f] = t;
    probs[expertOf(t)].set(peaked(t, 0.7), f * 7);
    probs[1 - expertOf(t)].set(peaked(wrong, 0.8), f * 7);
  }
  return { probs, truth };
}

describe('weight search', () => {
  it('the video (VS+VD) grid is np.arange(0.01, 0.5, 0.005): 98 values 0.01 … 0.495', () => {
    assert.equal(HIERARCHICAL_GRID.length, 98);
    assert.equal(HIERARCHICAL_GRID[0], 0.01);
    assert.equal(HIERARCHICAL_GRID[1], 0.015);
    assert.equal(HIERARCHICAL_GRID[71], 0.365, "paper-v's v_VS, the decimal (numpy stores 0.36499999999999994)");
    assert.equal(HIERARCHICAL_GRID[44], 0.23, "paper-v's v_VD");
    assert.equal(HIERARCHICAL_GRID[97], 0.495);
    assert.ok(!HIERARCHICAL_GRID.includes(0.5), 'arange stops before 0.5');
    // Every value is the decimal 0.01 + 0.005k written out, not a sum of steps.
    HIERARCHICAL_GRID.forEach((v, k) => assert.equal(v, Number(((10 + 5 * k) / 1000).toFixed(3)), `value ${k}`));
  });

  it('the audio-visual (VS+VD+A) grid is np.arange(0.01, 0.5, 0.05): 10 values 0.01 … 0.46', () => {
    assert.deepEqual(HIERARCHICAL_GRID_AV, [0.01, 0.06, 0.11, 0.16, 0.21, 0.26, 0.31, 0.36, 0.41, 0.46]);
    // The published audio-visual Mo rows lie on it.
    for (const v of [0.06, 0.21, 0.01, 0.16, 0.36]) assert.ok(HIERARCHICAL_GRID_AV.includes(v), `${v}`);
    assert.equal(hierarchicalGrid(2), HIERARCHICAL_GRID);
    assert.equal(hierarchicalGrid(3), HIERARCHICAL_GRID_AV);
  });

  it('a three-model grid search walks the 10³ audio-visual grid and finds the first best v by hand', () => {
    // Model 0 is right with peak 0.6; models 1 and 2 both say the next class with peak 0.9; W = ⅓
    // everywhere. A frame is right iff v0·(0.6 − 0.4/6) > (v1 + v2)·(0.9 − 0.1/6), i.e.
    // v0/(v1 + v2) > 1.65625. With the last model fastest: v0 = 0.01 would need v1 + v2 < 0.0061
    // (the least is 0.02); v0 = 0.06 needs v1 + v2 < 0.0362, and v1 = v2 = 0.01 is the first such.
    const frames = 14;
    const truth = Int32Array.from({ length: frames }, (_, f) => f % 7);
    const probs = [new Float64Array(frames * 7), new Float64Array(frames * 7), new Float64Array(frames * 7)];
    for (let f = 0; f < frames; f++) {
      probs[0].set(peaked(truth[f], 0.6), f * 7);
      probs[1].set(peaked((truth[f] + 1) % 7, 0.9), f * 7);
      probs[2].set(peaked((truth[f] + 1) % 7, 0.9), f * 7);
    }
    const third = Array.from({ length: 7 }, () => 1 / 3);
    const totals = new Set<number>();
    const result = hierarchicalGridSearch({ probs, truth }, { metric: 'f1', task: 'basic', weights: [third, third, third], onProgress: (p) => totals.add(p.total) });
    assert.deepEqual(result.modelWeights, [0.06, 0.01, 0.01]);
    assert.equal(result.score, 1);
    assert.deepEqual([...totals], [1000], '10 values per model');
  });

  it('is reproducible with a seed, and the seed matters', () => {
    const data = expertData(300, 7);
    const options = { samples: 200, seed: 42, metric: 'f1-1to6', task: 'basic' } as const;
    const a = dirichletSearch(data, options);
    const b = dirichletSearch(data, options);
    assert.deepEqual(a, b);
    const c = dirichletSearch(data, { ...options, seed: 43 });
    assert.notDeepEqual(c.weights, a.weights);
    for (let col = 0; col < 7; col++) {
      assert.ok(Math.abs(a.weights[0][col] + a.weights[1][col] - 1) < 1e-12, 'each class column sums to one');
    }
  });

  it('recovers a planted best weighting on synthetic data', () => {
    // Two models; three classes carry data: An, Fe and Sa, with planted model-0 shares 0.8, 0.3, 0.6.
    // A frame for class c with threshold τ: model 0 says c with 1, model 1 says c with 0, both say
    // Neutral with τ. The fused score of c is then w_c (model 0's share) against Neutral's τ, and the
    // frame is labelled c exactly when the planted w_c > τ, else Neutral. Only a W whose shares fall
    // between the thresholds around the planted ones labels every frame right.
    const planted: Record<number, number> = { 1: 0.8, 3: 0.3, 5: 0.6 };
    const rand = lcg(11);
    const rows: Array<{ p0: number[]; p1: number[]; t: number }> = [];
    for (const [classText, share] of Object.entries(planted)) {
      const c = Number(classText);
      for (let k = 0; k < 60; k++) {
        const tau = rand();
        const p0 = [tau, 0, 0, 0, 0, 0, 0];
        const p1 = [tau, 0, 0, 0, 0, 0, 0];
        p0[c] = 1;
        rows.push({ p0, p1, t: share > tau ? c : 0 });
      }
    }
    const data: SearchData = {
      probs: [Float64Array.from(rows.flatMap((r) => r.p0)), Float64Array.from(rows.flatMap((r) => r.p1))],
      truth: Int32Array.from(rows, (r) => r.t),
    };
    const plantedW = [
      [0.5, 0.8, 0.5, 0.3, 0.5, 0.6, 0.5],
      [0.5, 0.2, 0.5, 0.7, 0.5, 0.4, 0.5],
    ];
    assert.equal(scoreWeights(data, { metric: 'f1', task: 'basic' }, plantedW), 4 / 7, 'all four classes with data are perfect');
    const progress: number[] = [];
    const found = dirichletSearch(data, { samples: 3000, seed: 1, metric: 'f1', task: 'basic', onProgress: (p) => progress.push(p.done) });
    assert.ok(found.score > 0.95 * (4 / 7), `score ${found.score}`);
    for (const [classText, share] of Object.entries(planted)) {
      const c = Number(classText);
      assert.ok(Math.abs(found.weights[0][c] - share) < 0.06, `class ${c}: found ${found.weights[0][c]}, planted ${share}`);
    }
    assert.equal(progress[progress.length - 1], 3000);
  });

  it('the grid finds the first v by hand on a two-model case', () => {
    // Model A is right with peak 0.6; model B wrong with peak 0.9 on another class; W = ½ everywhere.
    // A frame is right iff vA·(0.6 − 0.4/6) > vB·(0.9 − 0.1/6), i.e. vA/vB > 1.65625. Going through
    // the grid with the last model fastest, the first such pair is vA = 0.02, vB = 0.01.
    const frames = 14;
    const truth = Int32Array.from({ length: frames }, (_, f) => f % 7);
    const probs = [new Float64Array(frames * 7), new Float64Array(frames * 7)];
    for (let f = 0; f < frames; f++) {
      probs[0].set(peaked(truth[f], 0.6), f * 7);
      probs[1].set(peaked((truth[f] + 1) % 7, 0.9), f * 7);
    }
    const half = Array.from({ length: 7 }, () => 0.5);
    const result = hierarchicalGridSearch({ probs, truth }, { metric: 'f1', task: 'basic', weights: [half, half] });
    assert.deepEqual(result.modelWeights, [0.02, 0.01]);
    assert.equal(result.score, 1);
  });

  it('uar-1to6 is the mean recall over An … Su from argmax predictions, Neutral left out', () => {
    // One model, W = 1: the prediction is the vote's argmax. Eight frames:
    //   truth Ne, predicted Ne          — Neutral, not counted
    //   truth An ×2, predicted An, Di   — recall(An) = 1/2
    //   truth Di,    predicted Di       — recall(Di) = 1/1
    //   truth Fe,    predicted Ne       — recall(Fe) = 0/1
    //   truth Ha ×2, predicted Ha, Ha   — recall(Ha) = 2/2
    //   truth Sa,    predicted Su       — recall(Sa) = 0/1
    //   Su never in the truth           — recall(Su) = 0 (the six classes are fixed)
    // uar-1to6 = (1/2 + 1 + 0 + 1 + 0 + 0)/6 = 5/12; uar over the classes present (Ne An Di Fe Ha Sa)
    // = (1 + 1/2 + 1 + 0 + 1 + 0)/6 = 7/12.
    const pairs: Array<[number, number]> = [[0, 0], [1, 1], [1, 2], [2, 2], [3, 0], [4, 4], [4, 4], [5, 6]];
    const data: SearchData = {
      probs: [Float64Array.from(pairs.flatMap(([, p]) => peaked(p, 0.7)))],
      truth: Int32Array.from(pairs, ([t]) => t),
    };
    const ones = [Array.from({ length: 7 }, () => 1)];
    assert.ok(Math.abs(scoreWeights(data, { metric: 'uar-1to6', task: 'basic' }, ones) - 5 / 12) < 1e-15);
    assert.ok(Math.abs(scoreWeights(data, { metric: 'uar', task: 'basic' }, ones) - 7 / 12) < 1e-15);
    assert.throws(() => scoreWeights(data, { metric: 'uar-1to6', task: 'compound' }, ones), /^Error: metric uar-1to6 \(Neutral excluded\) applies to the basic task only$/);
  });

  it('searches for compound labels through the rule', () => {
    const data = expertData(500, 3);
    const r = dirichletSearch(data, { samples: 50, seed: 5, metric: 'f1', task: 'compound', rule: 'rule2' });
    assert.ok(r.score >= 0 && r.score <= 1);
    assert.throws(() => dirichletSearch(data, { samples: 5, seed: 5, metric: 'f1-1to6', task: 'compound' }), /basic task only/);
    assert.throws(() => dirichletSearch(data, { samples: 5, seed: 0, metric: 'f1', task: 'basic' }), /seed must be an integer from 1/);
  });
});
