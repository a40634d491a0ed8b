import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeFrames } from '../../src/media/frame-decoder';
import { openSessionCount } from '../../src/models/session';
import { runningModelWorkerCount } from '../../src/models/worker-session';
import type { CompoundPayload, EndPayload, SourceEventPayload } from '../../src/contract/messages';
import { StaticVisualStage } from '../../src/stages/vs';
import { listManifests, DEFAULT_MODELS_DIR } from '../../src/models/manifest';
import { BlazeFaceDetector } from '../../src/vision/blazeface';
import { faceContextBox } from '../../src/vision/align';
import { cropImage } from '../../src/vision/image';
import { writeAcousticTestModel } from '../helpers/acoustic-model';
import { cer } from '../helpers/cli';
import { RAVDESS_CLIP } from '../helpers/testdata';
import { helper, NODES, nextMessage, pipelineFlow, runPipeline, statusTexts, type FlowRun } from './helpers';

interface AnalyzeFrame {
  frame: number;
  t: number;
  face: { box: number[]; score: number; track: number } | null;
  vs: number[] | null;
  vd: number[] | null;
  a: number[] | null;
  fused: number[] | null;
  compound: number[] | null;
  label: string | null;
}

describe('Node-RED nodes: a full flow on real media', function () {
  let out: string;
  let analysis: { results: AnalyzeFrame[]; frames: number };
  let flow: FlowRun;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };

  let serverStarted = false;
  before(async function () {
    process.on('unhandledRejection', onUnhandled);
    out = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-nodes-'));
    const r = cer(['analyze', RAVDESS_CLIP, '--out', out, '--quiet']);
    assert.equal(r.status, 0, r.stderr);
    analysis = JSON.parse(fs.readFileSync(path.join(out, '01-01-01-01-01-01-01.json'), 'utf8')) as typeof analysis;
    await helper.startServer();
    serverStarted = true;
  });

  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    if (out) fs.rmSync(out, { recursive: true, force: true });
    // A before hook that failed never started the server: stopping it would hide that failure.
    if (serverStarted) await helper.stopServer();
    serverStarted = false;
  });

  afterEach(async () => {
    await helper.unload();
  });

  it('gives, frame for frame, the same faces, votes (A from the bundled model), fused scores and labels as cer analyze', async () => {
    // cer analyze's defaults: the bundled acoustic model and the paper's audio-visual preset.
    await helper.load(NODES, pipelineFlow({ preset: 'paper-av8' }));
    flow = await runPipeline(RAVDESS_CLIP);
    assert.ok(statusTexts('acoustic').includes('a-emodb-cnn-8cl · cpu · worker thread'), statusTexts('acoustic').join(' | '));
    // The face detector's status says how many faces it follows: the one actor.
    assert.match(statusTexts('faces').filter((t) => t.includes('fps')).pop() ?? '', /^cpu · \d+(\.\d)? fps · 1 face$/);
    assert.equal(flow.end.reason, 'done');
    assert.equal(flow.end.modality, 'compound');
    assert.equal(flow.results.length, analysis.results.length);
    assert.equal(flow.results.length, 98);
    flow.results.forEach((r, i) => {
      const a = analysis.results[i];
      assert.equal(r.frame, a.frame, `frame ${i}`);
      assert.equal(r.t, a.t, `t of frame ${i}`);
      assert.equal(r.label, a.label, `label of frame ${i}`);
      assert.deepEqual(r.face, a.face, `face of frame ${i}`);
      assert.deepEqual(r.votes.vs, a.vs, `VS of frame ${i}`);
      assert.deepEqual(r.votes.vd, a.vd, `VD of frame ${i}`);
      assert.deepEqual(r.votes.a, a.a, `A of frame ${i}`);
      assert.deepEqual(r.fused, a.fused, `fused of frame ${i}`);
      assert.deepEqual(r.compound, a.compound, `compound of frame ${i}`);
      assert.equal(r.topK[0].label, r.label);
    });
    assert.ok(flow.results.every((r) => r.label !== null), 'every frame of the clip has a face');
    assert.ok(flow.results.some((r) => r.votes.a !== null) && flow.results.some((r) => r.votes.a === null), 'A votes in speech only');
    assert.deepEqual(unhandled, []);
  });

  it('gives, frame for frame, the VS votes of cer analyze --vs-align --vs-flip with the VS node\'s two crop settings on', async () => {
    const r = cer(['analyze', RAVDESS_CLIP, '--out', out, '--quiet', '--no-acoustic', '--vs-align', '--vs-flip']);
    assert.equal(r.status, 0, r.stderr);
    const expected = JSON.parse(fs.readFileSync(path.join(out, '01-01-01-01-01-01-01.json'), 'utf8')) as typeof analysis;
    await helper.load(NODES, pipelineFlow({ preset: 'paper-v', acoustic: false, vsAlign: true, vsFlip: true }));
    const run = await runPipeline(RAVDESS_CLIP);
    assert.equal(run.results.length, 98);
    run.results.forEach((res, i) => {
      assert.deepEqual(res.votes.vs, expected.results[i].vs, `VS of frame ${i}`);
      assert.equal(res.label, expected.results[i].label, `label of frame ${i}`);
    });
    // Not the default crop's votes.
    assert.ok(run.results.some((res, i) => JSON.stringify(res.votes.vs) !== JSON.stringify(analysis.results[i].vs)));
  });

  it('gives the same labels as cer analyze with target all, rule 1 and reference compatibility', async () => {
    const r = cer(['analyze', RAVDESS_CLIP, '--out', out, '--quiet', '--target', 'all', '--rule', 'rule1', '--reference-compat']);
    assert.equal(r.status, 0, r.stderr);
    const expected = JSON.parse(fs.readFileSync(path.join(out, '01-01-01-01-01-01-01.json'), 'utf8')) as typeof analysis;
    await helper.load(NODES, pipelineFlow({ preset: 'paper-av8', target: 'all', rule: 'rule1', referenceCompat: true, withConfig: true }));
    const run = await runPipeline(RAVDESS_CLIP);
    assert.deepEqual(
      run.results.map((x) => [x.frame, x.track, x.label]),
      expected.results.map((x) => [x.frame, x.face?.track ?? null, x.label]),
    );
    assert.deepEqual(run.results.map((x) => x.compound), expected.results.map((x) => x.compound));
  });

  it('with the acoustic model switched off and an audio-visual preset, A is missing and the labels are those of cer analyze --no-acoustic --fusion paper-av8', async () => {
    const r = cer(['analyze', RAVDESS_CLIP, '--out', out, '--quiet', '--no-acoustic', '--fusion', 'paper-av8']);
    assert.equal(r.status, 0, r.stderr);
    const expected = JSON.parse(fs.readFileSync(path.join(out, '01-01-01-01-01-01-01.json'), 'utf8')) as typeof analysis;
    await helper.load(NODES, pipelineFlow({ preset: 'paper-av8', acoustic: false }));
    const run = await runPipeline(RAVDESS_CLIP);
    assert.deepEqual(run.results.map((x) => x.fused), expected.results.map((x) => x.fused));
    assert.deepEqual(run.results.map((x) => x.label), expected.results.map((x) => x.label));
    assert.ok(run.results.every((x) => x.votes.a === null));
    assert.deepEqual(statusTexts('acoustic'), ['acoustic model off']);
  });

  it('with an acoustic model, A\'s vote per frame (gated by Silero VAD), the fused scores and the labels are those of cer analyze', async () => {
    const models = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-nodes-models-'));
    try {
      const manifest = await writeAcousticTestModel(models);
      const r = cer(['analyze', RAVDESS_CLIP, '--out', out, '--quiet', '--models', models]);
      assert.equal(r.status, 0, r.stderr);
      const expected = JSON.parse(fs.readFileSync(path.join(out, '01-01-01-01-01-01-01.json'), 'utf8')) as typeof analysis;
      assert.ok(expected.results.some((x) => x.a !== null) && expected.results.some((x) => x.a === null), 'A votes in speech only');
      const workersBefore = runningModelWorkerCount();
      await helper.load(NODES, pipelineFlow({ preset: 'paper-av8', acousticModel: manifest.manifestPath }));
      const run = await runPipeline(RAVDESS_CLIP);
      assert.deepEqual(run.results.map((x) => x.votes.a), expected.results.map((x) => x.a));
      assert.deepEqual(run.results.map((x) => x.fused), expected.results.map((x) => x.fused));
      assert.deepEqual(run.results.map((x) => x.label), expected.results.map((x) => x.label));
      // A runs in one worker thread of the acoustic node's own, which goes when the flow stops.
      assert.equal(runningModelWorkerCount(), workersBefore + 1, 'one model worker while the flow runs');
      await helper.unload();
      assert.equal(runningModelWorkerCount(), workersBefore, 'the worker is gone once the flow has stopped');
    } finally {
      fs.rmSync(models, { recursive: true, force: true });
    }
  });

  it('with a latency bound, a frame whose VD vote does not come goes out with VD missing and listed as late', async () => {
    const f = pipelineFlow({ maxWait: 150, preset: 'paper-v' });
    // VS reaches the fusion, VD never does.
    const vs = f.find((n) => n.id === 'vs');
    assert.ok(vs);
    vs.wires = [['fusion']];
    await helper.load(NODES, f);
    const results: CompoundPayload[] = [];
    const got = new Promise<void>((resolve) =>
      helper.getNode('out').on('input', (msg) => {
        const p = msg.payload as CompoundPayload | EndPayload;
        if (p.type === 'compound' && results.push(p) === 10) resolve();
      }),
    );
    helper.getNode('media').receive({ payload: RAVDESS_CLIP });
    await got;
    helper.getNode('media').receive({ payload: 'stop' });
    for (const r of results) {
      assert.deepEqual(r.votes.vd, null);
      assert.deepEqual(r.late, ['vd']);
      assert.notEqual(r.votes.vs, null);
      // With VD missing each class keeps its total weight (1 in paper-v): the fused scores are VS's.
      r.fused?.forEach((x, c) => assert.ok(Math.abs(x - (r.votes.vs as number[])[c]) < 1e-12));
    }
  });

  it('reuses frame memory only when the face detector alone gets the frames: a frame another node sees stays intact', async () => {
    const frameBytes = 1280 * 720 * 3;
    const decoded: Buffer[] = [];
    for await (const frame of decodeFrames(RAVDESS_CLIP)) if (frame.index % 25 === 0) decoded.push(Buffer.from(frame.data));
    const seenBy = (id: string): Uint8Array[] => {
      const seen: Uint8Array[] = [];
      helper.getNode(id).on('input', (msg) => {
        const p = msg.payload as { type?: string; data?: Uint8Array };
        if (p.type === 'frame' && p.data) seen.push(p.data);
      });
      return seen;
    };

    // One wire to the face detector: once it is done with a frame, the memory goes back to the decoder.
    await helper.load(NODES, pipelineFlow());
    const alone = seenBy('faces');
    const single = await runPipeline(RAVDESS_CLIP);
    assert.equal(single.results.length, 98);
    assert.equal(alone.length, 98);
    const handedBack = alone.filter((d) => d.byteLength === 0).length;
    assert.ok(handedBack >= 90, `${handedBack} of 98 frames handed back`);
    single.results.forEach((r, i) => assert.equal(r.label, analysis.results[i].label, `label of frame ${i}`));
    await helper.unload();

    // A second node on the frames wire: nothing is reused, and what that node kept is the decoded frame.
    const fanned = pipelineFlow();
    const media = fanned.find((n) => n.id === 'media') as { wires: string[][] };
    media.wires[0] = ['faces', 'tap'];
    fanned.push({ id: 'tap', z: 'tab1', type: 'helper' });
    await helper.load(NODES, fanned);
    const tapped = seenBy('tap');
    const faced = seenBy('faces');
    const shared = await runPipeline(RAVDESS_CLIP);
    assert.equal(shared.results.length, 98);
    assert.equal(tapped.length, 98);
    assert.ok([...tapped, ...faced].every((d) => d.byteLength === frameBytes), 'no frame handed back');
    decoded.forEach((bytes, k) => assert.ok(bytes.equals(tapped[k * 25]), `frame ${k * 25} as decoded`));
    shared.results.forEach((r, i) => assert.equal(r.label, analysis.results[i].label, `label of frame ${i}`));
    // The frames kept here (265 MB) are let go now, not whenever the unloaded nodes' listeners are.
    for (const kept of [alone, tapped, faced, decoded]) kept.length = 0;
  });

  it('the face crop gives VS exactly the numbers the pipeline gets from the frame and box', async () => {
    const detector = await BlazeFaceDetector.load('front-128', { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    const manifest = (await listManifests(DEFAULT_MODELS_DIR)).find((m) => m.task === 'static-visual');
    assert.ok(manifest);
    const vs = await StaticVisualStage.load(manifest, { executionProviders: ['cpu'], intraOpNumThreads: 1 });
    const aligned = await StaticVisualStage.load(manifest, { executionProviders: ['cpu'], intraOpNumThreads: 1, crop: { align: true, flip: true, margin: 0.25 } });
    try {
      let checked = 0;
      for await (const frame of decodeFrames(RAVDESS_CLIP)) {
        if (frame.index % 10 !== 0) continue;
        const [face] = await detector.detect(frame);
        assert.ok(face, `a face in frame ${frame.index}`);
        // A fractional box, as the detector gives it, and one shifted off the frame's edge.
        for (const box of [face.box, [face.box[0] - 0.5, -3.25, face.box[2] + 0.75, face.box[3]] as typeof face.box]) {
          const fromFrame = await vs.run(frame, box, { keypoints: face.keypoints });
          // What the face detector node sends: the crop with room around the face, and the face's box and keypoints.
          const context = faceContextBox({ box, keypoints: face.keypoints }, frame.width, frame.height);
          const crop = cropImage(frame, context);
          const fromCrop = await vs.run(crop, box, { keypoints: face.keypoints, origin: [context[0], context[1]] });
          assert.deepEqual(Array.from(fromCrop.probs), Array.from(fromFrame.probs));
          const alignedFromFrame = await aligned.run(frame, box, { keypoints: face.keypoints });
          const alignedFromCrop = await aligned.run(crop, box, { keypoints: face.keypoints, origin: [context[0], context[1]] });
          assert.deepEqual(Array.from(alignedFromCrop.probs), Array.from(alignedFromFrame.probs));
        }
        checked++;
      }
      assert.equal(checked, 10);
    } finally {
      await Promise.all([detector.release(), vs.release(), aligned.release()]);
    }
  });

  it('sends start, progress and end events, and the end reaches every node in order', async () => {
    await helper.load(NODES, pipelineFlow());
    const events: SourceEventPayload[] = [];
    helper.getNode('events').on('input', (msg) => events.push(msg.payload as SourceEventPayload));
    const run = await runPipeline(RAVDESS_CLIP);
    assert.equal(run.results.length, 98);
    assert.equal(events[0].type, 'start');
    const start = events[0] as Extract<SourceEventPayload, { type: 'start' }>;
    assert.equal(start.info.fps, 30000 / 1001);
    assert.equal(start.info.hasAudio, true);
    const last = events[events.length - 1] as EndPayload;
    assert.equal(last.type, 'end');
    assert.equal(last.frames, 98);
    assert.ok(events.some((e) => e.type === 'progress' && e.percent === 100));
    assert.ok(run.results.every((r) => r.stream === start.stream));
    // Every node has dropped the stream's state.
    for (const id of ['faces', 'vs', 'vd', 'acoustic', 'fusion']) {
      assert.equal((helper.getNode(id) as unknown as { cerStreams: number }).cerStreams, 0, `${id} keeps no state`);
    }
  });

  it('shares one onnxruntime session per model among the nodes of a model config, and releases it on close', async () => {
    const before = openSessionCount();
    const f = pipelineFlow({ withConfig: true });
    // A second VS node on the same config.
    f.push({ id: 'vs2', z: 'tab1', type: 'cer-vs', model: 'models1', referenceCompat: false, wires: [[]] });
    await helper.load(NODES, f);
    const run = await runPipeline(RAVDESS_CLIP);
    assert.equal(run.results.length, 98);
    // The auto face detector's three models and VS: one session each, however many nodes use them.
    assert.equal(openSessionCount() - before, 4);
    await helper.unload();
    assert.equal(openSessionCount(), before);
  });

  it('a bad input reaches a Catch node with a clear message, and the flow goes on', async () => {
    await helper.load(NODES, pipelineFlow());
    const missing = path.join(os.tmpdir(), 'no-such-clip.mp4');
    let caught = nextMessage('caught');
    helper.getNode('media').receive({ payload: missing });
    let msg = await caught;
    assert.equal(msg.error?.source?.id, 'media');
    assert.match(msg.error?.message ?? '', /no-such-clip\.mp4: no such file/);
    assert.equal(msg.payload, missing, 'the Catch node gets the message that failed');

    const notMedia = path.join(out, 'notes.mp4');
    fs.writeFileSync(notMedia, 'these are not video frames\n'.repeat(100));
    caught = nextMessage('caught');
    helper.getNode('media').receive({ payload: notMedia });
    msg = await caught;
    assert.match(msg.error?.message ?? '', /notes\.mp4: not a media file/);

    // Network streams and devices only when the node allows them.
    caught = nextMessage('caught');
    helper.getNode('media').receive({ payload: 'rtsp://127.0.0.1:9/stream' });
    msg = await caught;
    assert.match(msg.error?.message ?? '', /rtsp:\/\/127\.0\.0\.1:9\/stream: .*(live|allow)/i);

    // A message a node cannot use: the node's done(err) reaches the Catch node too.
    caught = nextMessage('caught');
    helper.getNode('vs').receive({ payload: { type: 'frame' } });
    msg = await caught;
    assert.equal(msg.error?.source?.id, 'vs');
    assert.match(msg.error?.message ?? '', /expected a face from the face detector/);

    caught = nextMessage('caught');
    helper.getNode('fusion').receive({ topic: 'vs', payload: [1, 2, 3] });
    msg = await caught;
    assert.match(msg.error?.message ?? '', /^Error: vs vote for frame 0 \(msg\.payload\): expected 7 probabilities, got an array of 3$/);

    // Node-RED is still up and the same flow still works.
    const run = await runPipeline(RAVDESS_CLIP);
    assert.equal(run.results.length, 98);
    assert.deepEqual(unhandled, []);
  });

  it('a stop message ends a running source; the end reaches the output', async () => {
    // The visual preset: with A the fusion waits for its 4 s windows, and this short clip is over by then.
    await helper.load(NODES, pipelineFlow({ preset: 'paper-v' }));
    const results: CompoundPayload[] = [];
    const ended = new Promise<EndPayload>((resolve) => {
      helper.getNode('out').on('input', (msg) => {
        const p = msg.payload as CompoundPayload | EndPayload;
        if (p.type === 'end') resolve(p);
        else {
          results.push(p);
          if (results.length === 5) {
            for (const id of ['faces', 'vs', 'vd', 'fusion']) assert.equal((helper.getNode(id) as unknown as { cerStreams: number }).cerStreams, 1, `${id} has the stream's state`);
            helper.getNode('media').receive({ payload: 'stop' });
          }
        }
      });
    });
    helper.getNode('media').receive({ payload: RAVDESS_CLIP });
    const end = await ended;
    assert.equal(end.reason, 'stopped');
    assert.ok(results.length < 98, `stopped after ${results.length} frames`);
  });
});
