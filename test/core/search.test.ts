import { strict as assert } from 'node:assert';
import { dirichletSearch, HIERARCHICAL_GRID, hierarchicalGridSearch, scoreWeights, SearchData } from '../../src/core';

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
  it('the hierarchical grid runs 0.01 … 0.5 in steps of 0.005', () => {
    assert.equal(HIERARCHICAL_GRID.length, 99);
    assert.equal(HIERARCHICAL_GRID[0], 0.01);
    assert.equal(HIERARCHICAL_GRID[1], 0.015);
    assert.equal(HIERARCHICAL_GRID[98], 0.5);
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

  it('searches for compound labels through the rule', () => {
    const data = expertData(500, 3);
    const r = dirichletSearch(data, { samples: 50, seed: 5, metric: 'f1', task: 'compound', rule: 'rule2' });
    assert.ok(r.score >= 0 && r.score <= 1);
    assert.throws(() => dirichletSearch(data, { samples: 5, seed: 5, metric: 'f1-1to6', task: 'compound' }), /basic task only/);
    assert.throws(() => dirichletSearch(data, { samples: 5, seed: 0, metric: 'f1', task: 'basic' }), /seed must be an integer from 1/);
  });
});
