/**
 * Searching fusion weights on labelled data (paper §3.3, docs/method.md §3):
 * - Dirichlet random search for W: every class column drawn from Dirichlet(α = 1 per model);
 * - the hierarchical grid for v, as the reference's `np.arange` has it: 0.01 … 0.495 step 0.005 per
 *   model for two models (VS+VD), 0.01 … 0.46 step 0.05 for three (VS+VD+A).
 * The best candidate is the first one with the highest metric (strictly better replaces it).
 *
 * Metrics, from argmax predictions: `uar-1to6`, the mean recall over the six non-neutral classes
 * (the metric the reference's searches keep), `f1-1to6` (macro F1 over the same six), `f1` and `uar`
 * (macro over all classes; uar over those present in the truth). The two `-1to6` metrics leave out
 * Neutral, a basic emotion: they have no meaning for compound labels, where class 0 is Fearfully
 * Surprised, and are refused for the compound task.
 */
import gammaRandom = require('@stdlib/random-base-gamma');
import { NUM_BASIC, NUM_COMPOUND } from './emotions';
import { macroF1FromCounts, uarFromCounts } from './metrics';
import { compoundScoresInto, Rule } from './rules';

export const SEARCH_METRICS = ['f1-1to6', 'uar-1to6', 'f1', 'uar'] as const;
export type SearchMetric = (typeof SEARCH_METRICS)[number];
export type SearchTask = 'basic' | 'compound';

export interface SearchData {
  /** Per model, frames × 7 canonical probabilities, row-major. */
  readonly probs: readonly Float64Array[];
  /** Per frame, the true class: a basic emotion (task basic) or a compound expression (task compound). */
  readonly truth: Int32Array;
}

export interface SearchObjective {
  readonly metric: SearchMetric;
  readonly task: SearchTask;
  /** Compound task only: the rule applied before the argmax. */
  readonly rule?: Rule;
}

export interface SearchProgress {
  readonly done: number;
  readonly total: number;
  readonly bestScore: number;
}

export interface DirichletSearchOptions extends SearchObjective {
  readonly samples: number;
  /** MT19937 seed, an integer 1 … 2^32 − 1. */
  readonly seed: number;
  readonly onProgress?: (progress: SearchProgress) => void;
}

export interface DirichletSearchResult {
  /** Best W, models × 7. */
  readonly weights: number[][];
  readonly score: number;
  /** 0-based index of the sample that gave the best W. */
  readonly sample: number;
}

export interface GridSearchOptions extends SearchObjective {
  /** W to combine with v (models × 7). */
  readonly weights: readonly (readonly number[])[];
  readonly onProgress?: (progress: SearchProgress) => void;
}

export interface GridSearchResult {
  readonly modelWeights: number[];
  readonly score: number;
}

/**
 * The hierarchical grid of two-model (VS+VD) searches: the reference's `np.arange(0.01, 0.5, 0.005)`,
 * 98 values 0.01 … 0.495. Each value is k/200, the double nearest the decimal (0.365); numpy's
 * arange gives 80 of the 98 one bit off it (0.36499999999999994), as the reference's stored `Mo` rows
 * show. Argmax predictions, and so the search, differ only on exact ties.
 */
export const HIERARCHICAL_GRID: readonly number[] = Array.from({ length: 98 }, (_, i) => (i + 2) / 200);

/**
 * The hierarchical grid of three-model (VS+VD+A) searches: the reference's `np.arange(0.01, 0.5,
 * 0.05)`, 10 values 0.01 … 0.46, each (1 + 5k)/100 (numpy's differ in the last bit for 6 of them:
 * 0.060000000000000005).
 */
export const HIERARCHICAL_GRID_AV: readonly number[] = Array.from({ length: 10 }, (_, i) => (1 + 5 * i) / 100);

/** The grid each model's v is searched on: HIERARCHICAL_GRID for up to two models, HIERARCHICAL_GRID_AV for more. */
export function hierarchicalGrid(models: number): readonly number[] {
  return models <= 2 ? HIERARCHICAL_GRID : HIERARCHICAL_GRID_AV;
}

