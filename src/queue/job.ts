/**
 * What a queued analysis is: one input, the folder its results go to and the `cer analyze`
 * options it runs with, on a BullMQ queue in a Redis server that workers on any number of
 * machines take jobs from (`cer queue add`, `cer worker`, README "Scaling out").
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { FusionSpec } from '../core';
import { fusionSetting, type AnalyzeCommandOptions } from '../pipeline/analyze-settings';
import { InputError } from '../io/errors';
import { fusionOption } from '../io/fuse-input';
import { classifyInput } from '../media/source';
import { DEFAULT_DETECTOR, DEFAULT_FORMATS, DEFAULT_PROVIDERS, DEFAULT_TARGET_POLICY } from '../defaults';

/** The name every analysis job carries (BullMQ jobs have a name; ours are all one kind). */
export const JOB_NAME = 'analyze';

/**
 * The analyze options a job carries: those that change what a worker computes or writes. The
 * fusion is the fusion object itself (a `--fusion` file read where the job is queued), so a worker
 * reads no file for it and a changed file is another job.
 */
export type QueuedAnalyzeOptions = Omit<AnalyzeCommandOptions, 'out' | 'quiet' | 'skipExisting' | 'fusion'> & { fusion?: FusionSpec };

/** A job's data, as stored in Redis. */
export interface AnalyzeJobData {
  /** An absolute file path or a URL: the same for every worker. */
  readonly input: string;
  /** The absolute folder the results go to (every worker writes there: shared storage). */
  readonly out: string;
  readonly options: QueuedAnalyzeOptions;
}

/** What a worker returns for a finished job (its `returnvalue`). */
export interface AnalyzeJobResult {
  readonly outputs: string[];
  readonly frames: number;
  readonly seconds: number;
  readonly rtf: number | null;
  readonly emotion: string | null;
  readonly label: string | null;
  /** The worker that did it: host/pid. */
  readonly worker: string;
}

/** What the Node-RED queue node sends: `queued` for each message it took, `completed` / `failed` when a job ends. */
export type QueueEventPayload =
  | { type: 'queued'; jobId: string; input: string; outcome: string }
  | { type: 'completed'; jobId: string; input: string; outputs: string[]; frames: number | null; label: string | null; emotion: string | null; worker: string | null }
  | { type: 'failed'; jobId: string; input: string; error: string };

/** Progress a worker reports while it analyses a job (BullMQ job progress). */
export interface AnalyzeJobProgress {
  readonly frame: number;
  readonly frames: number | null;
  /** 0–100 when the frame count is known. */
  readonly percent: number | null;
}

const STRING_OPTIONS = ['format', 'rule', 'models', 'target', 'minTargetScore', 'detector', 'threads', 'provider', 'mouthEvery', 'vsBatch', 'vsMargin'] as const;
/** Switches that are off unless given (`--whole-frame-face`). */
const FLAG_OPTIONS = ['wholeFrameFace', 'referenceCompat', 'allowLive', 'vsAlign', 'vsFlip', 'timelineWeighted'] as const;
/** Switches that are on unless turned off (`--no-vad`). */
const ON_OPTIONS = ['vad', 'mouthCue', 'acoustic'] as const;
/** What `cer analyze` takes when an option is not given, so that given and left out queue as one job. */
const DEFAULTS: Partial<Record<(typeof STRING_OPTIONS)[number], string>> = {
  format: DEFAULT_FORMATS.join(','),
  models: 'default',
  target: DEFAULT_TARGET_POLICY,
  detector: DEFAULT_DETECTOR,
  provider: DEFAULT_PROVIDERS.join(','),
};

/**
 * The options a job carries, in one form whatever way they were given: defaults filled in, switches
 * that are off left out, `--fusion` (a preset, or a file read against `cwd`) as its fusion object,
 * and the `--models` folders and files made absolute against `cwd`: a worker reads them at that path.
 */
