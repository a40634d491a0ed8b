import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputError, oneLine } from '../../io/errors';
import { checkOutputTarget, printable } from '../../io/safe-files';
import { describeBinary, resolveFfmpeg, resolveFfprobe } from '../../media/binaries';
import { outputFile } from '../../output';
import { outputStem } from '../../output/frame-slots';
import { classifyInput, expandFolder } from '../../media/source';
import { AnalyzeProgress, Pipeline } from '../../pipeline/analyze';
import { analyzeOne, errorLine } from '../../pipeline/analyze-one';
import { analyzeSettings, type AnalyzeCommandOptions } from '../../pipeline/analyze-settings';
import { probeMedia } from '../../media/probe';
import type { AnalysisSummary } from '../../pipeline/summary';
import type { MediaInfo } from '../../media/types';

function progressBar(name: string): (p: AnalyzeProgress) => void {
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 100 && p.frame !== p.frames) return;
    last = now;
    const fps = p.elapsed > 0 ? p.frame / p.elapsed : 0;
    const width = 24;
    if (p.frames) {
      const fraction = Math.min(1, p.frame / p.frames);
      const filled = Math.round(fraction * width);
      process.stderr.write(`\r${name} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${Math.round(fraction * 100)}% ${p.frame}/${p.frames} frames ${fps.toFixed(1)} frames/s`);
    } else {
      process.stderr.write(`\r${name} ${p.frame} frames ${fps.toFixed(1)} frames/s`);
    }
  };
}

/** The end of an input's last line: its dominant basic emotion and compound expression. */
export function dominant(summary: AnalysisSummary): string {
  if (summary.emotion === null) return 'dominant: none (no frame has a fused vote)';
  return `dominant: ${summary.emotion}, ${summary.label ?? 'no compound label'} (over ${summary.fused.frames} frames with a fused vote)`;
}

