import { BASIC_EMOTIONS, COMPOUND_NAMES, evaluate, Evaluation, macroF1FromCounts, confusionCounts } from '../../core';
import { InputError } from '../../io/errors';
import { matchFiles, predictionFiles, readFilePrediction, readFileTruth } from '../../io/file-labels';
import { LabelTask, matchLabels, readLabels } from '../../io/labels';
import { checkOutput, prettyJson, writeOutput } from '../output';

export interface EvalReport extends Evaluation {
  readonly task: LabelTask;
  readonly labels: readonly string[];
  readonly matchedBy: 'name' | 'position';
  readonly excluded: number;
  /** Basic task: the reference's weight-search metric, macro F1 over classes 1..6 (Neutral excluded). */
  readonly f1_1to6?: number;
}

export function parseTask(value: string | undefined): LabelTask {
  if (value === undefined) return 'basic';
  if (value === 'basic' || value === 'compound') return value;
  throw new InputError(`--task: expected basic or compound, got "${value}"`);
}

export function evaluateFiles(predFile: string, truthFile: string, task: LabelTask): EvalReport {
  const pred = readLabels(predFile, task, false);
  const truth = readLabels(truthFile, task, true);
  const matched = matchLabels(pred, truth);
  if (matched.truth.length === 0) throw new InputError(`${truthFile}: no labelled frame to evaluate`);
  const labels = task === 'compound' ? COMPOUND_NAMES : BASIC_EMOTIONS;
  const evaluation = evaluate(matched.truth, matched.pred, labels);
  const report: EvalReport = { task, labels, matchedBy: matched.matchedBy, excluded: matched.excluded, ...evaluation };
  if (task === 'basic') {
    const counts = confusionCounts(matched.truth, matched.pred, labels.length);
    return { ...report, f1_1to6: macroF1FromCounts(counts, labels.length, [1, 2, 3, 4, 5, 6]) };
  }
  return report;
}

export interface PerFileReport extends Evaluation {
  readonly task: LabelTask;
  readonly labels: readonly string[];
  readonly matchedBy: 'file';
  /** Truth lines labelled Other (basic), left out. */
  readonly excluded: number;
  /** Each scored file: its key (base name without extension), true and predicted class. */
  readonly files: Array<{ file: string; truth: string; pred: string }>;
  /** With --intersection: what was left out. */
  readonly missingPrediction: string[];
  readonly notInTruth: string[];
  readonly noVote: string[];
  readonly f1_1to6?: number;
}

/**
 * Scores per-file predictions (the summaries of `cer analyze` results: summary.emotion for basic,
 * summary.label for compound) against a truth CSV `file,label`. Evaluation's `frames` is the
 * number of files scored.
 */
export function evaluatePerFile(pred: readonly string[], truthFile: string, task: LabelTask, intersection: boolean): PerFileReport {
  const truth = readFileTruth(truthFile, task);
  const preds = predictionFiles(pred).map((f) => readFilePrediction(f, task));
  const matched = matchFiles(truthFile, truth, preds, task, intersection);
  if (matched.items.length === 0) throw new InputError(`${truthFile}: no file to evaluate (none labelled and predicted)`);
  const labels = task === 'compound' ? COMPOUND_NAMES : BASIC_EMOTIONS;
  const t = Int32Array.from(matched.items, (i) => i.truth);
  const p = Int32Array.from(matched.items, (i) => i.pred);
  const report: PerFileReport = {
    task,
    labels,
    matchedBy: 'file',
    excluded: matched.excluded,
    ...evaluate(t, p, labels),
    files: matched.items.map((i) => ({ file: i.file, truth: labels[i.truth], pred: labels[i.pred] })),
    missingPrediction: matched.missingPrediction,
    notInTruth: matched.notInTruth,
    noVote: matched.noVote,
  };
  if (task === 'basic') return { ...report, f1_1to6: macroF1FromCounts(confusionCounts(t, p, labels.length), labels.length, [1, 2, 3, 4, 5, 6]) };
  return report;
}

export interface EvalOptions {
  pred: string[];
  truth: string;
  task?: string;
  out?: string;
  perFile?: boolean;
  intersection?: boolean;
}

export async function runEval(options: EvalOptions): Promise<void> {
  const task = parseTask(options.task);
  checkOutput(options.out);
  if (options.perFile === true) {
    await writeOutput(prettyJson(evaluatePerFile(options.pred, options.truth, task, options.intersection === true)), options.out);
    return;
  }
  if (options.intersection === true) throw new InputError('--intersection: only with --per-file');
  if (options.pred.length !== 1) throw new InputError(`--pred: one predictions file without --per-file, got ${options.pred.length}`);
  const report = evaluateFiles(options.pred[0], options.truth, task);
  await writeOutput(prettyJson(report), options.out);
}
