/**
 * Per-frame labels, read from the files `cer eval` and `cer fit-weights` take:
 * - the ABAW per-video text format: header `image_location,Fearfully_Surprised,…`, then
 *   `<video>/<00001>.jpg,<index>` per frame (frames named);
 * - the ABAW expression annotation format: a header of class names, then one index per line
 *   (frames by position);
 * - JSON: `cer fuse` output (`indices`, `fused`), `{ "labels": [...], "frames"?: [...] }`, or a plain array.
 * A label is an index or a class name. In truth files, -1 (and, for basic emotions, 7 = Other)
 * marks a frame to leave out of the evaluation.
 */
import { argmax, BASIC_EMOTIONS, canonicalLabel, COMPOUND_EXPRESSIONS, NUM_BASIC, OTHER_LABEL } from '../core';
import { InputError } from './errors';
import { parseJson, readTextFile } from './files';

export type LabelTask = 'basic' | 'compound';

/** Marks a frame that is not to be evaluated. */
export const EXCLUDED = -1;

export interface FrameLabels {
  readonly file: string;
  /** Per frame a class index, or EXCLUDED. */
  readonly labels: Int32Array;
  /** Frame names, where the file has them. */
  readonly names?: string[];
}

/** A class name (any case, `_` for space; basic-emotion synonyms too) → class index, EXCLUDED for Other, undefined when unknown. */
export function labelFromName(name: string, task: LabelTask): number | undefined {
  const key = name.trim().toLowerCase().replace(/_/g, ' ');
  if (task === 'compound') {
    const k = COMPOUND_EXPRESSIONS.findIndex((c) => c.name.toLowerCase() === key);
    return k >= 0 ? k : undefined;
  }
  const canonical = canonicalLabel(key);
  if (canonical === OTHER_LABEL) return EXCLUDED;
  return canonical === undefined ? undefined : BASIC_EMOTIONS.indexOf(canonical);
}

export function classNames(task: LabelTask): readonly string[] {
  return task === 'compound' ? COMPOUND_EXPRESSIONS.map((c) => c.name) : BASIC_EMOTIONS;
}

/** One label value → class index or EXCLUDED. `isTruth` allows the "not labelled" markers. */
function toLabel(value: unknown, task: LabelTask, isTruth: boolean, where: string): number {
  if (value === null && isTruth) return EXCLUDED;
  if (typeof value === 'number' && Number.isInteger(value)) {
    if (value >= 0 && value < NUM_BASIC) return value;
    if (isTruth && (value === -1 || (task === 'basic' && value === 7))) return EXCLUDED;
  } else if (typeof value === 'string') {
    const trimmed = value.trim();
    if (/^-?\d+$/.test(trimmed)) return toLabel(Number(trimmed), task, isTruth, where);
    const k = labelFromName(trimmed, task);
    if (k !== undefined && (k !== EXCLUDED || isTruth)) return k;
  }
  const expected = isTruth ? `0..6${task === 'basic' ? ', 7 (Other)' : ''}, -1 or a name` : '0..6 or a name';
  throw new InputError(`${where}: label ${JSON.stringify(value)} is not a ${task} class (expected ${expected}: ${classNames(task).join(', ')})`);
}