export async function runAnalyze(inputs: string[], options: AnalyzeCommandOptions): Promise<void> {
  // An empty name would stand for the current folder and analyse every media file in it.
  const empty = inputs.findIndex((input) => input.trim() === '');
  if (empty >= 0) throw new InputError(`input ${empty + 1} of ${inputs.length} is an empty name: give a media file, a folder or a URL`);
  const { formats, timelineWeighted, pipeline: pipelineOptions } = analyzeSettings(options);
  const outDir = options.out ?? '.';
  if (fs.existsSync(outDir) && !fs.statSync(outDir).isDirectory()) throw new InputError(`--out: ${outDir} is not a folder`);
  // A missing results folder is made, as `--out results/` in the README expects on a fresh checkout.
  try {
    fs.mkdirSync(outDir, { recursive: true });
  } catch (err) {
    throw new InputError(`--out: cannot make the folder ${outDir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const quiet = options.quiet === true;
  const { expanded, failed } = await expandInputs(inputs);
  let failures = failed.length;
  for (const message of failed) process.stderr.write(`cer: ${message}\n`);
  // --skip-existing: a batch that was stopped picks up where it was; an input whose every requested
  // output is there already is not analysed again (outputs are written whole or not at all).
  const isDone = (input: string): boolean => options.skipExisting === true && formats.every((f) => fs.existsSync(outputFile(input, outDir, f)));
  const done: string[] = [];
  const todo: string[] = [];
  for (const input of expanded) (isDone(input) ? done : todo).push(input);
  // Every result file is a new file or a regular one (never a symlink, device, FIFO or folder),
  // checked before any work starts: an input whose results could not be written is not analysed.
  for (const input of [...todo]) {
    try {
      for (const f of formats) checkOutputTarget(outputFile(input, outDir, f));
    } catch (err) {
      todo.splice(todo.indexOf(input), 1);
      failures++;
      process.stderr.write(`cer: ${errorLine(input, err)}\n`);
    }
  }
  if (done.length > 0 && !quiet) process.stderr.write(`cer: --skip-existing: ${done.length} of ${expanded.length} inputs have their results in ${outDir} already\n`);
  const total = expanded.length + failed.length;
  const summary = (): void => {
    if (total > 1 && !quiet) {
      process.stderr.write(`cer: ${total - failures - done.length} of ${total} inputs analysed${done.length > 0 ? `, ${done.length} skipped (results there already)` : ''}, ${failures} failed\n`);
    }
  };
  if (todo.length === 0) {
    summary();
    if (failures > 0) process.exitCode = 1;
    return;
  }
  if (!quiet) process.stderr.write(`cer: ffmpeg: ${describeBinary(resolveFfmpeg())}\ncer: ffprobe: ${describeBinary(resolveFfprobe())}\n`);

  // From the second input on, each is probed while the one before it runs, so the probe (~20 ms
  // with the package's static ffprobe, ~80 with Debian's) does not stand between one input's last
  // frame and the next one's first. An input's seconds are those of its turn: a batch's add up to
  // its wall time, and a single input's real-time factor is what it always was (its probe included).
  const prefetch = new AbortController();
  const allowLive = options.allowLive === true;
  const probeAhead = (input: string | undefined): Promise<MediaInfo> | undefined => {
    // Files only: a stream or a camera is opened when its turn comes.
    if (input === undefined || classifyInput(input).type !== 'file') return undefined;
    const probed = probeMedia(input, { allowLive, signal: prefetch.signal });
    probed.catch(() => undefined); // reported at its turn
    return probed;
  };
  let nextProbe: Promise<MediaInfo> | undefined;
  const pipeline = await Pipeline.load(pipelineOptions);
  if (!quiet) process.stderr.write(`cer: models: ${pipeline.describe()}\n`);
  try {
    for (const [i, input] of todo.entries()) {
      const showBar = !quiet && process.stderr.isTTY === true;
      const probed = nextProbe;
      nextProbe = probeAhead(todo[i + 1]);
      try {
        const { result, written } = await analyzeOne(pipeline, input, {
          outDir,
          formats,
          write: timelineWeighted ? { timeline: { weighted: true } } : {},
          allowLive,
          probed,
          onProgress: showBar ? progressBar(path.basename(input)) : undefined,
        });
        if (showBar) process.stderr.write('\n');
        if (!quiet) for (const note of result.notes) process.stderr.write(`cer: ${printable(input)}: ${note}\n`);
        if (!quiet) {
          const rtf = result.rtf === null ? 'n/a' : result.rtf.toFixed(3);
          process.stderr.write(
            `cer: ${printable(input)} → ${written.map(printable).join(', ')}: ${result.frames} frames in ${result.seconds.toFixed(2)} s, ` +
              `${(result.frames / result.seconds).toFixed(1)} frames/s, real-time factor ${rtf}; ${dominant(result.summary)}\n`,
          );
        }
      } catch (err) {
        if (showBar) process.stderr.write('\n');
        failures++;
        process.stderr.write(`cer: ${errorLine(input, err)}\n`);
      }
    }
  } finally {
    prefetch.abort();
    await Promise.all([pipeline.release(), nextProbe?.catch(() => undefined)]);
  }
  summary();
  if (failures > 0) process.exitCode = 1;
}

/**
 * The inputs to analyse: each folder stands for its media files (expandFolder), a file named twice
 * is analysed once. A folder that cannot be read or holds no media is a failed input (the others
 * go on). Two inputs whose results would have the same file name (clip.mp4 and clip.mov) are refused
 * before anything runs: the second would overwrite the first's results.
 */
async function expandInputs(inputs: readonly string[]): Promise<{ expanded: string[]; failed: string[] }> {
  const expanded: string[] = [];
  const failed: string[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    let files: string[];
    try {
      files = await expandFolder(input);
    } catch (err) {
      failed.push(oneLine(err));
      continue;
    }
    for (const file of files) {
      const key = classifyInput(file).type === 'file' ? path.resolve(file) : file;
      if (seen.has(key)) continue;
      seen.add(key);
      expanded.push(file);
    }
  }
  // Compared without case: on macOS and Windows Clip.json and clip.json are one file.
  const byStem = new Map<string, string>();
  for (const input of expanded) {
    const stem = outputStem(input);
    const other = byStem.get(stem.toLowerCase());
    if (other !== undefined) throw new InputError(`${other} and ${input} would both write their results to ${stem}.*: analyse them into different --out folders`);
    byStem.set(stem.toLowerCase(), input);
  }
  return { expanded, failed };
}
