import { strict as assert } from 'node:assert';
import { openSessionCount } from '../../src/models/session';
import { runningModelWorkerCount } from '../../src/models/worker-session';
import type { CompoundPayload, EndPayload } from '../../src/nodes-api/messages';
import { openCreditCount } from '../../nodes/common/flow-control';
import { RAVDESS_CLIP } from '../helpers/testdata';
import { ffmpegChildren, helper, nextMessage, NODES, pipelineFlow, runPipeline, settledMemory, sleep } from './helpers';

/** Resolves when `out` has seen `count` compound results. */
function resultsArrive(count: number, timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => reject(new Error(`only ${seen} results within ${timeoutMs} ms`)), timeoutMs);
    helper.getNode('out').on('input', (msg) => {
      if ((msg.payload as CompoundPayload | EndPayload).type === 'compound' && ++seen === count) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

describe('Node-RED nodes: deploys, stops and failures', function () {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  let serverStarted = false;
  before(async function () {
    process.on('unhandledRejection', onUnhandled);
    await helper.startServer();
    serverStarted = true;
  });

  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    // A before hook that failed never started the server: stopping it would hide that failure.
    if (serverStarted) await helper.stopServer();
    serverStarted = false;
  });

  afterEach(async () => {
    await helper.unload();
  });

  it('deploying the flow 20 times in a row, each time while a clip plays, leaves no ffmpeg and no growing memory', async () => {
    const sessionsBefore = openSessionCount();
    const workersBefore = runningModelWorkerCount();
    // The visual preset, so results come while ffmpeg still runs (with A the fusion waits for its
    // 4 s windows, and this clip is over by then); the acoustic node runs all the same.
    await helper.load(NODES, pipelineFlow({ preset: 'paper-v' }));
    const heap: number[] = [];
    const buffers: number[] = [];
    for (let i = 0; i < 20; i++) {
      // A full deploy of a changed flow: every node is stopped and started again.
      const flow = pipelineFlow({ preset: 'paper-v', rule: i % 2 === 0 ? 'none' : 'rule2' });
      await helper.setFlows(flow).catch(() => undefined); // the helper's 300 ms wait for "started" may time out; the flow is up anyway
      await sleep(50);
      const arrived = resultsArrive(3);
      helper.getNode('media').receive({ payload: RAVDESS_CLIP });
      await arrived;
      assert.ok(ffmpegChildren().length > 0, `deploy ${i + 1}: ffmpeg runs while the clip plays`);
      // The test helper's spies on Node.prototype.send keep every message sent (frames included):
      // that is the harness's memory, not the nodes', so it is let go before measuring.
      helper._sandbox.resetHistory();
      const m = await settledMemory();
      heap.push(m.heapUsed / 2 ** 20);
      buffers.push(m.arrayBuffers / 2 ** 20);
    }
    await helper.unload();
    await sleep(100);
    assert.deepEqual(ffmpegChildren(), [], 'no ffmpeg is left');
    assert.equal(openCreditCount(), 0);
    assert.equal(openSessionCount(), sessionsBefore, 'every onnxruntime session was released');
    assert.equal(runningModelWorkerCount(), workersBefore, "every model worker (the acoustic node's, one per deploy) has gone");
    const settled = (await settledMemory()).heapUsed / 2 ** 20;
    // Memory after the last deploys is what it was after the first few: nothing accumulates per deploy.
    const early = Math.max(...heap.slice(2, 6));
    const late = Math.max(...heap.slice(16, 20));
    console.log(`      heap after deploys 3-6: ≤ ${early.toFixed(1)} MiB, 17-20: ≤ ${late.toFixed(1)} MiB, after unload ${settled.toFixed(1)} MiB`);
    console.log(`      heap per deploy (MiB): ${heap.map((h) => h.toFixed(1)).join(' ')}`);
    console.log(`      array buffers per deploy (MiB): ${buffers.map((h) => h.toFixed(1)).join(' ')}`);
    assert.ok(late - early < 5, `heap grew from ${early.toFixed(1)} to ${late.toFixed(1)} MiB over 15 deploys`);
    assert.ok(Math.max(...buffers) < 64, `array buffers (frames) held: up to ${Math.max(...buffers).toFixed(1)} MiB`);
    assert.deepEqual(unhandled, []);
  });

  it('an input handler that fails does not stop Node-RED: the error goes to the Catch node, the next message is handled', async () => {
    const flow = pipelineFlow({ withConfig: true });
    // A model config that names a model that is not there: every node using it fails to load.
    flow.push({ id: 'bad-models', type: 'cer-models', model: 'models/no-such-model.json', provider: 'cpu', threads: 1 });
    flow.push({ id: 'vs-bad', z: 'tab1', type: 'cer-vs', model: 'bad-models', referenceCompat: false, wires: [['out']] });
    await helper.load(NODES, flow);
    const caught = nextMessage('caught');
    helper.getNode('vs-bad').receive({
      payload: { type: 'face', stream: 's', source: 'x', frame: 0, t: 0, fps: 25, policy: 'largest', tracks: [], face: null, crop: null, cropBox: null },
    });
    const msg = await caught;
    assert.equal(msg.error?.source?.id, 'vs-bad');
    assert.match(msg.error?.message ?? '', /models\/no-such-model\.json: manifest not found/);
    // Everything else keeps working.
    const run = await runPipeline(RAVDESS_CLIP);
    assert.equal(run.results.length, 98);
    assert.deepEqual(unhandled, []);
  });

  it('closing the flow while a clip plays stops ffmpeg before the close completes', async () => {
    await helper.load(NODES, pipelineFlow({ preset: 'paper-v' }));
    const arrived = resultsArrive(2);
    helper.getNode('media').receive({ payload: RAVDESS_CLIP });
    await arrived;
    assert.ok(ffmpegChildren().length > 0);
    await helper.unload();
    assert.deepEqual(ffmpegChildren(), []);
  });
});
