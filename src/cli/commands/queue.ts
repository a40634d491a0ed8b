/**
 * `cer queue add|status|retry-failed|drain` and `cer worker`: `cer analyze` spread over machines
 * through a BullMQ queue on a Redis server (src/queue/, README "Scaling out").
 */
import * as fs from 'node:fs';
import type { Command } from 'commander';
import { InputError, oneLine } from '../../io/errors';
import { printable } from '../../io/safe-files';
import { MediaError } from '../../media/errors';
import { classifyInput, expandFolder } from '../../media/source';
import { outputFile } from '../../output';
import { analyzeJob, parseRedisUrl, redisLabel } from '../../queue/job';
import { drainQueue, enqueue, formatStatus, makeResultsFolder, queueStatus, retryFailed } from '../../queue/producer';
import { analyzeSettings, type AnalyzeCommandOptions } from '../../pipeline/analyze-settings';
import { DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_MS, DEFAULT_QUEUE, DEFAULT_STALL } from '../../defaults';

/**
 * The parts that load BullMQ (and ioredis), loaded when a queue command runs, so that every other
 * `cer` command starts without them.
 */
async function bullmqBacked(): Promise<typeof import('../../queue/connection') & typeof import('../../queue/worker')> {
  const [connection, worker] = await Promise.all([import('../../queue/connection'), import('../../queue/worker')]);
  return { ...connection, ...worker };
}

interface QueueConnectOptions {
  redis: string;
  queue: string;
}

export interface QueueAddOptions extends AnalyzeCommandOptions, QueueConnectOptions {
  attempts?: string;
  backoff?: string;
}

export interface WorkerCommandOptions extends QueueConnectOptions {
  concurrency?: string;
  lockDuration?: string;
  stalledInterval?: string;
  maxStalled?: string;
  grace?: string;
  preload?: boolean;
}

/** A whole number option, checked; `min` the least it may be. */
function wholeNumber(value: string | undefined, option: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new InputError(`${option}: expected a whole number ≥ ${min}, got "${value}"`);
  return n;
}

/** An option's value from the environment when the command line leaves it out (CER_WORKER_STALLED_INTERVAL_MS …). */
function fromEnv(value: string | undefined, env: string): string | undefined {
  return value ?? process.env[env];
}

/** A file input is there and a file (URLs and devices are the workers' to open). */
async function checkQueuedFile(input: string): Promise<void> {
  const source = classifyInput(input);
  if (source.type !== 'file') return;
  const stat = await fs.promises.stat(source.path).catch(() => null);
  if (stat === null) throw new MediaError('NO_SUCH_FILE', input, 'no such file');
  if (!stat.isFile()) throw new MediaError('NOT_A_FILE', input, 'is not a regular file');
}

export async function runQueueAdd(inputs: string[], options: QueueAddOptions): Promise<void> {
  const empty = inputs.findIndex((input) => input.trim() === '');
  if (empty >= 0) throw new InputError(`input ${empty + 1} of ${inputs.length} is an empty name: give a media file, a folder or a URL`);
  parseRedisUrl(options.redis);
  // The options are checked here as a worker will read them: a bad one is refused before anything is queued.
  const { formats } = analyzeSettings(options);
  const attempts = wholeNumber(options.attempts, '--attempts', 1);
  const backoffMs = wholeNumber(options.backoff, '--backoff', 0);
  const outDir = options.out ?? '.';
  makeResultsFolder(outDir);
  // A file that is not there is a typo here (a worker would retry it, thinking its storage away):
  // one line each, nothing queued for it, exit status 1; the other inputs are queued.
  const expanded: string[] = [];
  const missing: string[] = [];
  for (const input of inputs) {
    try {
      for (const file of await expandFolder(input)) {
        await checkQueuedFile(file);
        expanded.push(file);
      }
    } catch (err) {
      missing.push(oneLine(err));
    }
  }
  for (const line of missing) process.stderr.write(`cer: ${line}
`);
  if (missing.length > 0) process.exitCode = 1;
  const jobs = expanded.map((input) => analyzeJob(input, outDir, options));
  const todo = options.skipExisting === true ? jobs.filter((j) => !formats.every((f) => fs.existsSync(outputFile(j.input, j.out, f)))) : jobs;
  if (todo.length === 0 && missing.length > 0) return;
  const queue = await (await bullmqBacked()).openQueue(options.redis, options.queue);
  try {
    const outcomes = await enqueue(queue, todo, { attempts, backoffMs });
    const quiet = options.quiet === true;
    for (const o of outcomes) {
      // stdout: one line per input, its job id first (for scripts).
      process.stdout.write(`${o.jobId} ${o.outcome === 'added' ? 'added' : `already ${o.outcome}`} ${printable(o.input)}\n`);
    }
    if (!quiet) {
      const added = outcomes.filter((o) => o.outcome === 'added').length;
      const skipped = jobs.length - todo.length;
      process.stderr.write(
        `cer: ${added} of ${jobs.length} inputs queued on ${options.queue} at ${redisLabel(options.redis)}` +
          `${outcomes.length - added > 0 ? `, ${outcomes.length - added} there already` : ''}${skipped > 0 ? `, ${skipped} with their results in ${outDir} already` : ''}` +
          `${missing.length > 0 ? `; ${missing.length} not queued (above)` : ''}\n`,
      );
    }
  } finally {
    await queue.close();
  }
}

