/**
 * One input through a warm Pipeline to its result files: the step `cer analyze` takes for each
 * input of a batch and a queue worker (`cer worker`, src/queue/worker.ts) takes for each job, so
 * both write the same files for the same input and settings.
 */
import { outputFile, writeOutputs, type OutputFormat, type WriteOutputsOptions } from '../output';
import { oneLine } from '../io/errors';
import { checkOutputTarget, printable } from '../io/safe-files';
import { analyzeFile, type AnalyzeResult, type AnalyzeRunOptions, type Pipeline } from './analyze';

export interface AnalyzeOneOptions extends AnalyzeRunOptions {
  /** The folder the result files go to (it must exist). */
  readonly outDir: string;
  readonly formats: readonly OutputFormat[];
  /** How the files are written (the png timeline's weighted rows: `--timeline-weighted`). */
  readonly write?: WriteOutputsOptions;
}

export interface AnalyzeOneResult {
  readonly result: AnalyzeResult;
  /** The files written, in the order of `formats`. */
  readonly written: string[];
}

/**
 * Analyses `input` with `pipeline` and writes its result files into `outDir`, all or none
 * (writeOutputs). Every target is checked before the analysis starts, so an input whose results
 * could not be written costs no analysis.
 */
export async function analyzeOne(pipeline: Pipeline, input: string, options: AnalyzeOneOptions): Promise<AnalyzeOneResult> {
  for (const format of options.formats) checkOutputTarget(outputFile(input, options.outDir, format));
  const result = await analyzeFile(pipeline, input, options);
  const written = writeOutputs(result, options.outDir, options.formats, options.write);
  return { result, written };
}

/**
 * One line for an input's error: the message, prefixed with the input unless it names it; the
 * input's control characters and line breaks escaped (a name holding a newline stays one line).
 */
export function errorLine(input: string, err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  const shown = printable(input);
  if (shown === input) {
    const message = oneLine(raw);
    return message.includes(input) ? message : `${input}: ${message}`;
  }
  const marker = '\u0000';
  const named = raw.includes(input) ? raw.split(input).join(marker) : raw;
  const message = printable(oneLine(named)).split(printable(marker)).join(shown);
  return message.includes(shown) ? message : `${shown}: ${message}`;
}
