/**
 * The close of the model-backed nodes (nodes/common/model-node.ts): a node closed with inputs still
 * queued lets the one being handled finish, passes over the rest, and only then releases its model,
 * so that no input runs on a released onnxruntime session.
 */
import { strict as assert } from 'node:assert';
import { decodeImage } from '../../src/media/frames';
import type { RgbImage } from '../../src/media/types';
import { openSessionCount } from '../../src/models/session';
import type { FacePayload, FramePayload, ProbsPayload } from '../../src/nodes-api/messages';
import { ASTRONAUT_PNG } from '../helpers/testdata';
import { helper, NODES, type FlowNode, type TestMessage } from './helpers';

const QUEUED = 40;

function flow(): FlowNode[] {
  const z = 'tab1';
  return [
    { id: z, type: 'tab', label: 'test' },
    { id: 'faces', z, type: 'cer-faces', model: '', detector: 'auto', target: 'largest', referenceCompat: false, wholeFrameFace: false, wires: [['facesOut']] },
    { id: 'vs', z, type: 'cer-vs', model: '', referenceCompat: false, wires: [['vsOut']] },
    { id: 'facesOut', z, type: 'helper' },
    { id: 'vsOut', z, type: 'helper' },
  ];
}

function frame(image: RgbImage, i: number): FramePayload {
  return { type: 'frame', stream: 'closing', source: 'astronaut.png', frame: i, t: i / 25, fps: 25, width: image.width, height: image.height, data: Buffer.from(image.data) };
}

function face(image: RgbImage, i: number): FacePayload {
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

describe('Node-RED nodes: closing a model-backed node with inputs queued', function () {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  let serverStarted = false;

  before(async () => {
    process.on('unhandledRejection', onUnhandled);
    await helper.startServer();
    serverStarted = true;
  });

  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    if (serverStarted) await helper.stopServer();
  });

  it('the face detector and VS finish the input at hand, pass over the queued ones and release their models after, without an error', async () => {
    const image = await decodeImage(ASTRONAUT_PNG);
    const sessionsBefore = openSessionCount();
    await helper.load(NODES, flow());
    const faces: TestMessage[] = [];
    const votes: TestMessage[] = [];
    let firstBoth: () => void = () => undefined;
    const bothRunning = new Promise<void>((resolve) => {
      firstBoth = resolve;
    });
    const check = (): void => {
      if (faces.length > 0 && votes.length > 0) firstBoth();
    };
    helper.getNode('facesOut').on('input', (msg) => {
      faces.push(msg);
      check();
    });
    helper.getNode('vsOut').on('input', (msg) => {
      votes.push(msg);
      check();
    });
    for (let i = 0; i < QUEUED; i++) {
      helper.getNode('faces').receive({ payload: frame(image, i) });
      helper.getNode('vs').receive({ payload: face(image, i) });
    }
    // What a node reports as failed (`done(err)` calls the node's error), also after its flow stopped.
    const errors: string[] = [];
    for (const id of ['faces', 'vs']) {
      (helper.getNode(id) as unknown as { error: (err: unknown) => void }).error = (err) => errors.push(`${id}: ${String(err)}`);
    }
    // Both models are loaded and at work, most inputs still queued: the flow stops now.
    await bothRunning;
    assert.ok(openSessionCount() > sessionsBefore, 'the nodes hold sessions while they run');
    await helper.unload();

    assert.equal(openSessionCount(), sessionsBefore, 'every onnxruntime session was released');
    const seen = faces.length;
    const voted = votes.length;
    assert.ok(seen < QUEUED && voted < QUEUED, `the queued inputs were passed over (faces sent ${seen}, VS ${voted} of ${QUEUED})`);
    // Nothing runs after the close: no input fails on a released model, and nothing more is sent.
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(errors, []);
    assert.equal(faces.length, seen);
    assert.equal(votes.length, voted);
    for (const m of votes) assert.equal((m.payload as ProbsPayload).probs?.length, 7, 'each vote sent is whole');
    assert.deepEqual(unhandled, []);
  });
});
