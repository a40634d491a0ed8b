import { BASIC_EMOTIONS, COMPOUND_NAMES, evaluate, Evaluation, macroF1FromCounts, confusionCounts } from '../../core';
import { InputError } from '../../io/errors';
import { LabelTask, matchLabels, readLabels } from '../../io/labels';
import { prettyJson, writeOutput } from '../output';

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

export function runEval(options: { pred: string; truth: string; task?: string; out?: string }): void {
  const report = evaluateFiles(options.pred, options.truth, parseTask(options.task));
  writeOutput(prettyJson(report), options.out);
}