const ALL_CLASSES = [0, 1, 2, 3, 4, 5, 6];
const CLASSES_1_TO_6 = [1, 2, 3, 4, 5, 6];

/** Averaged classes for a metric; fixed for the whole search so candidates are comparable. */
export function metricClasses(objective: SearchObjective, truth: Int32Array): number[] {
  if (objective.metric === 'f1-1to6' || objective.metric === 'uar-1to6') {
    if (objective.task !== 'basic') throw new Error(`metric ${objective.metric} (Neutral excluded) applies to the basic task only`);
    return CLASSES_1_TO_6;
  }
  if (objective.metric === 'f1') return ALL_CLASSES;
  const present = new Set<number>(truth);
  return ALL_CLASSES.filter((c) => present.has(c));
}

/**
 * Scores candidate weightings on fixed data. `Wv` (models × 7) already folds v into W, so one
 * evaluation is Σ_m P_m ⊙ Wv_m per frame, the argmax (after the rule for the compound task), and
 * the metric from a confusion count. Nothing is allocated per candidate.
 */
class Scorer {
  private readonly counts = new Int32Array(NUM_BASIC * NUM_BASIC);
  private readonly fused = new Float64Array(NUM_BASIC);
  private readonly compound = new Float64Array(NUM_COMPOUND);
  private readonly classes: number[];
  readonly models: number;
  readonly frames: number;

  constructor(
    private readonly data: SearchData,
    private readonly objective: SearchObjective,
  ) {
    this.models = data.probs.length;
    if (this.models === 0) throw new Error('weight search needs at least one model');
    this.frames = data.truth.length;
    if (this.frames === 0) throw new Error('weight search needs at least one labelled frame');
    data.probs.forEach((p, m) => {
      if (p.length !== this.frames * NUM_BASIC) {
        throw new Error(`model ${m} has ${p.length / NUM_BASIC} frames, the truth has ${this.frames}`);
      }
    });
    for (let f = 0; f < this.frames; f++) {
      const t = data.truth[f];
      if (!(t >= 0 && t < NUM_BASIC)) throw new Error(`truth label ${t} at frame ${f} is outside 0..6`);
    }
    this.classes = metricClasses(objective, data.truth);
  }

  score(Wv: Float64Array): number {
    const { probs, truth } = this.data;
    const { counts, fused, compound } = this;
    const M = this.models;
    const compoundTask = this.objective.task === 'compound';
    const rule = this.objective.rule ?? 'none';
    counts.fill(0);
    for (let f = 0, base = 0; f < this.frames; f++, base += NUM_BASIC) {
      for (let c = 0; c < NUM_BASIC; c++) fused[c] = 0;
      for (let m = 0; m < M; m++) {
        const p = probs[m];
        const w = m * NUM_BASIC;
        for (let c = 0; c < NUM_BASIC; c++) fused[c] += p[base + c] * Wv[w + c];
      }
      let scores: Float64Array = fused;
      if (compoundTask) {
        compoundScoresInto(fused, rule, compound);
        scores = compound;
      }
      let best = 0;
      let bestValue = scores[0];
      for (let k = 1; k < NUM_BASIC; k++) {
        if (scores[k] > bestValue) {
          bestValue = scores[k];
          best = k;
        }
      }
      counts[truth[f] * NUM_BASIC + best]++;
    }
    switch (this.objective.metric) {
      case 'uar':
      case 'uar-1to6':
        return uarFromCounts(counts, NUM_BASIC, this.classes);
      default:
        return macroF1FromCounts(counts, NUM_BASIC, this.classes);
    }
  }
}

function progressReporter(total: number, onProgress?: (p: SearchProgress) => void): (done: number, best: number) => void {
  if (!onProgress) return () => undefined;
  const every = Math.max(1, Math.floor(total / 100));
  return (done, bestScore) => {
    if (done % every === 0 || done === total) onProgress({ done, total, bestScore });
  };
}

