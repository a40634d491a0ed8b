/**
 * The queue's answers to a fleet's everyday trouble, on a real Redis server with real `cer worker`
 * processes: retry-failed gives a job its full attempts again; a worker that does not see the
 * results folder or the input (shared storage not mounted) retries instead of writing to its own
 * disk or failing the job; `cer queue add` refuses a file that is not there; a `--fusion` file is
 * carried as its fusion object (edited, it is another job; a worker reads no file); a job
 * removed while it runs (`cer queue drain --all`) is stopped by its worker; and a worker that
 * cannot start leaves nothing open.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { fusionOption } from '../../src/io/fuse-input';
import { analyzeJob, analyzeJobId, type AnalyzeJobData, type AnalyzeJobProgress, type AnalyzeJobResult } from '../../src/queue/job';
import { startAnalyzeWorker } from '../../src/queue/worker';
import { cerAsync } from '../helpers/cli';
import { RedisServer, redisServerBinary } from '../helpers/redis';
import { SAMPLE_MP4, SAMPLES_DIR } from '../helpers/testdata';
import { processesNaming, type SpawnedWorker, spawnWorker, stopWorkers, until } from './helpers';

const jobIdOf = (stdout: string, n = 0): string => stdout.trim().split('\n')[n].split(' ')[0];
const HOPPER = path.join(SAMPLES_DIR, 'grace_hopper.jpg');

describe('cer queue and cer worker: retries, storage a worker does not see, the fusion a job carries, removed jobs', function () {
  this.timeout(300_000);
  let redis: RedisServer | null = null;
  let tmp = '';
  const workers: SpawnedWorker[] = [];
  const queues: Queue[] = [];

  const openQueue = (name: string): Queue<AnalyzeJobData, AnalyzeJobResult> => {
    const queue = new Queue<AnalyzeJobData, AnalyzeJobResult>(name, { connection: { url: (redis as RedisServer).url } });
    queues.push(queue);
    return queue;
  };

  before(async function () {
    if (redisServerBinary() === null) this.skip(); // redis-server not installed: bash tools/setup.sh installs it
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-queue-review-'));
    redis = await RedisServer.start();
  });

  afterEach(async () => {
    await stopWorkers(workers.splice(0));
    for (const q of queues.splice(0)) {
      await q.obliterate({ force: true });
      await q.close();
    }
  });

  after(async () => {
    await redis?.destroy();
    if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('retry-failed: the job gets its full attempts again, counted from 0', async () => {
    const server = redis as RedisServer;
    const q = ['--redis', server.url, '--queue', 'retry-reset'];
    const add = await cerAsync(['queue', 'add', HOPPER, ...q, '--out', path.join(tmp, 'retry-reset'), '--models', path.join(tmp, 'no-models-here'), '--attempts', '2', '--backoff', '100']);
    assert.equal(add.status, 0, add.stderr);
    const queue = openQueue('retry-reset');
    let worker = await spawnWorker([...q, '--no-preload']);
    workers.push(worker);
    await until(async () => (await queue.getFailedCount()) === 1, 'the job failed', 60_000);
    assert.equal((await queue.getFailed())[0].attemptsMade, 2);
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.log());

    const retry = await cerAsync(['queue', 'retry-failed', ...q]);
    assert.equal(retry.stdout, '1 failed job back to waiting on retry-reset\n', retry.stderr);
    const [waiting] = await queue.getWaiting();
    assert.equal(waiting.attemptsMade, 0, 'attempts made counted afresh');
    assert.equal(waiting.attemptsStarted, 0, 'attempts started counted afresh');

    worker = await spawnWorker([...q, '--no-preload']);
    workers.push(worker);
    await until(async () => (await queue.getFailedCount()) === 1, 'the job failed again', 60_000);
    const [failed] = await queue.getFailed();
    assert.equal(failed.attemptsMade, 2, 'both attempts run again');
    assert.equal((worker.log().match(/\(attempt \d\)/g) ?? []).join(' '), '(attempt 1) (attempt 2)');
  });

  it('a worker without the shared storage: a missing results folder or input is retried, never made on its disk; bad media still fails at once', async () => {
    const server = redis as RedisServer;
    const q = ['--redis', server.url, '--queue', 'no-share'];
    // cer queue add makes --out where the user is.
    const out = path.join(tmp, 'share', 'results');
    const add = await cerAsync(['queue', 'add', HOPPER, ...q, '--out', out, '--attempts', '2', '--backoff', '100']);
    assert.equal(add.status, 0, add.stderr);
    assert.ok(fs.statSync(out).isDirectory(), 'cer queue add made the results folder');
    // An input there when queued, gone by the time a worker looks (storage not mounted on it).
    const inputs = path.join(tmp, 'share', 'inputs');
    fs.mkdirSync(inputs);
    const gone = path.join(inputs, 'gone.jpg');
    fs.copyFileSync(HOPPER, gone);
    const bad = path.join(inputs, 'bad.mp4');
    fs.writeFileSync(bad, 'not a video\n');
    const other = path.join(tmp, 'other-results');
    const add2 = await cerAsync(['queue', 'add', gone, bad, ...q, '--out', other, '--attempts', '2', '--backoff', '100']);
    assert.equal(add2.status, 0, add2.stderr);
    fs.rmSync(out, { recursive: true });
    fs.rmSync(gone);

    const queue = openQueue('no-share');
    const worker = await spawnWorker([...q, '--no-preload']);
    workers.push(worker);
    await until(async () => (await queue.getFailedCount()) === 3, 'three jobs failed', 120_000);
    const byInput = new Map((await queue.getFailed()).map((j) => [j.data.input, j]));
    const noOut = byInput.get(HOPPER);
    assert.equal(noOut?.attemptsMade, 2, 'a missing results folder is retried');
    assert.equal(noOut.failedReason, `results folder ${out} does not exist on this worker (is the shared storage mounted here?)`);
    assert.equal(fs.existsSync(out), false, 'no results folder made on the worker');
    const noInput = byInput.get(gone);
    assert.equal(noInput?.attemptsMade, 2, 'an input this worker does not see is retried');
    assert.equal(noInput.failedReason, `${gone}: no such file`);
    const badMedia = byInput.get(bad);
    assert.equal(badMedia?.attemptsMade, 1, 'bad media fails at once');
    assert.match(badMedia.failedReason, /bad\.mp4: not a media file/);
  });

  it('cer queue add: a file that is not there is one line and exit 1, nothing queued for it; the others are queued', async () => {
    const server = redis as RedisServer;
    const q = ['--redis', server.url, '--queue', 'typo'];
    const typo = path.join(SAMPLES_DIR, 'grace_hoper.jpg');
    const r = await cerAsync(['queue', 'add', typo, HOPPER, ...q, '--out', path.join(tmp, 'typo'), '--quiet']);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `cer: ${typo}: no such file\n`);
    assert.match(r.stdout, /^cer-[0-9a-f]{40} added .*grace_hopper\.jpg\n$/);
    const queue = openQueue('typo');
    assert.deepEqual((await queue.getWaiting()).map((j) => j.data.input), [HOPPER]);
    // Only a typo: nothing queued, nothing on stdout.
    const alone = await cerAsync(['queue', 'add', typo, ...q, '--quiet']);
    assert.equal(alone.status, 1);
    assert.equal(alone.stderr, `cer: ${typo}: no such file\n`);
    assert.equal(alone.stdout, '');
    assert.equal(await queue.getWaitingCount(), 1);
  });

  it('--fusion FILE: the job carries the fusion object; the file edited is another job; the worker reads no file', async () => {
    const server = redis as RedisServer;
    const q = ['--redis', server.url, '--queue', 'fusion-file'];
    const out = path.join(tmp, 'fusion-results');
    const file = path.join(tmp, 'fusion.json');
    const first = { strategy: 'dirichlet', weights: [[0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]] };
    fs.writeFileSync(file, JSON.stringify(first));
    const add = await cerAsync(['queue', 'add', HOPPER, ...q, '--out', out, '--fusion', file, '--no-acoustic']);
    assert.equal(add.status, 0, add.stderr);
    const queue = openQueue('fusion-file');
    const job = await queue.getJob(jobIdOf(add.stdout));
    assert.deepEqual(job?.data.options.fusion, fusionOption(file));
    assert.equal(jobIdOf(add.stdout), analyzeJobId(analyzeJob(HOPPER, out, { fusion: file, acoustic: false })));

    // Edited: another fusion, another job (not "already waiting").
    const second = { strategy: 'dirichlet', weights: [[0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]] };
    fs.writeFileSync(file, JSON.stringify(second));
    const again = await cerAsync(['queue', 'add', HOPPER, ...q, '--out', out, '--fusion', file, '--no-acoustic']);
    assert.match(again.stdout, / added /, again.stderr);
    assert.notEqual(jobIdOf(again.stdout), jobIdOf(add.stdout));
    await queue.remove(jobIdOf(add.stdout));

    // The file gone before a worker takes the job: the job runs with the fusion it carries.
    fs.rmSync(file);
    const worker = await spawnWorker([...q, '--no-preload']);
    workers.push(worker);
    await until(async () => (await queue.getCompletedCount()) + (await queue.getFailedCount()) === 1, 'the job ended', 120_000);
    assert.equal(await queue.getFailedCount(), 0, worker.log());
    const result = JSON.parse(fs.readFileSync(path.join(out, 'grace_hopper.json'), 'utf8')) as { fusion: unknown };
    assert.deepEqual(result.fusion, second);
  });

  it('drain --all while a job runs: its worker stops it (its ffmpeg too), writes nothing, logs why, and takes the next job', async () => {
    const server = redis as RedisServer;
    const q = ['--redis', server.url, '--queue', 'removed'];
    const input = path.join(tmp, 'removed.mp4');
    fs.copyFileSync(SAMPLE_MP4, input);
    const out = path.join(tmp, 'removed-results');
    const worker = await spawnWorker([...q, '--lock-duration', '2000']);
    workers.push(worker);
    await cerAsync(['queue', 'add', input, ...q, '--out', out]);
    const queue = openQueue('removed');
    await until(
      async () => {
        const [job] = await queue.getActive();
        return job !== undefined && ((job.progress as Partial<AnalyzeJobProgress>).frame ?? 0) > 0;
      },
      'the job under way',
      120_000,
      100,
    );
    const drain = await cerAsync(['queue', 'drain', ...q, '--all']);
    assert.match(drain.stdout, /^1 jobs removed from removed \(every state; running ones stopped by their workers at the next lock renewal\)\n$/, drain.stderr);
    await until(() => /stopped: its lock could not be renewed/.test(worker.log()), `the job stopped (worker log: ${worker.log()})`, 10_000, 100);
    await until(() => processesNaming(input).length === 0, `processes left on ${input}`, 10_000);
    // Not a Redis connection error: logged as what it is.
    assert.match(worker.log(), /could not renew lock for job cer-[0-9a-f]{40}/);
    assert.doesNotMatch(worker.log(), /Redis: could not renew lock/);
    assert.equal(fs.existsSync(path.join(out, 'removed.json')), false, 'no result for a removed job');

    // The worker goes on with the next job.
    const add = await cerAsync(['queue', 'add', HOPPER, ...q, '--out', out]);
    assert.equal(add.status, 0, add.stderr);
    await until(async () => (await queue.getCompletedCount()) === 1, `the next job done (worker log: ${worker.log()})`, 120_000);
    assert.equal(fs.existsSync(path.join(out, 'removed.json')), false);
    assert.ok(fs.existsSync(path.join(out, 'grace_hopper.json')));
  });

  it('a worker that cannot start (its models not there) rejects with the reason and leaves no Redis connection open', async () => {
    const server = redis as RedisServer;
    const queue = openQueue('no-start');
    await queue.waitUntilReady();
    const clients = async (): Promise<number> => Number(/connected_clients:(\d+)/.exec(await (await queue.client).info())?.[1] ?? NaN);
    const before = await clients();
    const lines: string[] = [];
    const missing = path.join(tmp, 'no-models-at-start');
    await assert.rejects(
      startAnalyzeWorker({ redis: server.url, queue: 'no-start', preload: { models: missing }, log: (l) => lines.push(l) }),
      (err: Error) => err.message.includes(`${missing}: no such model file or folder`),
    );
    await until(async () => (await clients()) === before, `connections back to ${before}`, 5000, 100);
    assert.equal(await queue.getWorkersCount(), 0, 'no worker registered');
    assert.deepEqual(lines, [], 'nothing said as if it had started');
  });
});
