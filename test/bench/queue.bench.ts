/**
 * npm run bench:queue — distributed analysis on this machine (a Redis server of its own on a free
 * loopback port, `cer worker` processes as a user runs them):
 *  - jobs per minute with 1 and with 2 workers, on N copies of the RAVDESS clip (98 frames each;
 *    `-- --jobs N`, default 8), from the add to the last job's end, the workers' models loaded first;
 *  - the queue's overhead per job: enqueue → start (the job's processedOn − its timestamp) with an
 *    idle, warm worker waiting, over 10 jobs added one at a time;
 *  - what a job costs the Redis server (commands; the memory its finished job's hash keeps) and
 *    the output folder (bytes of results).
 * The machine's other load shows in the numbers: run it on an idle machine to compare.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import type { AnalyzeJobData, AnalyzeJobResult } from '../../src/queue/job';
import { cerAsync } from '../helpers/cli';
import { RedisServer, redisServerBinary } from '../helpers/redis';
import { RAVDESS_CLIP, SAMPLES_DIR } from '../helpers/testdata';
import { spawnWorker, until, type SpawnedWorker } from '../queue/helpers';

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name}: expected a whole number ≥ 1`);
  return v;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function redisCommands(queue: Queue): Promise<number> {
  const info = await (await queue.client).info();
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Bytes of Redis memory a finished job's hash takes (MEMORY USAGE), on average. */
async function jobMemory(queue: Queue, ids: readonly string[]): Promise<number> {
  const client = await queue.client;
  let total = 0;
  for (const id of ids) total += Number(await client.runCommand('memory', ['USAGE', `bull:${queue.name}:${id}`]));
  return total / ids.length;
}

function folderBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((s, n) => s + fs.statSync(path.join(dir, n)).size, 0);
}

async function stopAll(workers: SpawnedWorker[]): Promise<void> {
  for (const w of workers) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

async function main(): Promise<void> {
  if (redisServerBinary() === null) throw new Error('redis-server is not installed (bash tools/setup.sh installs it)');
  const jobs = argValue('--jobs', 8);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-bench-queue-'));
  const redis = await RedisServer.start();
  try {
    const inputs = path.join(tmp, 'inputs');
    fs.mkdirSync(inputs);
    for (let i = 0; i < jobs; i++) fs.copyFileSync(RAVDESS_CLIP, path.join(inputs, `clip-${String(i).padStart(3, '0')}.mp4`));
    console.log(`queue bench: ${jobs} jobs (copies of the RAVDESS clip, 98 frames, 3.3 s each), ${os.cpus().length} cores, Redis on 127.0.0.1:${redis.port}`);

    const perMinute: number[] = [];
    let perJob = { commands: 0, memory: 0, bytes: 0 };
    for (const n of [1, 2]) {
      const name = `bench-${n}`;
      const workers: SpawnedWorker[] = [];
      for (let i = 0; i < n; i++) workers.push(await spawnWorker(['--redis', redis.url, '--queue', name], {}, 180_000));
      const queue = new Queue<AnalyzeJobData, AnalyzeJobResult>(name, { connection: { url: redis.url } });
      const out = path.join(tmp, `results-${n}`);
      const before = await redisCommands(queue);
      const started = Date.now();
      const add = await cerAsync(['queue', 'add', inputs, '--redis', redis.url, '--queue', name, '--out', out, '--quiet']);
      if (add.status !== 0) throw new Error(add.stderr);
      await until(async () => (await queue.getCompletedCount()) + (await queue.getFailedCount()) === jobs, `${jobs} jobs`, 3_600_000, 250);
      const completed = await queue.getCompleted();
      const last = Math.max(...completed.map((j) => j.finishedOn as number));
      const seconds = (last - started) / 1000;
      const rate = (jobs * 60) / seconds;
      perMinute.push(rate);
      const after = await redisCommands(queue);
      const failed = await queue.getFailedCount();
      const byWorker = new Map<string, number>();
      for (const j of completed) byWorker.set(j.returnvalue.worker, (byWorker.get(j.returnvalue.worker) ?? 0) + 1);
      const meanJob = completed.reduce((s, j) => s + (j.returnvalue.seconds ?? 0), 0) / completed.length;
      console.log(
        `${n} worker${n === 1 ? ' ' : 's'}: ${rate.toFixed(1)} jobs/min (${jobs} jobs in ${seconds.toFixed(1)} s, ${meanJob.toFixed(2)} s of analysis per job; ` +
          `per worker ${[...byWorker.values()].join(' + ')} jobs${failed > 0 ? `; ${failed} FAILED` : ''})`,
      );
      if (n === 1) perJob = { commands: (after - before) / jobs, memory: await jobMemory(queue, completed.map((j) => j.id as string)), bytes: folderBytes(out) / jobs };
      await stopAll(workers);
      await queue.obliterate({ force: true });
      await queue.close();
    }
    console.log(`speed-up with 2 workers: ${(perMinute[1] / perMinute[0]).toFixed(2)}× on this machine`);

    // Enqueue → start with an idle, warm worker: one small job at a time (an image, each to its own folder).
    const name = 'bench-overhead';
    const worker = await spawnWorker(['--redis', redis.url, '--queue', name], {}, 180_000);
    const queue = new Queue<AnalyzeJobData, AnalyzeJobResult>(name, { connection: { url: redis.url } });
    const waits: number[] = [];
    const image = path.join(SAMPLES_DIR, 'grace_hopper.jpg');
    for (let i = 0; i < 10; i++) {
      const add = await cerAsync(['queue', 'add', image, '--redis', redis.url, '--queue', name, '--out', path.join(tmp, `overhead-${i}`), '--quiet']);
      if (add.status !== 0) throw new Error(add.stderr);
      const id = add.stdout.split(' ')[0];
      await until(async () => (await queue.getJobState(id)) === 'completed', `job ${id}`, 120_000, 20);
      const job = await queue.getJob(id);
      if (job?.processedOn !== undefined) waits.push(job.processedOn - job.timestamp);
    }
    await stopAll([worker]);
    await queue.obliterate({ force: true });
    await queue.close();
    console.log(`enqueue → start (idle warm worker): median ${median(waits)} ms, min ${Math.min(...waits)} ms, max ${Math.max(...waits)} ms over ${waits.length} jobs`);
    console.log(
      `per job: ${perJob.commands.toFixed(0)} Redis commands (with 1 worker's polling, lock renewals and progress), ${(perJob.memory / 1024).toFixed(1)} KB of Redis memory kept for the finished job (its hash), ` +
        `${(perJob.bytes / 1024).toFixed(0)} KB of results (JSON) written to the output folder`,
    );
  } finally {
    await redis.destroy();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
