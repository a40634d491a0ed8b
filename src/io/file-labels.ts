/**
 * Per-file labels for `cer eval --per-file`: a truth CSV `file,label` (one line per clip or
 * utterance) and the summaries of `cer analyze` JSON results, paired by the file's base name
 * without extension (`clips/03-01.wav`, `03-01.mp4` and `03-01` are one key).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { outputStem } from '../output/frame-slots';
import { InputError, oneLine } from './errors';
import { parseJson, readTextFile } from './files';
import { classNames, EXCLUDED, labelFromName, type LabelTask } from './labels';

/** The key a file is matched by: its base name less its extension. */
export function fileKey(file: string): string {
  return outputStem(file.trim());
}

export interface FileLabel {
  readonly key: string;
  /** Where it came from, for messages: `truth.csv: line 3` or a result's path. */
  readonly where: string;
  /** Class index, or EXCLUDED (basic `Other`). */
  readonly label: number;
}

function unknownLabel(where: string, value: string, task: LabelTask): InputError {
  return new InputError(`${where}: label "${value}" is not a ${task} class (expected one of ${classNames(task).join(', ')}, any case)`);
}

/**
 * Reads a truth CSV: `file,label` per line, an optional header line `file,label` (any case),
 * blank lines ignored. Labels are class names of the task, in any case.
 */
export function readFileTruth(file: string, task: LabelTask): FileLabel[] {
  const lines = readTextFile(file, 'truth CSV').split(/\r?\n/);
  const out: FileLabel[] = [];
  const seen = new Map<string, number>();
  let first = true;
  lines.forEach((line, i) => {
    if (line.trim().length === 0) return;
    const where = `${file}: line ${i + 1}`;
    const cells = line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (cells.length !== 2 || cells[0] === '' || cells[1] === '') throw new InputError(`${where}: expected "<file>,<label>", got "${line.trim()}"`);
    const isHeader = first && cells[0].toLowerCase() === 'file' && cells[1].toLowerCase() === 'label';
    first = false;
    if (isHeader) return;
    const key = fileKey(cells[0]);
    const before = seen.get(key);
    if (before !== undefined) throw new InputError(`${where}: ${key} is labelled twice (line ${before} too)`);
    seen.set(key, i + 1);
    const label = labelFromName(cells[1], task);
    if (label === undefined) throw unknownLabel(where, cells[1], task);
    out.push({ key, where, label });
  });
  if (out.length === 0) throw new InputError(`${file}: no labelled file (expected lines "<file>,<label>")`);
  return out;
}

/** The JSON files a --pred entry stands for: the file, or a folder's `*.json` files in name order. */
export function predictionFiles(entries: readonly string[]): string[] {
  const files: string[] = [];
  for (const entry of entries) {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(entry);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(`--pred: ${entry}: ${code === 'ENOENT' ? 'no such file or folder' : oneLine(err)}`);
    }
    if (stat.isDirectory()) {
      const found = fs
        .readdirSync(entry)
        .filter((name) => name.toLowerCase().endsWith('.json') && !name.startsWith('.'))
        .sort()
        .map((name) => path.join(entry, name));
      if (found.length === 0) throw new InputError(`--pred: ${entry}: holds no .json results`);
      files.push(...found);
    } else {
      files.push(entry);
    }
  }
  return files;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

export interface FilePrediction {
  readonly key: string;
  readonly where: string;
  /** Class index, or null when the summary has none (no frame with a fused vote). */
  readonly label: number | null;
}

/** The per-file prediction of one `cer analyze` result: summary.emotion (basic) or summary.label (compound). */
export function readFilePrediction(file: string, task: LabelTask): FilePrediction {
  const raw = parseJson(readTextFile(file, 'cer analyze result'), file);
  if (!isObject(raw) || typeof raw.input !== 'string') throw new InputError(`${file}: not a cer analyze result (no "input")`);
  const summary = raw.summary;
  if (!isObject(summary)) throw new InputError(`${file}: no "summary" (not a cer analyze result, or one written before summaries; analyse it again)`);
  const field = task === 'basic' ? 'emotion' : 'label';
  const value = summary[field];
  const key = fileKey(raw.input);
  if (value === null) return { key, where: file, label: null };
  if (typeof value !== 'string') throw new InputError(`${file}: summary.${field}: expected a name or null`);
  const label = labelFromName(value, task);
  if (label === undefined || label === EXCLUDED) throw unknownLabel(`${file}: summary.${field}`, value, task);
  return { key, where: file, label };
}

export interface PerFileItem {
  readonly file: string;
  readonly truth: number;
  readonly pred: number;
}

export interface PerFileMatch {
  /** Scored files, in the truth's order. */
  readonly items: PerFileItem[];
  /** Truth lines labelled Other (basic), left out. */
  readonly excluded: number;
  /** With `intersection`: truth files without a prediction, predictions not in the truth, and predictions without a label (no fused vote), left out. */
  readonly missingPrediction: string[];
  readonly notInTruth: string[];
  readonly noVote: string[];
}

/**
 * Pairs the truth with the predictions by key. Without `intersection` a file on one side only, or
 * a prediction without a label, is an error; with it, they are left out and listed.
 */
export function matchFiles(truthFile: string, truth: readonly FileLabel[], preds: readonly FilePrediction[], task: LabelTask, intersection: boolean): PerFileMatch {
  const byKey = new Map<string, FilePrediction>();
  for (const p of preds) {
    const other = byKey.get(p.key);
    if (other !== undefined) throw new InputError(`--pred: ${other.where} and ${p.where} are both results of ${p.key}`);
    byKey.set(p.key, p);
  }
  const truthKeys = new Set(truth.map((t) => t.key));
  const notInTruth = preds.filter((p) => !truthKeys.has(p.key));
  const missing = truth.filter((t) => !byKey.has(t.key));
  if (!intersection) {
    if (missing.length > 0) {
      throw new InputError(`${missing[0].where}: ${missing[0].key} has no result among --pred (${missing.length} truth files without one; --intersection scores the files on both sides)`);
    }
    if (notInTruth.length > 0) {
      throw new InputError(`${notInTruth[0].where}: ${notInTruth[0].key} is not in ${truthFile} (${notInTruth.length} results not in the truth; --intersection scores the files on both sides)`);
    }
  }
  const items: PerFileItem[] = [];
  const noVote: string[] = [];
  let excluded = 0;
  for (const t of truth) {
    const p = byKey.get(t.key);
    if (p === undefined) continue;
    if (t.label === EXCLUDED) {
      excluded++;
      continue;
    }
    if (p.label === null) {
      const what = task === 'basic' ? 'summary.emotion' : 'summary.label';
      if (!intersection) throw new InputError(`${p.where}: ${what} is null (no frame has a fused vote): nothing to score for ${t.key} (--intersection leaves such files out)`);
      noVote.push(t.key);
      continue;
    }
    items.push({ file: t.key, truth: t.label, pred: p.label });
  }
  return { items, excluded, missingPrediction: missing.map((t) => t.key), notInTruth: notInTruth.map((p) => p.key), noVote };
}
