/**
 * The worker side of the queue (`cer worker`): takes analysis jobs from a BullMQ queue and runs
 * each through the same step as `cer analyze` (analyzeOne: a warm Pipeline, result files written
 * all or none). Models are loaded once per worker process and kept across jobs (one Pipeline per
 * set of options). A job whose input is bad media (an InputError, or a MediaError about the
 * file's contents) fails at once with its one-line error; other failures are retried with backoff
 * (the job's attempts), among them an input or results folder this worker does not see (the
 * shared storage not mounted here: another worker may see it). A worker that dies mid-job leaves
 * its job locked until the lock expires; BullMQ's stalled-job check then gives it to another
 * worker. A job whose lock this worker could not renew (removed from the queue, or taken by
 * another worker after a stall) is stopped.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { InputError, oneLine } from '../io/errors';
import { MediaError, type MediaErrorCode } from '../media/errors';
import { Pipeline } from '../pipeline/analyze';
import { errorLine } from '../pipeline/analyze-one';
import { analyzeSettings, type AnalyzeSettings } from '../pipeline/analyze-settings';
import { analyzeOne } from '../pipeline/analyze-one';
import { checkRedis, lastingConnection } from './connection';
import { parseAnalyzeJob, queuedOptions, type AnalyzeJobData, type AnalyzeJobProgress, type AnalyzeJobResult } from './job';
import { DEFAULT_STALL } from '../defaults';

/**
 * Media errors about the input's contents: another try (or another worker) would fail the same way.
 * A file missing on this worker (NO_SUCH_FILE, NOT_A_FILE) is not among them: `cer queue add`
 * checked that it exists, so here it is most likely storage this machine does not see.
 */
const BAD_INPUT_CODES: ReadonlySet<MediaErrorCode> = new Set<MediaErrorCode>([
  'EMPTY_FILE',
  'NOT_MEDIA',
  'NO_VIDEO',
  'NO_AUDIO',
  'LIVE_NOT_ALLOWED',
  'UNSUPPORTED_INPUT',
  'DECODE_FAILED',
]);

/** Whether an analysis error is about the input (fails the job at once) rather than the worker or its machine (retried). */
export function isBadInput(err: unknown): boolean {
  return err instanceof InputError || (err instanceof MediaError && BAD_INPUT_CODES.has(err.code));
}

/** BullMQ's defaults are 30 s, 30 s and 1; a test or a small fleet may want a dead worker's job back sooner. */
export interface StallOptions {
  /** How long a job's lock lasts without renewal (ms); a worker renews it every half of this. */
  readonly lockDuration?: number;
  /** How often a worker looks for jobs whose lock expired (ms). */
  readonly stalledInterval?: number;
  /** How many times a job may stall (its worker died) before it is failed. */
  readonly maxStalledCount?: number;
}

export interface AnalyzeWorkerOptions extends StallOptions {
  readonly redis: string;
  readonly queue: string;
  /** Jobs at once in this process (default 1; they share the warm models). */
  readonly concurrency?: number;
  /** Where the worker's lines go (default stderr). */
  readonly log?: (line: string) => void;
  /** This worker's name in the jobs it takes (default host/pid). */
  readonly name?: string;
  /**
   * Load the models for these analyze options before taking jobs (default: cer analyze's defaults),
   * so that the first job does not wait for them; null: load them with the first job.
   */
  readonly preload?: Record<string, unknown> | null;
}

/** Error codes of a connection to Redis that is down or dropped (the worker reconnects). */
const CONNECTION_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/** Whether a worker error is about the connection to Redis (said once until it is back) rather than something else (logged). */
export function isConnectionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  const message = err instanceof Error ? err.message : String(err);
  return /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT/.test(message);
}

/** How long the same non-connection error line is kept from the log after it was written (ms). */
const ERROR_REPEAT_MS = 60_000;

/**
 * The results folder of a job, checked on this worker: it must be there (`cer queue add` made it).
 * Missing, it is most likely the shared storage not mounted here: an Error (retried, perhaps by
 * another worker), never a folder made on this machine's own disk.
 */
export function checkOutFolder(out: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(out);
  } catch {
    throw new Error(`results folder ${out} does not exist on this worker (is the shared storage mounted here?)`);
  }
  if (!stat.isDirectory()) throw new Error(`results folder ${out} is not a folder on this worker`);
}

/** Pipelines kept warm beside the one in use, for jobs with other options. */
const MAX_IDLE_PIPELINES = 1;

