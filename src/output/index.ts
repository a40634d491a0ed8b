/**
 * Writing an analysis's results: JSON (the whole result), CSV (the per-frame table), the ABAW
 * challenge text format and a PNG timeline, each named after the input in one output folder.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, oneLine } from '../io/errors';
import { checkOutputTarget, FileInputError, releaseTemporary, showPath, sweepStaleTemporariesOnce, temporaryPath } from '../io/safe-files';
import type { AnalyzeResult } from '../pipeline/analyze';
import { abawText, type AbawOptions } from './abaw';
import { csvText } from './csv';
import { outputStem } from './frame-slots';
import { timelinePng, type TimelineOptions } from './timeline';

export * from './abaw';
export * from './csv';
export * from './frame-slots';
export * from './timeline';

export const OUTPUT_FORMATS = ['json', 'csv', 'abaw', 'png'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The file extension of each format. */
export const FORMAT_EXTENSIONS: Readonly<Record<OutputFormat, string>> = { json: 'json', csv: 'csv', abaw: 'txt', png: 'png' };

export function isOutputFormat(name: string): name is OutputFormat {
  return (OUTPUT_FORMATS as readonly string[]).includes(name);
}

/** A comma-separated list of formats (as `--format` takes it), checked; duplicates dropped. */
export function parseFormats(list: string, what = '--format'): OutputFormat[] {
  const formats: OutputFormat[] = [];
  for (const raw of list.split(',')) {
    const f = raw.trim();
    if (!isOutputFormat(f)) throw new InputError(`${what}: unknown format "${f}"; expected ${OUTPUT_FORMATS.join(', ')}`);
    if (!formats.includes(f)) formats.push(f);
  }
  return formats;
}

/** The JSON written for one input: the result less its timing, with the real-time factor rounded. */
export function resultJson(result: AnalyzeResult): string {
  const { seconds: _seconds, ...rest } = result;
  return JSON.stringify({ ...rest, rtf: result.rtf === null ? null : Math.round(result.rtf * 1000) / 1000 }) + '\n';
}

/** The path a format's file of an input gets in a folder. */
export function outputFile(input: string, outDir: string, format: OutputFormat): string {
  return path.join(outDir, `${outputStem(input)}.${FORMAT_EXTENSIONS[format]}`);
}

export interface WriteOutputsOptions {
  /** ABAW: the video name and track (see abaw.ts). */
  readonly abaw?: AbawOptions;
  /** PNG: size, track, fonts (see timeline.ts). */
  readonly timeline?: TimelineOptions;
}

/** One format's content, made in memory before anything is written. */
export function renderOutput(result: AnalyzeResult, format: OutputFormat, options: WriteOutputsOptions = {}): string | Buffer {
  switch (format) {
    case 'json':
      return resultJson(result);
    case 'csv':
      return csvText(result);
    case 'abaw':
      return abawText(result, options.abaw);
    case 'png':
      return timelinePng(result, options.timeline);
  }
}

/**
 * Writes `<stem>.json`, `<stem>.csv`, `<stem>.txt` (ABAW) and/or `<stem>.png` of one result into
 * `outDir` and returns their paths, in the order of `formats`.
 *
 * All or nothing: every content is made first, then written to a temporary file beside its
 * target, and only when every temporary file is complete are they renamed over the targets. On a
 * failure the temporary files are removed, and so are the targets already renamed in this call;
 * the error names the file. Files of formats not asked for are left alone.
 *
 * A format the result cannot have (ABAW, which needs a label, of an input without one: an audio
 * file and no acoustic model, say) does not cost the others: they are written, an older file of
 * that format is removed (it would not match them), then an InputError says why that one was not
 * written, and which were.
 */
export function writeOutputs(
  result: AnalyzeResult,
  outDir: string,
  formats: readonly OutputFormat[],
  options: WriteOutputsOptions = {},
): string[] {
  const unique: OutputFormat[] = [];
  for (const f of formats) {
    if (!isOutputFormat(f)) throw new InputError(`unknown output format "${String(f)}"; expected ${OUTPUT_FORMATS.join(', ')}`);
    if (!unique.includes(f)) unique.push(f);
  }
  if (!fs.existsSync(outDir) || !fs.statSync(outDir).isDirectory()) throw new InputError(`${outDir}: not a folder`);
  // Every target is a new file or a regular one (never a symlink, device, FIFO or folder), checked
  // before anything is written; temporary files of ours left by a killed run are removed.
  for (const format of unique) checkOutputTarget(outputFile(result.input, outDir, format));
  sweepStaleTemporariesOnce(outDir);
  const planned: Array<{ file: string; content: string | Buffer; tmp: string }> = [];
  const cannot: Array<{ format: OutputFormat; why: InputError }> = [];
  for (const format of unique) {
    const file = outputFile(result.input, outDir, format);
    try {
      planned.push({ file, content: renderOutput(result, format, options), tmp: '' });
    } catch (err) {
      if (err instanceof InputError) cannot.push({ format, why: err });
      else throw new Error(`${file}: ${oneLine(err)}`);
    }
  }

  const staged: Array<{ file: string; tmp: string }> = [];
  const renamed: string[] = [];
  let current = '';
  try {
    for (const p of planned) {
      current = p.file;
      p.tmp = temporaryPath(p.file);
      staged.push(p);
      fs.writeFileSync(p.tmp, p.content, { flag: 'wx', mode: 0o644 });
    }
    for (const p of planned) {
      current = p.file;
      checkOutputTarget(p.file);
      fs.renameSync(p.tmp, p.file);
      releaseTemporary(p.tmp, false);
      renamed.push(p.file);
    }
  } catch (err) {
    for (const s of staged) releaseTemporary(s.tmp);
    for (const file of renamed) fs.rmSync(file, { force: true });
    if (err instanceof FileInputError) throw err;
    throw new InputError(`${showPath(current)}: cannot write (${oneLine(err)})`);
  }
  const written = planned.map((p) => p.file);
  if (cannot.length > 0) {
    const prefix = `${result.input}: `;
    const why = cannot.map((c) => {
      // An older file of that format would not match the results written now.
      const stale = outputFile(result.input, outDir, c.format);
      const removed = fs.existsSync(stale) ? `, the older ${stale} removed` : '';
      fs.rmSync(stale, { force: true });
      return `no ${c.format} output${removed}: ${c.why.message.startsWith(prefix) ? c.why.message.slice(prefix.length) : c.why.message}`;
    });
    throw new InputError(`${prefix}${why.join('; ')}${written.length > 0 ? ` (written: ${written.join(', ')})` : ''}`);
  }
  return written;
}