function parseText(text: string, file: string, task: LabelTask, isTruth: boolean): FrameLabels {
  const lines = text.split(/\r?\n/).filter((line) => line.trim().length > 0);
  if (lines.length === 0) throw new InputError(`${file}: is empty`);
  const header = lines[0].split(',').map((s) => s.trim());
  const named = header[0].toLowerCase() === 'image_location';
  const hasHeader = named || !/^-?\d+$/.test(header[0]);
  const body = hasHeader ? lines.slice(1) : lines;
  const firstLine = hasHeader ? 2 : 1;
  const labels = new Int32Array(body.length);
  const names: string[] = [];
  body.forEach((line, i) => {
    const where = `${file}: line ${i + firstLine}`;
    const cells = line.split(',').map((s) => s.trim());
    if (named) {
      if (cells.length !== 2) throw new InputError(`${where}: expected "<frame>,<label>", got "${line.trim()}"`);
      names.push(cells[0]);
      labels[i] = toLabel(cells[1], task, isTruth, where);
    } else {
      if (cells.length !== 1) throw new InputError(`${where}: expected one label per line, got "${line.trim()}"`);
      labels[i] = toLabel(cells[0], task, isTruth, where);
    }
  });
  if (named) {
    const seen = new Set<string>();
    names.forEach((name, i) => {
      if (seen.has(name)) throw new InputError(`${file}: line ${i + firstLine}: frame ${name} is listed twice`);
      seen.add(name);
    });
  }
  return { file, labels, names: named ? names : undefined };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseJsonLabels(raw: unknown, file: string, task: LabelTask, isTruth: boolean): FrameLabels {
  let values: unknown[];
  let names: string[] | undefined;
  let field = 'labels';
  if (Array.isArray(raw)) {
    values = raw;
    field = '';
  } else if (isObject(raw) && task === 'compound' && Array.isArray(raw.indices)) {
    values = raw.indices;
    field = 'indices';
  } else if (isObject(raw) && task === 'basic' && Array.isArray(raw.fused)) {
    field = 'fused';
    values = raw.fused.map((row: unknown, f) => {
      if (row === null) return null;
      if (!Array.isArray(row) || row.length !== NUM_BASIC || row.some((x) => typeof x !== 'number')) {
        throw new InputError(`${file}: fused[${f}]: expected 7 numbers`);
      }
      return argmax(row as number[]);
    });
  } else if (isObject(raw) && Array.isArray(raw.labels)) {
    values = raw.labels;
  } else {
    const needs = task === 'compound' ? '"labels" or "indices" (cer fuse output)' : '"labels" or "fused" (cer fuse output)';
    throw new InputError(`${file}: no per-frame ${task} labels found; expected an array, or an object with ${needs}`);
  }
  if (isObject(raw) && raw.frames !== undefined) {
    const frames = raw.frames;
    if (!Array.isArray(frames) || frames.length !== values.length || frames.some((n) => typeof n !== 'string')) {
      throw new InputError(`${file}: frames: expected ${values.length} frame names`);
    }
    names = frames as string[];
  }
  const labels = Int32Array.from(values, (v, f) => {
    if (v === null && !isTruth) throw new InputError(`${file}: ${field}[${f}]: frame ${f} has no prediction`);
    return toLabel(v, task, isTruth, `${file}: ${field ? field : ''}[${f}]`);
  });
  return { file, labels, names };
}

export function readLabels(file: string, task: LabelTask, isTruth: boolean): FrameLabels {
  const text = readTextFile(file, isTruth ? 'truth labels file' : 'predictions file');
  const trimmed = text.trimStart();
  if (trimmed.length === 0) throw new InputError(`${file}: is empty`);
  if (trimmed[0] === '{' || trimmed[0] === '[') return parseJsonLabels(parseJson(text, file), file, task, isTruth);
  return parseText(text, file, task, isTruth);
}

export interface MatchedLabels {
  readonly truth: Int32Array;
  readonly pred: Int32Array;
  /** Frames left out because the truth marks them unlabelled. */
  readonly excluded: number;
  readonly matchedBy: 'name' | 'position';
}

/**
 * Pairs predictions with the truth: by frame name where both files name their frames, else by
 * position. Any frame present on one side only is an error.
 */
export function matchLabels(pred: FrameLabels, truth: FrameLabels): MatchedLabels {
  let pairs: Array<[number, number]>;
  let matchedBy: 'name' | 'position';
  if (pred.names && truth.names) {
    matchedBy = 'name';
    const predIndex = new Map<string, number>();
    pred.names.forEach((name, i) => predIndex.set(name, i));
    const truthNames = new Set(truth.names);
    const missing = truth.names.filter((name) => !predIndex.has(name));
    if (missing.length > 0) {
      throw new InputError(`${pred.file}: has no prediction for frame ${missing[0]} of ${truth.file} (${missing.length} frames missing)`);
    }
    const extra = pred.names.filter((name) => !truthNames.has(name));
    if (extra.length > 0) {
      throw new InputError(`${pred.file}: frame ${extra[0]} is not in ${truth.file} (${extra.length} frames not in the truth)`);
    }
    pairs = truth.names.map((name, i) => [predIndex.get(name) as number, i]);
  } else {
    matchedBy = 'position';
    if (pred.labels.length !== truth.labels.length) {
      throw new InputError(`${pred.file} has ${pred.labels.length} frames, ${truth.file} has ${truth.labels.length}`);
    }
    pairs = Array.from(pred.labels, (_, i) => [i, i]);
  }
  const kept = pairs.filter(([, t]) => truth.labels[t] !== EXCLUDED);
  return {
    truth: Int32Array.from(kept, ([, t]) => truth.labels[t]),
    pred: Int32Array.from(kept, ([p]) => pred.labels[p]),
    excluded: pairs.length - kept.length,
    matchedBy,
  };
}