export function queuedOptions(options: AnalyzeCommandOptions | Record<string, unknown>, cwd: string = process.cwd()): QueuedAnalyzeOptions {
  const given = options as Record<string, unknown>;
  const out: Record<string, string | boolean | FusionSpec> = {};
  for (const key of STRING_OPTIONS) {
    const value = given[key] ?? DEFAULTS[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number') throw new InputError(`analyze option ${key}: expected text, got ${typeof value}`);
    out[key] = String(value);
  }
  for (const key of FLAG_OPTIONS) if (given[key] === true) out[key] = true;
  for (const key of ON_OPTIONS) if (given[key] === false) out[key] = false;
  const fusion = given.fusion;
  if (typeof fusion === 'string') out.fusion = fusionOption(fusion, cwd);
  else if (typeof fusion === 'object' && fusion !== null) out.fusion = fusionSetting(fusion as FusionSpec);
  else if (fusion !== undefined) throw new InputError(`analyze option fusion: expected a preset, a file name or a fusion object, got ${typeof fusion}`);
  if (typeof out.models === 'string' && out.models !== 'default') {
    out.models = out.models
      .split(',')
      .map((e) => e.trim())
      .filter((e) => e !== '')
      .map((e) => path.resolve(cwd, e))
      .join(',');
  }
  return out as QueuedAnalyzeOptions;
}

/** An input as every worker can name it: a file's absolute path, a URL or device as it is. */
export function queuedInput(input: string, cwd: string = process.cwd()): string {
  const source = classifyInput(input);
  return source.type === 'file' ? path.resolve(cwd, source.path) : input;
}

/** JSON with object keys in order, so that equal options give equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/**
 * The job id of an analysis: the same input, results folder and options give the same id, so a
 * job already queued, running, done or failed is not added again (BullMQ keeps one job per id).
 */
export function analyzeJobId(data: AnalyzeJobData): string {
  return `cer-${createHash('sha256').update(canonicalJson(data)).digest('hex').slice(0, 40)}`;
}

/** The job data for an input, its options in queued form. */
export function analyzeJob(input: string, out: string, options: AnalyzeCommandOptions | Record<string, unknown>, cwd: string = process.cwd()): AnalyzeJobData {
  return { input: queuedInput(input, cwd), out: path.resolve(cwd, out), options: queuedOptions(options, cwd) };
}

/** A job's data read back from Redis, checked: a job written by something else is refused by name. */
export function parseAnalyzeJob(data: unknown, jobId: string): AnalyzeJobData {
  const d = data as Partial<AnalyzeJobData> | null;
  if (typeof d !== 'object' || d === null || typeof d.input !== 'string' || d.input === '' || typeof d.out !== 'string' || !path.isAbsolute(d.out) || typeof d.options !== 'object' || d.options === null) {
    throw new InputError(`job ${jobId}: not a cer analysis job (expected { input, out: an absolute folder, options })`);
  }
  // A worker reads no fusion file: a job queued with one by name (before the fusion was carried) is refused.
  const fusion = (d.options as Record<string, unknown>).fusion;
  if (fusion !== undefined && (typeof fusion !== 'object' || fusion === null)) {
    throw new InputError(`job ${jobId}: options.fusion: expected the fusion object, got ${JSON.stringify(fusion)}; queue the input again`);
  }
  return { input: d.input, out: d.out, options: queuedOptions(d.options as Record<string, unknown>, d.out) };
}

/**
 * A Redis URL, checked: redis:// or rediss:// (TLS) with a host, e.g. redis://127.0.0.1:6379 or
 * redis://:password@queue.lab:6379/2. Anything else is an InputError naming `--redis`.
 */
export function parseRedisUrl(url: string, what = '--redis'): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`${what}: "${url}" is not a URL; expected redis://HOST:PORT (e.g. redis://127.0.0.1:6379)`);
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new InputError(`${what}: "${url}" is not a Redis URL; expected redis://HOST:PORT or rediss://HOST:PORT`);
  }
  if (parsed.hostname === '') throw new InputError(`${what}: "${url}" names no host; expected redis://HOST:PORT`);
  if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d+$/.test(parsed.pathname)) {
    throw new InputError(`${what}: "${url}": the path must be a database number (redis://HOST:PORT/2)`);
  }
  return parsed;
}

/** A URL as shown in messages: its password left out. */
export function redisLabel(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}