export async function runQueueStatus(options: QueueConnectOptions & { json?: boolean; window?: string; failed?: string }): Promise<void> {
  const windowMinutes = wholeNumber(options.window, '--window', 1);
  const maxFailed = wholeNumber(options.failed, '--failed', 0);
  const queue = await (await bullmqBacked()).openQueue(options.redis, options.queue);
  try {
    const status = await queueStatus(queue, { windowMinutes, maxFailed: maxFailed === 0 ? 1 : maxFailed });
    const shown = maxFailed === 0 ? { ...status, failed: [] } : status;
    process.stdout.write(options.json === true ? `${JSON.stringify(shown)}\n` : `${formatStatus(shown)}\n`);
  } finally {
    await queue.close();
  }
}

export async function runQueueRetry(options: QueueConnectOptions): Promise<void> {
  const queue = await (await bullmqBacked()).openQueue(options.redis, options.queue);
  try {
    const n = await retryFailed(queue);
    process.stdout.write(`${n} failed job${n === 1 ? '' : 's'} back to waiting on ${options.queue}\n`);
  } finally {
    await queue.close();
  }
}

export async function runQueueDrain(options: QueueConnectOptions & { all?: boolean }): Promise<void> {
  const queue = await (await bullmqBacked()).openQueue(options.redis, options.queue);
  try {
    const n = await drainQueue(queue, options.all === true);
    process.stdout.write(
      options.all === true ? `${n} jobs removed from ${options.queue} (every state; running ones stopped by their workers at the next lock renewal)\n` : `${n} waiting jobs removed from ${options.queue} (running ones finish)\n`,
    );
  } finally {
    await queue.close();
  }
}

export async function runWorker(options: WorkerCommandOptions): Promise<void> {
  const concurrency = wholeNumber(options.concurrency, '--concurrency', 1) ?? 1;
  const lockDuration = wholeNumber(fromEnv(options.lockDuration, 'CER_WORKER_LOCK_DURATION_MS'), '--lock-duration', 1000);
  const stalledInterval = wholeNumber(fromEnv(options.stalledInterval, 'CER_WORKER_STALLED_INTERVAL_MS'), '--stalled-interval', 100);
  const maxStalledCount = wholeNumber(fromEnv(options.maxStalled, 'CER_WORKER_MAX_STALLED'), '--max-stalled', 0);
  const graceSeconds = options.grace === undefined ? 60 : Number(options.grace);
  if (!Number.isFinite(graceSeconds) || graceSeconds < 0) throw new InputError(`--grace: expected seconds ≥ 0, got "${options.grace}"`);
  const handle = await (await bullmqBacked()).startAnalyzeWorker({
    redis: options.redis,
    queue: options.queue,
    concurrency,
    lockDuration,
    stalledInterval,
    maxStalledCount,
    preload: options.preload === false ? null : undefined,
  });
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        // A second signal: hand the running jobs back now.
        process.stderr.write(`cer worker ${handle.name}: ${signal} again: handing the running jobs back\n`);
        handle.worker.cancelAllJobs('shutting down');
        return;
      }
      stopping = true;
      process.stderr.write(`cer worker ${handle.name}: ${signal}: taking no more jobs; running ones finish (or are handed back after ${graceSeconds} s)\n`);
      handle.close(graceSeconds * 1000).then(resolve, (err: unknown) => {
        process.stderr.write(`cer worker ${handle.name}: ${String(err)}\n`);
        process.exitCode = 1;
        resolve();
      });
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
  process.stderr.write(`cer worker ${handle.name}: stopped\n`);
  // Everything is closed by now; a handle a library left open must not keep a stopped worker alive.
  setTimeout(() => process.exit(), 2000).unref();
}