/** Warm Pipelines by their settings: loaded once, shared by the jobs that use the same ones. */
class PipelinePool {
  private readonly entries = new Map<string, { pipeline: Promise<Pipeline>; users: number; lastUsed: number }>();

  async acquire(settings: AnalyzeSettings): Promise<{ pipeline: Pipeline; release: () => Promise<void> }> {
    const key = JSON.stringify(settings.pipeline);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      const pipeline = Pipeline.load(settings.pipeline);
      entry = { pipeline, users: 0, lastUsed: Date.now() };
      this.entries.set(key, entry);
      // A load that failed is not kept: the next job tries again.
      pipeline.catch(() => this.entries.delete(key));
    }
    entry.users++;
    const held = entry;
    let pipeline: Pipeline;
    try {
      pipeline = await held.pipeline;
    } catch (err) {
      held.users--;
      throw err;
    }
    return {
      pipeline,
      release: async () => {
        held.users--;
        held.lastUsed = Date.now();
        await this.trim();
      },
    };
  }

  private async trim(): Promise<void> {
    const idle = [...this.entries.entries()].filter(([, e]) => e.users === 0).sort(([, a], [, b]) => b.lastUsed - a.lastUsed);
    for (const [key, e] of idle.slice(MAX_IDLE_PIPELINES)) {
      this.entries.delete(key);
      await (await e.pipeline).release();
    }
  }

  async releaseAll(): Promise<void> {
    const all = [...this.entries.values()];
    this.entries.clear();
    await Promise.all(all.map((e) => e.pipeline.then((p) => p.release(), () => undefined)));
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface AnalyzeWorker {
  readonly worker: Worker<AnalyzeJobData, AnalyzeJobResult>;
  readonly name: string;
  /**
   * Stops taking jobs; running ones finish, or after `graceMs` are stopped (their ffmpeg killed)
   * and handed back to the queue (waiting, for another worker). Then releases the models.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Starts a worker on the queue. Rejects (an InputError naming the server) when Redis cannot be
 * reached within a few seconds; once started it reconnects by itself for as long as it runs.
 */
export async function startAnalyzeWorker(options: AnalyzeWorkerOptions): Promise<AnalyzeWorker> {
  await checkRedis(options.redis);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const name = options.name ?? `${os.hostname()}/${process.pid}`;
  const pool = new PipelinePool();
  let closing = false;
  /** Jobs whose lock this worker could not renew: stopped, and not failed or completed by it. */
  const lost = new Set<string>();

  const analyseJob = async (job: Job<AnalyzeJobData, AnalyzeJobResult>, token?: string, signal?: AbortSignal): Promise<AnalyzeJobResult> => {
    const id = job.id ?? '?';
    let data: AnalyzeJobData;
    let settings: AnalyzeSettings;
    try {
      data = parseAnalyzeJob(job.data, id);
      settings = analyzeSettings(data.options, (line) => log(`cer worker ${name}: job ${id}: ${line}`));
    } catch (err) {
      throw new UnrecoverableError(`job ${id}: ${oneLine(err)}`);
    }
    try {
      checkOutFolder(data.out);
    } catch (err) {
      log(`cer worker ${name}: job ${id} (attempt ${job.attemptsMade + 1}): ${oneLine(err)}`);
      throw err;
    }
    const input = data.input;
    log(`cer worker ${name}: job ${id} (attempt ${job.attemptsMade + 1}): ${input}`);
    let held: { pipeline: Pipeline; release: () => Promise<void> } | null = null;
    try {
      held = await pool.acquire(settings);
      let last = 0;
      const { result, written } = await analyzeOne(held.pipeline, input, {
        outDir: data.out,
        formats: settings.formats,
        write: settings.timelineWeighted ? { timeline: { weighted: true } } : {},
        allowLive: settings.allowLive,
        signal,
        onProgress: (p) => {
          const now = Date.now();
          if (now - last < 1000 && p.frame !== p.frames) return;
          last = now;
          const progress: AnalyzeJobProgress = { frame: p.frame, frames: p.frames, percent: p.frames ? Math.round((100 * p.frame) / p.frames) : null };
          // Progress is a report: Redis being away for a moment does not stop the analysis.
          job.updateProgress({ ...progress }).catch(() => undefined);
        },
      });
      for (const note of result.notes) log(`cer worker ${name}: ${input}: ${note}`);
      log(`cer worker ${name}: job ${id} done → ${written.join(', ')}: ${result.frames} frames in ${result.seconds.toFixed(2)} s`);
      return {
        outputs: written,
        frames: result.frames,
        seconds: result.seconds,
        rtf: result.rtf,
        emotion: result.summary.emotion,
        label: result.summary.label,
        worker: name,
      };
    } catch (err) {
      if (lost.has(id) && signal?.aborted === true) {
        // Its lock is gone: the job was removed, or another worker has it. Nothing is recorded for it here.
        log(`cer worker ${name}: job ${id} stopped: its lock could not be renewed (removed from the queue, or another worker has it)`);
        throw new WaitingError();
      }
      if (closing && signal?.aborted === true && token !== undefined) {
        // Stopped by a shutdown: the job goes back to waiting, attempts untouched, for another worker.
        await job.moveToWait(token);
        log(`cer worker ${name}: job ${id} handed back (shutting down)`);
        throw new WaitingError();
      }
      const line = errorLine(input, err);
      log(`cer worker ${name}: job ${id} failed: ${line}`);
      if (isBadInput(err)) throw new UnrecoverableError(line);
      throw new Error(line);
    } finally {
      lost.delete(id);
      await held?.release();
    }
  };

  let worker: Worker<AnalyzeJobData, AnalyzeJobResult> | null = null;
  try {
    if (options.preload !== null) {
      const warm = await pool.acquire(analyzeSettings(queuedOptions(options.preload ?? {}), (line) => log(`cer worker ${name}: ${line}`)));
      log(`cer worker ${name}: models: ${warm.pipeline.describe()}`);
      await warm.release();
    }
    worker = new Worker<AnalyzeJobData, AnalyzeJobResult>(options.queue, analyseJob, {
      connection: lastingConnection(options.redis),
      name,
      concurrency: options.concurrency ?? 1,
      lockDuration: options.lockDuration ?? DEFAULT_STALL.lockDuration,
      stalledInterval: options.stalledInterval ?? DEFAULT_STALL.stalledInterval,
      maxStalledCount: options.maxStalledCount ?? DEFAULT_STALL.maxStalledCount,
      autorun: false,
    });
    const started = worker;
    // Connection errors repeat while Redis is away (the worker reconnects): said once until it is back.
    // Other errors are each logged, the same line at most once a minute.
    let down = false;
    const lastSaid = new Map<string, number>();
    started.on('error', (err) => {
      if (isConnectionError(err)) {
        if (down) return;
        down = true;
        log(`cer worker ${name}: Redis: ${oneLine(err)} (reconnecting)`);
        return;
      }
      const line = oneLine(err);
      const now = Date.now();
      if (now - (lastSaid.get(line) ?? -Infinity) < ERROR_REPEAT_MS) return;
      if (lastSaid.size > 100) lastSaid.clear();
      lastSaid.set(line, now);
      log(`cer worker ${name}: ${line}`);
    });
    started.on('ready', () => {
      if (down) log(`cer worker ${name}: Redis: connected again`);
      down = false;
    });
    // A lock not renewed means the job is no longer this worker's (removed, or given to another
    // after a stall): BullMQ would let it run on and then fail to record it, so it is stopped.
    started.on('lockRenewalFailed', (ids) => {
      for (const jobId of ids) {
        lost.add(jobId);
        // Not running here any more (finished meanwhile): nothing to stop.
        if (!started.cancelJob(jobId, 'lock lost')) lost.delete(jobId);
      }
    });
    void started.run().catch((err: unknown) => log(`cer worker ${name}: ${oneLine(err)}`));
    await started.waitUntilReady();
  } catch (err) {
    // A worker that could not start leaves nothing open: its connections closed, its models released.
    await worker?.close(true).catch(() => undefined);
    await pool.releaseAll();
    throw err;
  }
  log(`cer worker ${name}: waiting for jobs on ${options.queue} (concurrency ${options.concurrency ?? 1})`);

  return {
    worker,
    name,
    async close(graceMs = Infinity): Promise<void> {
      if (closing) return;
      closing = true;
      const closed = worker.close();
      let timer: NodeJS.Timeout | undefined;
      if (Number.isFinite(graceMs)) timer = setTimeout(() => worker.cancelAllJobs('shutting down'), Math.max(0, graceMs));
      try {
        await closed;
      } finally {
        clearTimeout(timer);
        await pool.releaseAll();
      }
    },
  };
}
