/**
 * The options of an analysis, as `cer analyze` takes them and a queued job (src/queue/) carries
 * them: checked once, here, into the result formats and the Pipeline's settings.
 */
import { FusionConfigError, modelsOfFusion, parseFusionSpec, parseRule, resolveFusionAt, type FusionSpec } from '../core';
import { InputError, oneLine } from '../io/errors';
import { fusionOption } from '../io/fuse-input';
import { MAX_CROP_MARGIN } from '../models/manifest';
import { parseFormats, type OutputFormat } from '../output';
import type { VSCropOptions } from '../stages/vs';
import { DETECTOR_CHOICES, isDetectorChoice } from '../vision/auto-detector';
import { parseMinTargetScore, parseTargetPolicy } from '../vision/target';
import type { PipelineOptions } from './analyze';
import { DEFAULT_DETECTOR, DEFAULT_FORMATS, DEFAULT_PROVIDERS, DEFAULT_RULE, DEFAULT_TARGET_POLICY } from '../defaults';

function printWarning(line: string): void {
  process.stderr.write(`cer: warning: ${line}\n`);
}

export interface AnalyzeCommandOptions {
  out?: string;
  format?: string;
  fusion?: string;
  rule?: string;
  models?: string;
  target?: string;
  minTargetScore?: string;
  detector?: string;
  wholeFrameFace?: boolean;
  referenceCompat?: boolean;
  threads?: string;
  provider?: string;
  allowLive?: boolean;
  mouthEvery?: string;
  vsBatch?: string;
  vsAlign?: boolean;
  vsFlip?: boolean;
  vsMargin?: string;
  vad?: boolean;
  mouthCue?: boolean;
  acoustic?: boolean;
  skipExisting?: boolean;
  /** png: the models' rows as the reference draws them (src/output/timeline.ts). */
  timelineWeighted?: boolean;
  quiet?: boolean;
}

/**
 * The options analyzeSettings reads: `cer analyze`'s, where the fusion may also be given as the
 * fusion object itself (a queued job carries it parsed, so a worker reads no file).
 */
export type AnalyzeSettingsOptions = Omit<AnalyzeCommandOptions, 'fusion'> & { fusion?: string | FusionSpec };

/** The fusion `--fusion` asks for: a preset or a file's (fusionOption), or a fusion object checked as a file's would be. */
export function fusionSetting(fusion: string | FusionSpec): FusionSpec {
  if (typeof fusion === 'string') return fusionOption(fusion);
  try {
    return parseFusionSpec(fusion, '--fusion');
  } catch (err) {
    throw err instanceof FusionConfigError ? new InputError(err.message) : err;
  }
}

/** The VS crop options `--vs-align`, `--vs-flip` and `--vs-margin` ask for (absent ones: the defaults). */
export function vsCropOption(options: Pick<AnalyzeCommandOptions, 'vsAlign' | 'vsFlip' | 'vsMargin'>): VSCropOptions {
  let margin: number | undefined;
  if (options.vsMargin !== undefined) {
    margin = Number(options.vsMargin);
    if (options.vsMargin.trim() === '' || !Number.isFinite(margin) || margin < 0 || margin > MAX_CROP_MARGIN) {
      throw new InputError(`--vs-margin: expected a fraction from 0 to ${MAX_CROP_MARGIN} (0.1: a tenth of the face box on each side), got "${options.vsMargin}"`);
    }
  }
  return {
    ...(options.vsAlign === true ? { align: true } : {}),
    ...(options.vsFlip === true ? { flip: true } : {}),
    ...(margin !== undefined ? { margin } : {}),
  };
}

/** What an analysis's options ask for, checked: the result formats and the Pipeline's settings. */
export interface AnalyzeSettings {
  readonly formats: OutputFormat[];
  /** The png timeline's model rows as the reference draws them (P_m·w_m·v_m under the rule). */
  readonly timelineWeighted: boolean;
  readonly allowLive: boolean;
  readonly pipeline: PipelineOptions;
}

/**
 * The formats and Pipeline settings `cer analyze` options ask for (the same for `cer worker`'s
 * jobs); a bad option is an InputError naming it. What was changed to make fusion weights usable goes
 * to `warn`, one line each (stderr by default).
 */
export function analyzeSettings(options: AnalyzeSettingsOptions, warn: (line: string) => void = printWarning): AnalyzeSettings {
  const formats = options.format === undefined ? [...DEFAULT_FORMATS] : parseFormats(options.format);
  if (options.timelineWeighted === true && !formats.includes('png')) {
    throw new InputError('--timeline-weighted changes the png timeline: add png to --format');
  }
  const detector = options.detector ?? DEFAULT_DETECTOR;
  if (!isDetectorChoice(detector)) {
    throw new InputError(`--detector: expected ${DETECTOR_CHOICES.join(', ')}, got "${detector}"`);
  }
  let mouthEvery: number | undefined;
  if (options.mouthEvery !== undefined) {
    mouthEvery = Number(options.mouthEvery);
    if (!Number.isInteger(mouthEvery) || mouthEvery < 1) throw new InputError(`--mouth-every: expected a whole number ≥ 1, got "${options.mouthEvery}"`);
  }
  let vsBatch: number | undefined;
  if (options.vsBatch !== undefined) {
    vsBatch = Number(options.vsBatch);
    if (!Number.isInteger(vsBatch) || vsBatch < 1) throw new InputError(`--vs-batch: expected a whole number ≥ 1, got "${options.vsBatch}"`);
  }
  let threads: number | undefined;
  if (options.threads !== undefined) {
    threads = Number(options.threads);
    if (!Number.isInteger(threads) || threads < 0) throw new InputError(`--threads: expected a whole number ≥ 0, got "${options.threads}"`);
  }
  let target;
  try {
    target = parseTargetPolicy(options.target ?? DEFAULT_TARGET_POLICY);
  } catch (err) {
    throw new InputError(`--target: ${oneLine(err)}`);
  }
  let minTargetScore: number | undefined;
  if (options.minTargetScore !== undefined) {
    try {
      minTargetScore = parseMinTargetScore(options.minTargetScore);
    } catch (err) {
      throw new InputError(`--min-target-score: ${oneLine(err)}`);
    }
  }
  const fusion: FusionSpec | undefined = options.fusion !== undefined ? fusionSetting(options.fusion) : undefined;
  // Weights are checked (and their warnings given) before any work starts.
  const where = typeof options.fusion === 'string' ? `--fusion ${options.fusion}` : '--fusion';
  if (fusion !== undefined) for (const line of resolveFusionAt(fusion, modelsOfFusion(fusion, ['vs', 'vd']), where).warnings) warn(line);
  return {
    formats,
    timelineWeighted: options.timelineWeighted === true,
    allowLive: options.allowLive === true,
    pipeline: {
      models: options.models ?? 'default',
      detector,
      fusion,
      rule: options.rule !== undefined ? parseRule(options.rule, '--rule') : DEFAULT_RULE,
      target,
      minTargetScore,
      wholeFrameFace: options.wholeFrameFace === true,
      referenceCompat: options.referenceCompat === true,
      mouthCueEvery: mouthEvery,
      vsBatch,
      vsCrop: vsCropOption(options),
      vad: options.vad !== false,
      acoustic: options.acoustic !== false,
      mouthCue: options.mouthCue !== false,
      session: {
        executionProviders: options.provider ? options.provider.split(',') : [...DEFAULT_PROVIDERS],
        intraOpNumThreads: threads,
      },
    },
  };
}