/** Adds `cer queue …` and `cer worker` to the program (after `cer analyze`, whose options `queue add` takes). */
export function registerQueueCommands(program: Command): void {
  const analyze = program.commands.find((c) => c.name() === 'analyze');
  const redisOption = ['--redis <url>', 'the Redis (or Valkey) server: redis://HOST:PORT[/DB], rediss:// for TLS'] as const;
  const queueOption = ['--queue <name>', 'the queue name', DEFAULT_QUEUE] as const;

  const queue = program.command('queue').description('distributed cer analyze: put inputs on a Redis queue that cer worker processes on any machine take');

  const add = queue
    .command('add')
    .description('one job per input (folders: their media files); an input queued or done already (same results folder and options) is not added again')
    .argument('<input...>', 'files or folders (by absolute path: every worker must see them there), or URLs the workers can read')
    .requiredOption(...redisOption)
    .option(...queueOption)
    .option('--out <dir>', 'folder for the results (absolute path on shared storage: every worker writes there; made here if missing)', '.')
    .option('--attempts <n>', `tries per job before it is failed (bad media fails at once)`, String(DEFAULT_ATTEMPTS))
    .option('--backoff <ms>', 'wait before the first retry, doubled for each further one', String(DEFAULT_BACKOFF_MS))
    .option('--skip-existing', 'leave out inputs whose results (every --format) are in --out already')
    .option('--quiet', 'no summary on stderr');
  // The analysis options are cer analyze's own, so a job runs exactly as cer analyze would.
  const own = new Set(['--out', '--skip-existing', '--quiet']);
  for (const option of analyze?.options ?? []) if (!own.has(option.long ?? '')) add.addOption(option);
  add.addHelpText('after', '\nExample:\n  cer queue add /data/corpus/ --redis redis://queue.lab:6379 --out /data/results --format json,csv').action(runQueueAdd);

  queue
    .command('status')
    .description('counts (waiting, active, done, failed), throughput, and the failed jobs with their errors')
    .requiredOption(...redisOption)
    .option(...queueOption)
    .option('--window <minutes>', 'throughput over the last this many minutes', '10')
    .option('--failed <n>', 'failed jobs to list (0: none)', '50')
    .option('--json', 'one JSON object instead of text')
    .action(runQueueStatus);

  queue.command('retry-failed').description('move every failed job back to waiting, its attempts counted afresh').requiredOption(...redisOption).option(...queueOption).action(runQueueRetry);

  queue
    .command('drain')
    .description('remove the waiting jobs (running ones finish)')
    .requiredOption(...redisOption)
    .option(...queueOption)
    .option('--all', 'remove every job, done and failed ones included (their inputs may then be added again)')
    .action(runQueueDrain);

  program
    .command('worker')
    .description('take jobs from the queue and analyse them as cer analyze does (models loaded once, kept warm); SIGTERM: finish or hand back, then exit')
    .requiredOption(...redisOption)
    .option(...queueOption)
    .option('--concurrency <n>', 'jobs at once in this process (they share the models)', '1')
    .option('--no-preload', "load the models with the first job, not at start (they are cer analyze's defaults; jobs with other options load theirs)")
    .option('--grace <seconds>', 'on SIGTERM, how long running jobs may go on before they are handed back to the queue', '60')
    .option('--lock-duration <ms>', `a job's lock; a dead worker's job is free again after it (default ${DEFAULT_STALL.lockDuration}; env CER_WORKER_LOCK_DURATION_MS)`)
    .option('--stalled-interval <ms>', `how often to look for dead workers' jobs (default ${DEFAULT_STALL.stalledInterval}; env CER_WORKER_STALLED_INTERVAL_MS)`)
    .option('--max-stalled <n>', `times a job may lose its worker before it is failed (default ${DEFAULT_STALL.maxStalledCount}; env CER_WORKER_MAX_STALLED)`)
    .addHelpText('after', '\nExample:\n  cer worker --redis redis://queue.lab:6379 --concurrency 1')
    .action(runWorker);
}
