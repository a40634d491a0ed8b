/**
 * The producer side of the queue: adding analysis jobs (one per input, never twice), the queue's
 * counts and throughput, its failed jobs, retrying them, and draining it.
 */
import * as fs from 'node:fs';
import type { Job, JobsOptions, Queue } from 'bullmq';
import { InputError, oneLine } from '../io/errors';
import { analyzeJobId, JOB_NAME, type AnalyzeJobData, type AnalyzeJobResult } from './job';
import { DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_MS } from '../defaults';

export interface EnqueueOptions {
  readonly attempts?: number;
  readonly backoffMs?: number;
}

export type EnqueueOutcome = 'added' | 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'prioritized' | 'waiting-children' | 'unknown';

export interface Enqueued {
  readonly input: string;
  readonly jobId: string;
  /** `added`, or the state of the job that was there already (not added again). */
  readonly outcome: EnqueueOutcome;
}

/**
 * Makes the results folder where the jobs are queued (that is where the user is): a worker writes
 * only into a folder that is there, so that one without the shared storage does not write to its
 * own disk. `what` names the setting in the error (`--out`).
 */
export function makeResultsFolder(out: string, what = '--out'): void {
  if (fs.existsSync(out) && !fs.statSync(out).isDirectory()) throw new InputError(`${what}: ${out} is not a folder`);
  try {
    fs.mkdirSync(out, { recursive: true });
  } catch (err) {
    throw new InputError(`${what}: cannot make the folder ${out} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** BullMQ's job options for an analysis: retries with exponential backoff; finished jobs kept (they de-duplicate). */
export function jobOptions(jobId: string, options: EnqueueOptions = {}): JobsOptions {
  return {
    jobId,
    attempts: options.attempts ?? DEFAULT_ATTEMPTS,
    backoff: { type: 'exponential', delay: options.backoffMs ?? DEFAULT_BACKOFF_MS },
    removeOnComplete: false,
    removeOnFail: false,
  };
}

/**
 * Adds one job per input. An input whose job (same input, results folder and options) is on the
 * queue already, whatever its state, is not added again: its state is returned instead.
 */
export async function enqueue(queue: Queue, jobs: readonly AnalyzeJobData[], options: EnqueueOptions = {}): Promise<Enqueued[]> {
  const out: Enqueued[] = [];
  for (const data of jobs) {
    const jobId = analyzeJobId(data);
    const before = await queue.getJobState(jobId);
    if (before !== 'unknown') {
      out.push({ input: data.input, jobId, outcome: before });
      continue;
    }
    // Two producers adding the same input at once: BullMQ adds a job id once, the other add returns it.
    const job = await queue.add(JOB_NAME, data, jobOptions(jobId, options));
    out.push({ input: data.input, jobId: job.id ?? jobId, outcome: 'added' });
  }
  return out;
}

export interface FailedJob {
  readonly jobId: string;
  readonly input: string;
  readonly error: string;
  readonly attempts: number;
}

export interface QueueStatus {
  readonly queue: string;
  readonly counts: { waiting: number; active: number; delayed: number; completed: number; failed: number };
  /** Jobs finished per minute over the last `windowMinutes` (null: none finished in it). */
  readonly perMinute: number | null;
  readonly windowMinutes: number;
  /** Jobs finished per minute from the first start to the last finish of the completed jobs read. */
  readonly overallPerMinute: number | null;
  /** Mean seconds from a job's start to its finish, over the completed jobs read. */
  readonly meanJobSeconds: number | null;
  readonly workers: number;
  readonly failed: FailedJob[];
}

function inputOf(job: Job): string {
  const data = job.data as Partial<AnalyzeJobData> | null;
  return typeof data?.input === 'string' ? data.input : '?';
}

/** The queue's counts, throughput over the completed jobs (up to `sample` most recent) and failed jobs (up to `maxFailed`). */
export async function queueStatus(queue: Queue, options: { windowMinutes?: number; sample?: number; maxFailed?: number; now?: number } = {}): Promise<QueueStatus> {
  const windowMinutes = options.windowMinutes ?? 10;
  const now = options.now ?? Date.now();
  const raw = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed', 'paused');
  const counts = {
    waiting: (raw.waiting ?? 0) + (raw.prioritized ?? 0) + (raw.paused ?? 0),
    active: raw.active ?? 0,
    delayed: raw.delayed ?? 0,
    completed: raw.completed ?? 0,
    failed: raw.failed ?? 0,
  };
  const completed = (await queue.getCompleted(0, (options.sample ?? 1000) - 1)).filter((j) => j.finishedOn !== undefined && j.processedOn !== undefined);
  const recent = completed.filter((j) => (j.finishedOn as number) >= now - windowMinutes * 60_000);
  const perMinute = recent.length > 0 ? recent.length / windowMinutes : null;
  let overallPerMinute: number | null = null;
  let meanJobSeconds: number | null = null;
  if (completed.length > 0) {
    const first = Math.min(...completed.map((j) => j.processedOn as number));
    const last = Math.max(...completed.map((j) => j.finishedOn as number));
    overallPerMinute = last > first ? (completed.length * 60_000) / (last - first) : null;
    meanJobSeconds = completed.reduce((s, j) => s + ((j.finishedOn as number) - (j.processedOn as number)), 0) / completed.length / 1000;
  }
  const failed = (await queue.getFailed(0, (options.maxFailed ?? 50) - 1)).map((j) => ({
    jobId: j.id ?? '?',
    input: inputOf(j),
    error: oneLine(j.failedReason ?? ''),
    attempts: j.attemptsMade,
  }));
  const workers = await queue.getWorkersCount();
  return { queue: queue.name, counts, perMinute, windowMinutes, overallPerMinute, meanJobSeconds, workers, failed };
}

/** The status as lines for a terminal. */
export function formatStatus(s: QueueStatus): string {
  const c = s.counts;
  const rate = (x: number | null): string => (x === null ? 'n/a' : x.toFixed(2));
  const lines = [
    `queue ${s.queue}: ${c.waiting} waiting, ${c.active} active, ${c.delayed} delayed (retry backoff), ${c.completed} done, ${c.failed} failed; ${s.workers} worker connection(s)`,
    `throughput: ${rate(s.perMinute)} jobs/min over the last ${s.windowMinutes} min, ${rate(s.overallPerMinute)} jobs/min over the done jobs` +
      (s.meanJobSeconds === null ? '' : `, ${s.meanJobSeconds.toFixed(1)} s per job`),
  ];
  if (s.failed.length > 0) {
    lines.push(`failed jobs${c.failed > s.failed.length ? ` (first ${s.failed.length} of ${c.failed})` : ''}:`);
    for (const f of s.failed) lines.push(`  ${f.input}: ${f.error} (job ${f.jobId}, ${f.attempts} attempt${f.attempts === 1 ? '' : 's'})`);
  }
  return lines.join('\n');
}

/** Failed job ids read from Redis at a time by retryFailed. */
const RETRY_PAGE = 500;

/**
 * Moves every failed job back to waiting with its attempts counted afresh (attemptsMade and
 * attemptsStarted 0), so it gets its full tries and backoff again; returns how many. The failed
 * set's ids are read first, a page at a time; a job that left it meanwhile is passed over.
 */
export async function retryFailed(queue: Queue): Promise<number> {
  const ids: string[] = [];
  for (let start = 0; ; start += RETRY_PAGE) {
    const page = await queue.getRanges(['failed'], start, start + RETRY_PAGE - 1, true);
    ids.push(...page);
    if (page.length < RETRY_PAGE) break;
  }
  let retried = 0;
  for (const id of new Set(ids)) {
    const job = await queue.getJob(id);
    if (job === undefined) continue;
    try {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      retried++;
    } catch (err) {
      if ((await queue.getJobState(id)) === 'failed') throw err;
    }
  }
  return retried;
}

/**
 * Removes the waiting and delayed jobs (running ones finish). With `all`, everything the queue
 * holds, done, failed and running jobs included (a running one's worker stops it when it next
 * fails to renew its lock): their inputs may then be added again.
 */
export async function drainQueue(queue: Queue, all = false): Promise<number> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'paused', 'completed', 'failed', ...(all ? (['active'] as const) : []));
  if (all) {
    await queue.obliterate({ force: true });
    return Object.values(counts).reduce((s, n) => s + n, 0);
  }
  await queue.drain(true);
  return (counts.waiting ?? 0) + (counts.prioritized ?? 0) + (counts.delayed ?? 0) + (counts.paused ?? 0);
}

/** A finished job's result, checked loosely (it came from Redis). */
export function jobResult(value: unknown): AnalyzeJobResult | null {
  const r = value as Partial<AnalyzeJobResult> | null;
  return typeof r === 'object' && r !== null && Array.isArray(r.outputs) ? (r as AnalyzeJobResult) : null;
}
