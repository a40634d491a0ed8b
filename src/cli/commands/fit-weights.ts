import {
  dirichletSearch,
  hierarchicalGrid,
  hierarchicalGridSearch,
  NUM_BASIC,
  parseRule,
  SEARCH_METRICS,
  SearchData,
  SearchMetric,
  SearchObjective,
  SearchProgress,
} from '../../core';
import { InputError } from '../../io/errors';
import { readJsonFile } from '../../io/files';
import { parseFuseInput } from '../../io/fuse-input';
import { matchLabels, readLabels } from '../../io/labels';
import { checkOutput, prettyJson, writeOutput } from '../output';
import { parseTask } from './eval';
import { printWarnings } from './fuse';

export interface FitWeightsOptions {
  in: string;
  truth: string;
  strategy?: string;
  samples?: string;
  seed?: string;
  metric?: string;
  /** The same setting as `metric`, by the name the reference gives it. */
  objective?: string;
  /** The reference's search: objective uar-1to6 by default (basic task). */
  referenceCompat?: boolean;
  task?: string;
  rule?: string;
  out?: string;
  quiet?: boolean;
}

function positiveInteger(value: string | undefined, fallback: number, option: string, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new InputError(`${option}: expected an integer from 1 to ${max}, got "${value}"`);
  }
  return n;
}

function progressPrinter(label: string, quiet: boolean): (p: SearchProgress) => void {
  const tty = process.stderr.isTTY === true;
  let lastPercent = 0;
  return (p) => {
    if (quiet) return;
    const percent = Math.floor((100 * p.done) / p.total);
    if (!tty && percent !== 100 && percent - lastPercent < 10) return;
    if (percent === lastPercent && p.done !== p.total) return;
    lastPercent = percent;
    const line = `${label}: ${percent}% (${p.done}/${p.total}), best ${p.bestScore.toFixed(4)}`;
    if (tty) process.stderr.write(`\r${line}${p.done === p.total ? '\n' : ''}`);
    else process.stderr.write(line + '\n');
  };
}

export async function runFitWeights(options: FitWeightsOptions): Promise<void> {
  checkOutput(options.out);
  const input = parseFuseInput(readJsonFile(options.in, 'fuse input'), options.in);
  if (options.quiet !== true) printWarnings(input.warnings);
  const task = parseTask(options.task);
  const strategy = options.strategy ?? 'dirichlet';
  if (strategy !== 'dirichlet' && strategy !== 'hierarchical') {
    throw new InputError(`--strategy: expected dirichlet or hierarchical, got "${strategy}"`);
  }
  if (options.metric !== undefined && options.objective !== undefined && options.metric !== options.objective) {
    throw new InputError(`--metric ${options.metric} and --objective ${options.objective}: they are one setting, give one of them`);
  }
  const option = options.objective !== undefined ? '--objective' : '--metric';
  // The reference's searches score basic emotions only; a compound search keeps its own default.
  const metricName = options.objective ?? options.metric ?? (task === 'basic' ? (options.referenceCompat === true ? 'uar-1to6' : 'f1-1to6') : 'f1');
  if (!(SEARCH_METRICS as readonly string[]).includes(metricName)) {
    throw new InputError(`${option}: expected one of ${SEARCH_METRICS.join(', ')}, got "${metricName}"`);
  }
  const metric = metricName as SearchMetric;
  if ((metric === 'f1-1to6' || metric === 'uar-1to6') && task !== 'basic') {
    throw new InputError(`${option} ${metric} (Neutral excluded) applies to --task basic only`);
  }
  const rule = options.rule !== undefined ? parseRule(options.rule, '--rule') : input.rule;
  const samples = positiveInteger(options.samples, 10000, '--samples');
  const seed = positiveInteger(options.seed, 1, '--seed', 0xffffffff);

  const truth = readLabels(options.truth, task, true);
  // The input's frames, named where it names them, paired with the truth like `cer eval` does.
  const frameIndex = { file: options.in, labels: Int32Array.from({ length: input.frames }, (_, f) => f), names: input.frameNames };
  const matched = matchLabels(frameIndex, truth);
  const used: number[] = [];
  const labels: number[] = [];
  let withoutVote = 0;
  matched.pred.forEach((f, i) => {
    if (input.present.some((voted) => voted[f] === 0)) {
      withoutVote++;
      return;
    }
    used.push(f);
    labels.push(matched.truth[i]);
  });
  if (used.length === 0) throw new InputError(`${options.truth}: no labelled frame where every model has a vote`);
  const data: SearchData = {
    probs: input.probs.map((p) => {
      const out = new Float64Array(used.length * NUM_BASIC);
      used.forEach((f, i) => out.set(p.subarray(f * NUM_BASIC, (f + 1) * NUM_BASIC), i * NUM_BASIC));
      return out;
    }),
    truth: Int32Array.from(labels),
  };
  const objective: SearchObjective = { metric, task, rule };
  const quiet = options.quiet === true;
  if (!quiet) {
    const left = matched.excluded + withoutVote;
    process.stderr.write(
      `fit-weights: ${used.length} frames, ${input.models.length} models [${input.models.join(', ')}], metric ${metric}` +
        (left > 0 ? ` (${matched.excluded} unlabelled and ${withoutVote} without every model's vote left out)` : '') +
        '\n',
    );
  }
  const found = dirichletSearch(data, { ...objective, samples, seed, onProgress: progressPrinter('dirichlet search', quiet) });
  const search: Record<string, unknown> = {
    models: input.models,
    task,
    metric,
    ...(task === 'compound' ? { rule } : {}),
    frames: used.length,
    samples,
    seed,
    score: found.score,
  };
  let result: Record<string, unknown> = { strategy: 'dirichlet', weights: found.weights, search };
  if (strategy === 'hierarchical') {
    const grid = hierarchicalGridSearch(data, { ...objective, weights: found.weights, onProgress: progressPrinter('hierarchical grid', quiet) });
    const values = hierarchicalGrid(input.models.length);
    result = {
      strategy: 'hierarchical',
      weights: found.weights,
      modelWeights: grid.modelWeights,
      search: { ...search, dirichletScore: found.score, score: grid.score, grid: { from: values[0], to: values[values.length - 1], step: Math.round((values[1] - values[0]) * 1e6) / 1e6, values: values.length } },
    };
  }
  await writeOutput(prettyJson(result), options.out);
}