export function validateSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 1 || seed > 0xffffffff) {
    throw new Error(`seed must be an integer from 1 to ${0xffffffff}, got ${seed}`);
  }
}

/** Dirichlet random search for W. The same data, seed and sample count give the same result. */
export function dirichletSearch(data: SearchData, options: DirichletSearchOptions): DirichletSearchResult {
  const scorer = new Scorer(data, options);
  validateSeed(options.seed);
  if (!Number.isInteger(options.samples) || options.samples < 1) {
    throw new Error(`samples must be a positive integer, got ${options.samples}`);
  }
  const M = scorer.models;
  // Dirichlet(1, …, 1) over the models: normalised Gamma(1, 1) draws, one column per class.
  const gamma = gammaRandom.factory(1, 1, { seed: options.seed });
  const W = new Float64Array(M * NUM_BASIC);
  const best = new Float64Array(M * NUM_BASIC);
  let bestScore = -Infinity;
  let bestSample = -1;
  const report = progressReporter(options.samples, options.onProgress);
  for (let s = 0; s < options.samples; s++) {
    for (let c = 0; c < NUM_BASIC; c++) {
      let sum = 0;
      for (let m = 0; m < M; m++) {
        const g = gamma();
        W[m * NUM_BASIC + c] = g;
        sum += g;
      }
      for (let m = 0; m < M; m++) W[m * NUM_BASIC + c] /= sum;
    }
    const score = scorer.score(W);
    if (score > bestScore) {
      bestScore = score;
      bestSample = s;
      best.set(W);
    }
    report(s + 1, bestScore);
  }
  return {
    weights: Array.from({ length: M }, (_, m) => Array.from(best.subarray(m * NUM_BASIC, (m + 1) * NUM_BASIC))),
    score: bestScore,
    sample: bestSample,
  };
}

/** Grid search of the hierarchical model weights v for a given W, on hierarchicalGrid(models). */
export function hierarchicalGridSearch(data: SearchData, options: GridSearchOptions): GridSearchResult {
  const scorer = new Scorer(data, options);
  const M = scorer.models;
  if (options.weights.length !== M || options.weights.some((row) => row.length !== NUM_BASIC)) {
    throw new Error(`weights must be ${M} rows of 7 numbers`);
  }
  const grid = hierarchicalGrid(M);
  const G = grid.length;
  const total = G ** M;
  const k = new Int32Array(M);
  const Wv = new Float64Array(M * NUM_BASIC);
  let bestScore = -Infinity;
  let bestV: number[] = [];
  const report = progressReporter(total, options.onProgress);
  for (let done = 0; done < total; ) {
    for (let m = 0; m < M; m++) {
      const v = grid[k[m]];
      for (let c = 0; c < NUM_BASIC; c++) Wv[m * NUM_BASIC + c] = options.weights[m][c] * v;
    }
    const score = scorer.score(Wv);
    if (score > bestScore) {
      bestScore = score;
      bestV = Array.from(k, (i) => grid[i]);
    }
    done++;
    report(done, bestScore);
    // Odometer over the grid, last model fastest.
    for (let m = M - 1; m >= 0; m--) {
      if (++k[m] < G) break;
      k[m] = 0;
    }
  }
  return { modelWeights: bestV, score: bestScore };
}

/** The metric of one fixed weighting (for reporting a preset or a fitted W on the same data). */
export function scoreWeights(
  data: SearchData,
  objective: SearchObjective,
  weights: readonly (readonly number[])[],
  modelWeights?: readonly number[],
): number {
  const scorer = new Scorer(data, objective);
  const Wv = new Float64Array(scorer.models * NUM_BASIC);
  weights.forEach((row, m) => row.forEach((w, c) => (Wv[m * NUM_BASIC + c] = w * (modelWeights ? modelWeights[m] : 1))));
  return scorer.score(Wv);
}
