/**
 * The queue node in a real Node-RED runtime, on a real Redis server, with a real `cer worker`
 * taking its jobs: a file in msg.payload becomes a job; the job's end comes back as a message
 * with the adding message's properties; errors reach a Catch node with the message; closing the
 * node closes its connections.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import type { QueueEventPayload } from '../../src/queue/job';
import { RedisServer, redisServerBinary } from '../helpers/redis';
import { REPO_ROOT, SAMPLES_DIR } from '../helpers/testdata';
import { spawnWorker, type SpawnedWorker } from '../queue/helpers';
import { helper, type FlowNode, type NodeModule, type TestMessage } from './helpers';

const QUEUE_NODE = require(path.join(REPO_ROOT, 'dist', 'nodes', 'cer-queue', 'cer-queue.js')) as NodeModule;

function flow(redis: string, extra: Record<string, unknown> = {}): FlowNode[] {
  const z = 'tab1';
  return [
    { id: z, type: 'tab', label: 'test' },
    { id: 'queue', z, type: 'cer-queue', redis, queue: 'node-test', out: extra.out ?? '', format: 'json', events: 'mine', attempts: 2, ...extra, wires: [['events']] },
    { id: 'events', z, type: 'helper' },
    { id: 'catcher', z, type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z, type: 'helper' },
  ];
}

/** Messages from `id` until `count` have come (or the time is up). */
function collect(id: string, count: number, timeoutMs: number): Promise<TestMessage[]> {
  return new Promise((resolve, reject) => {
    const got: TestMessage[] = [];
    const timer = setTimeout(() => reject(new Error(`${got.length} of ${count} messages within ${timeoutMs} ms: ${JSON.stringify(got.map((m) => m.payload))}`)), timeoutMs);
    helper.getNode(id).on('input', (m: TestMessage) => {
      got.push(m);
      if (got.length === count) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

/** The Redis server's connected clients (INFO clients). */
async function connectedClients(queue: Queue): Promise<number> {
  const info = await (await queue.client).info();
  return Number(/connected_clients:(\d+)/.exec(info)?.[1] ?? NaN);
}

describe('Node-RED nodes: the queue node on a real Redis server', function () {
  this.timeout(300_000);
  let redis: RedisServer | null = null;
  let tmp = '';
  let worker: SpawnedWorker | null = null;
  let serverStarted = false;

  before(async function () {
    if (redisServerBinary() === null) this.skip(); // redis-server not installed: bash tools/setup.sh installs it
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-queue-node-'));
    redis = await RedisServer.start();
    await helper.startServer();
    serverStarted = true;
  });

  afterEach(async () => {
    await helper.unload();
  });

  after(async () => {
    if (worker !== null && worker.child.exitCode === null) {
      worker.child.kill('SIGTERM');
      await worker.exited;
    }
    if (serverStarted) await helper.stopServer();
    await redis?.destroy();
    if (tmp !== '') fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('queues msg.payload, sends queued, then completed or failed with the adding message\'s properties; the same file again is not queued twice', async () => {
    const server = redis as RedisServer;
    const out = path.join(tmp, 'results');
    const image = path.join(tmp, 'hopper.jpg');
    fs.copyFileSync(path.join(SAMPLES_DIR, 'grace_hopper.jpg'), image);
    const bad = path.join(tmp, 'bad.mp4');
    fs.writeFileSync(bad, 'not a video\n');
    await helper.load([QUEUE_NODE], flow(server.url, { out }));
    const messages = collect('events', 4, 240_000);
    helper.getNode('queue').receive({ payload: image, filename: 'hopper' });
    helper.getNode('queue').receive({ payload: bad, filename: 'bad' });
    worker = await spawnWorker(['--redis', server.url, '--queue', 'node-test']);
    const got = await messages;
    const byTopic = (topic: string): TestMessage[] => got.filter((m) => m.topic === topic);
    const queued = byTopic('queued').map((m) => m.payload as Extract<QueueEventPayload, { type: 'queued' }>);
    assert.deepEqual(queued.map((p) => [p.input, p.outcome]), [[image, 'added'], [bad, 'added']]);

    const [done] = byTopic('completed');
    const c = done.payload as Extract<QueueEventPayload, { type: 'completed' }>;
    assert.equal(done.filename, 'hopper', 'the adding message\'s properties');
    assert.equal(c.input, image);
    assert.deepEqual(c.outputs, [path.join(out, 'hopper.json')]);
    assert.equal(c.frames, 1);
    assert.equal(c.worker, worker.name);
    const json = JSON.parse(fs.readFileSync(c.outputs[0], 'utf8')) as { input: string; frames: number };
    assert.equal(json.input, image);

    const [failed] = byTopic('failed');
    const f = failed.payload as Extract<QueueEventPayload, { type: 'failed' }>;
    assert.equal(failed.filename, 'bad');
    assert.equal(f.input, bad);
    assert.match(f.error, /bad\.mp4: not a media file/);

    // Queued before and done: not added again.
    const again = collect('events', 1, 30_000);
    helper.getNode('queue').receive({ payload: image });
    const [m] = await again;
    assert.deepEqual([(m.payload as { outcome: string }).outcome, m.topic], ['completed', 'queued']);
  });

  it('errors reach a Catch node with the message: no input, bad options, a URL that is not Redis\'s', async () => {
    const server = redis as RedisServer;
    await helper.load([QUEUE_NODE], flow(server.url));
    let caught = collect('caught', 1, 30_000);
    helper.getNode('queue').receive({ payload: 42, tag: 'a' });
    let [m] = await caught;
    assert.equal(m.tag, 'a');
    assert.equal(m.error?.message, 'Error: no input: msg.payload must be a file path (or URL) for the workers to analyse');
    await helper.unload();

    await helper.load([QUEUE_NODE], flow(server.url));
    caught = collect('caught', 1, 30_000);
    helper.getNode('queue').receive({ payload: path.join(SAMPLES_DIR, 'sample.mp4'), options: { detector: 'nose' } });
    [m] = await caught;
    assert.match(m.error?.message ?? '', /--detector: expected auto, .*got "nose"/);
    await helper.unload();

    await helper.load([QUEUE_NODE], flow('http://127.0.0.1:6379'));
    caught = collect('caught', 1, 30_000);
    helper.getNode('queue').receive({ payload: path.join(SAMPLES_DIR, 'sample.mp4') });
    [m] = await caught;
    assert.match(m.error?.message ?? '', /Redis URL: "http:\/\/127\.0\.0\.1:6379" is not a Redis URL/);
  });

  it('a fusion whose weights were normalised: the warning is the node\'s (not stderr), and the job carries the fusion object', async () => {
    const server = redis as RedisServer;
    await helper.load([QUEUE_NODE], flow(server.url, { queue: 'node-fusion' }));
    const queued = collect('events', 1, 30_000);
    const ones = [1, 1, 1, 1, 1, 1, 1];
    helper.getNode('queue').receive({ payload: path.join(tmp, 'fusion-input.mp4'), options: { fusion: { strategy: 'dirichlet', weights: [ones, ones] }, acoustic: false } });
    const [m] = await queued;
    const spy = (helper.getNode('queue') as unknown as { warn: { args: Array<[unknown]>; thisValues: Array<{ id?: string }> } }).warn;
    const warned = spy.args.filter((_, i) => spy.thisValues[i]?.id === 'queue').map(([w]) => String(w));
    assert.equal(warned.length, 1, JSON.stringify(warned));
    assert.match(warned[0], /^fusion\.weights: the models' weights of a class should sum to 1; normalised the columns that did not \(\w+ 2(, \w+ 2){6}\)$/);
    const probe = new Queue('node-fusion', { connection: { url: server.url } });
    try {
      const job = await probe.getJob((m.payload as { jobId: string }).jobId);
      assert.deepEqual((job?.data as { options: { fusion: unknown } }).options.fusion, { strategy: 'dirichlet', weights: [ones, ones] });
    } finally {
      await probe.obliterate({ force: true });
      await probe.close();
    }
  });

  it('closing the node closes its Redis connections', async () => {
    const server = redis as RedisServer;
    const probe = new Queue('node-test', { connection: { url: server.url } });
    try {
      await probe.waitUntilReady();
      const before = await connectedClients(probe);
      await helper.load([QUEUE_NODE], flow(server.url));
      const queued = collect('events', 1, 30_000);
      helper.getNode('queue').receive({ payload: path.join(tmp, 'never-analysed.mp4') });
      await queued;
      assert.ok((await connectedClients(probe)) > before, 'the node holds connections while it runs');
      await helper.unload();
      const deadline = Date.now() + 5000;
      while ((await connectedClients(probe)) !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await connectedClients(probe), before, 'none left after close');
    } finally {
      await probe.obliterate({ force: true });
      await probe.close();
    }
  });
});
