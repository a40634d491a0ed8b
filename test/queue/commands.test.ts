/**
 * `cer queue add|status|retry-failed|drain` and `cer worker` as a user runs them, on a real Redis
 * server: one job per input and options, bad URLs and absent servers refused in seconds, retries
 * with backoff up to the attempts, failed jobs retried and queues drained, and SIGTERM handing a
 * running job back.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { analyzeJob, analyzeJobId, type AnalyzeJobData, type AnalyzeJobProgress, type AnalyzeJobResult } from '../../src/queue/job';
import { cerAsync } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { RedisServer, redisServerBinary } from '../helpers/redis';
import { REPO_ROOT, SAMPLE_MP4, SAMPLES_DIR } from '../helpers/testdata';
import { processesNaming, type SpawnedWorker, spawnWorker, stopWorkers, until } from './helpers';

const jobIdOf = (stdout: string, n = 0): string => stdout.trim().split('\n')[n].split(' ')[0];

describe('cer queue and cer worker: the commands on a real Redis server', function () {
  this.timeout(300_000);
  let redis: RedisServer | null = null;
  let tmp = '';
  const workers: SpawnedWorker[] = [];

  before(async function () {
    if (redisServerBinary() === null) this.skip(); // redis-server not installed: bash tools/setup.sh installs it
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-queue-cmd-'));
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    await stopWorkers(workers.splice(0));
  });

  after(async () => {
    await redis?.destroy();
    if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('a URL that is not Redis\'s, or no server there: one line and a non-zero exit within seconds', async () => {
    const nobody = `redis://127.0.0.1:${await freePort()}`;
    for (const args of [
      ['queue', 'status', '--redis', 'localhost:6379'],
      ['queue', 'status', '--redis', 'http://127.0.0.1:6379'],
      ['queue', 'add', SAMPLE_MP4, '--redis', nobody],
      ['queue', 'status', '--redis', nobody],
      ['queue', 'retry-failed', '--redis', nobody],
      ['queue', 'drain', '--redis', nobody],
      ['worker', '--redis', nobody],
    ]) {
      const started = Date.now();
      const r = await cerAsync(args, { timeoutMs: 30_000 });
      const seconds = (Date.now() - started) / 1000;
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.ok(seconds < 12, `${args.join(' ')}: ${seconds} s`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      if (args.includes(nobody)) assert.equal(lines[0], `cer: --redis ${nobody}: cannot reach the Redis server (ECONNREFUSED)`);
      else assert.match(lines[0], /^cer: --redis: ".*" is not a (Redis )?URL/);
    }
  });

  it('one job per input, results folder and options: the same file named another way is not added twice; other options are another job', async () => {
    const server = redis as RedisServer;
    const out = path.join(tmp, 'dedup');
    const q = ['--redis', server.url, '--queue', 'dedup', '--out', out];
    const first = await cerAsync(['queue', 'add', SAMPLE_MP4, ...q]);
    assert.equal(first.status, 0, first.stderr);
    assert.match(first.stdout, /^cer-[0-9a-f]{40} added .*sample\.mp4\n$/);
    // Relative, through a folder, with the default options spelled out: the same job.
    const relative = path.relative(REPO_ROOT, SAMPLE_MP4);
    for (const again of [
      ['queue', 'add', relative, ...q],
      ['queue', 'add', relative, ...q, '--format', 'json', '--target', 'largest', '--detector', 'auto'],
    ]) {
      const r = await cerAsync(again);
      assert.equal(r.stdout, `${jobIdOf(first.stdout)} already waiting ${SAMPLE_MP4}\n`, r.stderr);
    }
    const folder = await cerAsync(['queue', 'add', SAMPLES_DIR, ...q]);
    assert.match(folder.stdout, new RegExp(`${jobIdOf(first.stdout)} already waiting .*sample\\.mp4`));
    assert.match(folder.stdout, / added .*grace_hopper\.jpg/);
    // Another rule or another results folder: another job.
    const rule = await cerAsync(['queue', 'add', SAMPLE_MP4, ...q, '--rule', 'rule1']);
    assert.match(rule.stdout, / added /);
    assert.notEqual(jobIdOf(rule.stdout), jobIdOf(first.stdout));
    const other = await cerAsync(['queue', 'add', SAMPLE_MP4, '--redis', server.url, '--queue', 'dedup', '--out', path.join(tmp, 'elsewhere')]);
    assert.notEqual(jobIdOf(other.stdout), jobIdOf(first.stdout));
    // The id is what the library computes for the job's data.
    assert.equal(jobIdOf(first.stdout), analyzeJobId(analyzeJob(SAMPLE_MP4, out, {})));
    // A bad option is refused before anything is queued.
    const bad = await cerAsync(['queue', 'add', SAMPLE_MP4, ...q, '--vs-margin', '0.9']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^cer: --vs-margin: expected a fraction from 0 to 0\.25/);
    const drain = await cerAsync(['queue', 'drain', '--redis', server.url, '--queue', 'dedup', '--all']);
    assert.equal(drain.status, 0, drain.stderr);
    const status = await cerAsync(['queue', 'status', '--redis', server.url, '--queue', 'dedup', '--json']);
    const s = JSON.parse(status.stdout) as { counts: Record<string, number> };
    assert.deepEqual(s.counts, { waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0 });
    // Drained of everything: the input may be added again.
    const readded = await cerAsync(['queue', 'add', SAMPLE_MP4, ...q]);
    assert.match(readded.stdout, / added /);
    await cerAsync(['queue', 'drain', '--redis', server.url, '--queue', 'dedup', '--all']);
  });

  it('a failure of the worker\'s machine (models not there) is retried with backoff up to the attempts; retry-failed and drain', async () => {
    const server = redis as RedisServer;
    const q = ['--redis', server.url, '--queue', 'retries'];
    const image = path.join(SAMPLES_DIR, 'grace_hopper.jpg');
    const add = await cerAsync(['queue', 'add', image, ...q, '--out', path.join(tmp, 'retries'), '--models', path.join(tmp, 'no-models-here'), '--attempts', '3', '--backoff', '300']);
    assert.equal(add.status, 0, add.stderr);
    const worker = await spawnWorker(q);
    workers.push(worker);
    const queue = new Queue<AnalyzeJobData, AnalyzeJobResult>('retries', { connection: { url: server.url } });
    try {
      await until(async () => (await queue.getFailedCount()) === 1, 'the job failed', 60_000);
      const [job] = await queue.getFailed();
      assert.equal(job.attemptsMade, 3, 'three attempts');
      assert.match(job.failedReason, /no-models-here: no such model file or folder/);
      // Exponential backoff: 300 ms, then 600 ms between the attempts.
      assert.equal((worker.log().match(/\(attempt \d\)/g) ?? []).join(' '), '(attempt 1) (attempt 2) (attempt 3)');
      assert.ok((job.finishedOn as number) - job.timestamp >= 900, `${(job.finishedOn as number) - job.timestamp} ms from adding to failing`);

      const status = await cerAsync(['queue', 'status', ...q]);
      assert.match(status.stdout, /0 waiting, 0 active, 0 delayed \(retry backoff\), 0 done, 1 failed/);
      assert.ok(status.stdout.includes(`${image}: ${job.failedReason} (job ${job.id}, 3 attempts)`), status.stdout);

      // retry-failed: back to waiting, and failed again after its attempts.
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0);
      const retry = await cerAsync(['queue', 'retry-failed', ...q]);
      assert.equal(retry.stdout, '1 failed job back to waiting on retries\n');
      assert.equal(await queue.getWaitingCount(), 1);
      const drain = await cerAsync(['queue', 'drain', ...q]);
      assert.equal(drain.stdout, '1 waiting jobs removed from retries (running ones finish)\n');
      assert.equal(await queue.getWaitingCount(), 0);
    } finally {
      await queue.close();
    }
  });

  it('SIGTERM with --grace 0: the running job is handed back to waiting, its ffmpeg stopped, and the worker exits 0', async () => {
    const server = redis as RedisServer;
    const q = ['--redis', server.url, '--queue', 'handback'];
    const input = path.join(tmp, 'handback.mp4');
    fs.copyFileSync(SAMPLE_MP4, input);
    const worker = await spawnWorker([...q, '--grace', '0']);
    workers.push(worker);
    await cerAsync(['queue', 'add', input, ...q, '--out', path.join(tmp, 'handback-results')]);
    const queue = new Queue<AnalyzeJobData, AnalyzeJobResult>('handback', { connection: { url: server.url } });
    try {
      await until(
        async () => {
          const [job] = await queue.getActive();
          return job !== undefined && ((job.progress as Partial<AnalyzeJobProgress>).frame ?? 0) > 0;
        },
        'the job under way',
        120_000,
        100,
      );
      worker.child.kill('SIGTERM');
      assert.equal(await worker.exited, 0, worker.log());
      assert.match(worker.log(), /handed back \(shutting down\)/);
      const [job] = await queue.getWaiting();
      assert.equal(job?.data.input, input);
      assert.equal(job.attemptsMade, 0, 'a handed-back job has not used an attempt');
      await until(() => processesNaming(input).length === 0, `processes left on ${input}`, 10_000);
      assert.equal(fs.existsSync(path.join(tmp, 'handback-results', 'handback.json')), false);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});
