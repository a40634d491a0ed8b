/**
 * Distributed analysis on a real Redis server with real `cer worker` processes: two workers share
 * eight inputs, one is killed (SIGKILL) in the middle of a job, and every result still appears
 * once, whole, and as `cer analyze` on one machine writes it; the bad file is failed with its
 * error; nothing is left running. And a Redis restart in the middle of a run loses nothing.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { type AnalyzeJobData, type AnalyzeJobProgress, type AnalyzeJobResult } from '../../src/queue/job';
import { cerAsync } from '../helpers/cli';
import { RedisServer, redisServerBinary } from '../helpers/redis';
import { makeQueueInputs, processesNaming, resultWithoutTiming, spawnWorker, until, type SpawnedWorker } from './helpers';
import { DEFAULT_QUEUE } from '../../src/defaults';

/** Short lock and stall check, so that a killed worker's job is free again in seconds, not 30 s. */
const STALL_ENV = { CER_WORKER_LOCK_DURATION_MS: '5000', CER_WORKER_STALLED_INTERVAL_MS: '1000' };

const jsonOf = (input: string, dir: string): string => path.join(dir, `${path.basename(input, path.extname(input))}.json`);

describe('distributed analysis: cer queue and cer worker on a real Redis server', function () {
  this.timeout(600_000);
  let redis: RedisServer | null = null;
  let tmp = '';
  const workers: SpawnedWorker[] = [];

  before(async function () {
    if (redisServerBinary() === null) this.skip(); // redis-server not installed: bash tools/setup.sh installs it
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-queue-'));
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  });

  after(async () => {
    await redis?.destroy();
    if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('two workers, one killed mid-job: each good input\'s JSON once, as cer analyze writes it; the bad file failed with its error; nothing left running', async function () {
    const server = redis as RedisServer;
    const inputsDir = path.join(tmp, 'inputs');
    const { good, bad } = makeQueueInputs(inputsDir);
    const all = [...good, bad];
    assert.equal(all.length, 8);

    // One machine: cer analyze on the same inputs (by the same absolute paths).
    const reference = path.join(tmp, 'reference');
    const one = await cerAsync(['analyze', ...all, '--out', reference, '--quiet'], { timeoutMs: 400_000 });
    assert.equal(one.status, 1, `cer analyze fails the bad file only: ${one.stderr}`);
    assert.match(one.stderr, /bad\.mp4: not a media file/);

    const out = path.join(tmp, 'results');
    workers.push(await spawnWorker(['--redis', server.url], STALL_ENV));
    workers.push(await spawnWorker(['--redis', server.url], STALL_ENV));
    const add = await cerAsync(['queue', 'add', inputsDir, '--redis', server.url, '--out', out, '--backoff', '1000']);
    assert.equal(add.status, 0, add.stderr);
    assert.equal(add.stdout.trim().split('\n').filter((l) => / added /.test(l)).length, 8, add.stdout);
    // The same inputs again: queued already, not added twice.
    const again = await cerAsync(['queue', 'add', ...all, '--redis', server.url, '--out', out]);
    assert.equal(again.status, 0, again.stderr);
    assert.equal(again.stdout.trim().split('\n').filter((l) => / already /.test(l)).length, 8, again.stdout);

    const queue = new Queue<AnalyzeJobData, AnalyzeJobResult>(DEFAULT_QUEUE, { connection: { url: server.url } });
    try {
      // Kill the worker that has a video job under way (a frame analysed, not yet done).
      let killed: { worker: SpawnedWorker; jobId: string } | null = null;
      await until(
        async () => {
          for (const job of await queue.getActive()) {
            const progress = job.progress as Partial<AnalyzeJobProgress> | number;
            const w = workers.find((x) => x.name === job.processedBy);
            if (w !== undefined && typeof progress === 'object' && (progress.frame ?? 0) > 0 && progress.frames !== null && (progress.percent ?? 100) < 60) {
              killed = { worker: w, jobId: job.id as string };
              w.child.kill('SIGKILL');
              return true;
            }
          }
          return false;
        },
        'a worker with a video job under way',
        300_000,
        100,
      );
      const victim = killed as unknown as { worker: SpawnedWorker; jobId: string };
      assert.equal(await victim.worker.exited, 'SIGKILL');
      const survivor = workers.find((w) => w !== victim.worker) as SpawnedWorker;

      await until(async () => {
        const c = await queue.getJobCounts('completed', 'failed');
        return c.completed + c.failed === 8;
      }, 'every job done or failed', 400_000, 500);

      // The bad file: failed at once (no retries) with its one-line error.
      const failed = await queue.getFailed();
      assert.deepEqual(failed.map((j) => j.data.input), [bad]);
      assert.match(failed[0].failedReason, /bad\.mp4: not a media file/);
      assert.equal(failed[0].attemptsMade, 1, 'bad media is not retried');
      assert.ok(!failed[0].failedReason.includes('\n'), 'one line');

      // The killed worker's job went to the other worker (BullMQ's stalled-job check) and was done there.
      const moved = await queue.getJob(victim.jobId);
      assert.equal(await moved?.getState(), 'completed');
      assert.equal(moved?.returnvalue.worker, survivor.name);

      // Each good input's JSON once, whole, equal to cer analyze's apart from its timing; nothing else in the folder.
      const completed = await queue.getCompleted();
      assert.deepEqual(completed.map((j) => j.data.input).sort(), [...good].sort());
      assert.deepEqual(fs.readdirSync(out).sort(), good.map((g) => path.basename(jsonOf(g, out))).sort(), 'one JSON per good input, no temporary files');
      for (const input of good) {
        assert.deepEqual(resultWithoutTiming(jsonOf(input, out)), resultWithoutTiming(jsonOf(input, reference)), `${path.basename(input)}: as cer analyze wrote it`);
      }

      // cer queue status: the counts and the failed job with its error.
      const status = await cerAsync(['queue', 'status', '--redis', server.url]);
      assert.equal(status.status, 0, status.stderr);
      assert.match(status.stdout, /0 waiting, 0 active, 0 delayed \(retry backoff\), 7 done, 1 failed/);
      assert.match(status.stdout, /throughput: \d+\.\d\d jobs\/min/);
      assert.ok(status.stdout.includes(`${bad}: ${failed[0].failedReason}`), status.stdout);

      // SIGTERM: the idle survivor stops cleanly; then no worker, ffmpeg or ffprobe is left on these inputs.
      survivor.child.kill('SIGTERM');
      assert.equal(await survivor.exited, 0, survivor.log());
      await until(() => processesNaming(inputsDir).length === 0, `processes left on ${inputsDir}: ${JSON.stringify(processesNaming(inputsDir))}`, 15_000);
      assert.deepEqual(processesNaming(server.url), [], 'no worker left');
    } finally {
      await queue.close();
    }
  });

  it('a Redis restart in the middle of a run loses no job: the worker reconnects and the run completes', async function () {
    const server = redis as RedisServer;
    const inputsDir = path.join(tmp, 'restart-inputs');
    fs.mkdirSync(inputsDir);
    const { good } = makeQueueInputs(path.join(inputsDir));
    // Every input but the audio-only one: images, short and longer clips.
    const inputs = good.filter((g) => !g.endsWith('.wav'));
    const out = path.join(tmp, 'restart-results');
    const queueName = 'restart-test';
    const add = await cerAsync(['queue', 'add', ...inputs, '--redis', server.url, '--queue', queueName, '--out', out]);
    assert.equal(add.status, 0, add.stderr);

    const worker = await spawnWorker(['--redis', server.url, '--queue', queueName], STALL_ENV);
    workers.push(worker);
    const queue = new Queue<AnalyzeJobData, AnalyzeJobResult>(queueName, { connection: { url: server.url } });
    queue.on('error', () => undefined); // while the server is away
    try {
      await until(async () => (await queue.getActiveCount()) > 0, 'a job under way', 120_000, 50);
      const doneBefore = await queue.getCompletedCount();
      assert.ok(doneBefore < inputs.length - 1, `jobs still to do when Redis goes: ${doneBefore} of ${inputs.length} done`);
      await queue.disconnect();
      // The server stops (writing its append-only file) and comes back on the same port and folder.
      await server.restart(1000);
      const back = new Queue<AnalyzeJobData, AnalyzeJobResult>(queueName, { connection: { url: server.url } });
      try {
        const counts = await back.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed');
        assert.equal(Object.values(counts).reduce((s, n) => s + n, 0), inputs.length, `every job is still there after the restart: ${JSON.stringify(counts)}`);
        await until(async () => (await back.getCompletedCount()) === inputs.length, `every job done (worker log: ${worker.log()})`, 240_000, 500);
        assert.equal(await back.getFailedCount(), 0);
        assert.match(worker.log(), /Redis: .*reconnecting/);
        for (const input of inputs) {
          const file = jsonOf(input, out);
          const json = resultWithoutTiming(file);
          assert.equal(json.input, input);
        }
        assert.equal(fs.readdirSync(out).length, inputs.length, 'one result per input, no temporary files');
      } finally {
        await back.close();
      }
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.log());
    } finally {
      await queue.close().catch(() => undefined);
    }
  });
});
