import { strict as assert } from 'node:assert';
import { decodeImage } from '../../src/media/frame-decoder';
import type { RgbImage } from '../../src/media/types';
import { openSessionCount } from '../../src/models/session';
import { runningModelWorkerCount } from '../../src/models/worker-session';
import type { CompoundPayload, EndPayload, FacePayload, FramePayload, ProbsPayload } from '../../src/contract/messages';
import { openCreditCount } from '../../nodes/common/flow-control';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';
import { ffmpegChildren, helper, nextMessage, NODES, pipelineFlow, runPipeline, settledMemory, sleep, type FlowNode, type TestMessage } from './helpers';

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

/** Inputs queued at a model-backed node when its flow stops. */
const QUEUED = 60;

/** A face detector and a VS node, each feeding a helper node. */
function modelNodesFlow(): FlowNode[] {
  const z = 'tab1';
  return [
    { id: z, type: 'tab', label: 'test' },
    { id: 'faces', z, type: 'cer-faces', model: '', detector: 'auto', target: 'largest', referenceCompat: false, wholeFrameFace: false, wires: [['facesOut']] },
    { id: 'vs', z, type: 'cer-vs', model: '', referenceCompat: false, wires: [['vsOut']] },
    { id: 'facesOut', z, type: 'helper' },
    { id: 'vsOut', z, type: 'helper' },
  ];
}

/** Frame `i` of a stream of the one image. */
function imageFrame(image: RgbImage, i: number): FramePayload {
  return { type: 'frame', stream: 'closing', source: 'astronaut.png', frame: i, t: i / 25, fps: 25, width: image.width, height: image.height, data: Buffer.from(image.data) };
}

/** The whole image as the face of frame `i`. */
function imageFace(image: RgbImage, i: number): FacePayload {
  return {
    type: 'face',
    stream: 'closing',
    source: 'astronaut.png',
    frame: i,
    t: i / 25,
    fps: 25,
    policy: 'largest',
    tracks: [1],
    face: { box: [0, 0, image.width, image.height], score: 1, track: 1, detector: null },
    crop: { width: image.width, height: image.height, data: Buffer.from(image.data) },
    cropBox: null,
  };
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

  it('closing the face detector and VS with inputs queued: the input at hand finishes, the queued ones are passed over, and the models are released after, without an error', async () => {
    const image = await decodeImage(ASTRONAUT_PNG);
    const sessionsBefore = openSessionCount();
    await helper.load(NODES, modelNodesFlow());
    const faces: TestMessage[] = [];
    const votes: TestMessage[] = [];
    let wake = (): void => undefined;
    /** Resolves once each node has sent `n` messages. */
    const sent = (n: number): Promise<void> =>
      new Promise((resolve) => {
        wake = () => {
          if (faces.length >= n && votes.length >= n) resolve();
        };
        wake();
      });
    helper.getNode('facesOut').on('input', (msg) => {
      faces.push(msg);
      wake();
    });
    helper.getNode('vsOut').on('input', (msg) => {
      votes.push(msg);
      wake();
    });
    // What a node reports as failed (`done(err)` calls the node's error), also after its flow stopped.
    const errors: string[] = [];
    for (const id of ['faces', 'vs']) {
      (helper.getNode(id) as unknown as { error: (err: unknown) => void }).error = (err) => errors.push(`${id}: ${String(err)}`);
    }
    // One input each, answered: both models are loaded.
    helper.getNode('faces').receive({ payload: imageFrame(image, 0) });
    helper.getNode('vs').receive({ payload: imageFace(image, 0) });
    await sent(1);
    for (let i = 1; i <= QUEUED; i++) {
      helper.getNode('faces').receive({ payload: imageFrame(image, i) });
      helper.getNode('vs').receive({ payload: imageFace(image, i) });
    }
    // Both at work on their queues: the flow stops now.
    await sent(2);
    assert.ok(openSessionCount() > sessionsBefore, 'the nodes hold sessions while they run');
    await helper.unload();

    assert.equal(openSessionCount(), sessionsBefore, 'every onnxruntime session was released');
    const seen = faces.length;
    const voted = votes.length;
    assert.ok(seen <= QUEUED && voted <= QUEUED, `the queued inputs were passed over (faces sent ${seen}, VS ${voted} of ${QUEUED + 1})`);
    // Nothing runs after the close: no input fails on a released model, and nothing more is sent.
    await sleep(2000);
    assert.deepEqual(errors, []);
    assert.equal(faces.length, seen);
    assert.equal(votes.length, voted);
    for (const m of votes) assert.equal((m.payload as ProbsPayload).probs?.length, 7, 'each vote sent is whole');
    assert.deepEqual(unhandled, []);
  });
});
