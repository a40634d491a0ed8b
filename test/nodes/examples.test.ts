import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMPOUND_NAMES } from '../../src/core';
import type { CompoundPayload, FittedFusionPayload } from '../../src/contract/messages';
import { REPO_ROOT, SAMPLES_DIR } from '../helpers/testdata';
import { helper, NODES, statusTexts, type FlowNode, type NodeModule, type TestMessage, type TestNode } from './helpers';

const EXAMPLES = path.join(REPO_ROOT, 'examples');
const CORE = path.dirname(require.resolve('@node-red/nodes/package.json'));
/** The core nodes the examples use, as Node-RED loads them. */
const CORE_NODES: NodeModule[] = ['core/common/20-inject.js', 'core/common/21-debug.js', 'core/common/90-comment.js', 'core/function/10-function.js', 'core/function/15-change.js', 'core/function/89-delay.js'].map(
  (f) => require(path.join(CORE, f)) as NodeModule,
);

function example(name: string): FlowNode[] {
  return JSON.parse(fs.readFileSync(path.join(EXAMPLES, name), 'utf8')) as FlowNode[];
}

/** The example with the named debug nodes turned into test helper nodes. */
function capturing(flow: FlowNode[], ids: readonly string[]): FlowNode[] {
  return flow.map((n) => (ids.includes(n.id) ? { id: n.id, z: n.z, type: 'helper', wires: [] } : n));
}

function collect(id: string, until: (msgs: TestMessage[]) => boolean, timeoutMs = 120_000): Promise<TestMessage[]> {
  return new Promise((resolve, reject) => {
    const msgs: TestMessage[] = [];
    const timer = setTimeout(() => reject(new Error(`${id}: ${msgs.length} messages in ${timeoutMs} ms`)), timeoutMs);
    helper.getNode(id).on('input', (msg) => {
      msgs.push(msg);
      if (until(msgs)) {
        clearTimeout(timer);
        resolve(msgs);
      }
    });
  });
}

describe('example flows (examples/0*.json)', function () {
  before(async function () {
    await helper.startServer();
  });
  after(async () => {
    await helper.stopServer();
  });
  afterEach(async () => {
    await helper.unload();
  });

  it('are valid flows whose nodes are all known', () => {
    const known = new Set(['tab', 'comment', 'inject', 'debug', 'function', 'change', 'delay', 'catch', 'complete', 'cer-models', 'cer-media', 'cer-faces', 'cer-vs', 'cer-vd', 'cer-acoustic', 'cer-fusion', 'cer-rules', 'cer-fit-weights', 'ui-base', 'ui-page', 'ui-group', 'ui-theme', 'ui-chart', 'ui-template']);
    const names = fs.readdirSync(EXAMPLES).filter((n) => /^0\d-.*\.json$/.test(n));
    assert.equal(names.length, 4);
    for (const name of names) {
      const flow = example(name);
      const ids = new Set(flow.map((n) => n.id));
      assert.equal(ids.size, flow.length, `${name}: unique ids`);
      for (const n of flow) {
        assert.ok(known.has(n.type), `${name}: ${n.type}`);
        for (const out of n.wires ?? []) for (const id of out) assert.ok(ids.has(id), `${name}: ${n.id} is wired to ${id}, which is not in the flow`);
      }
    }
  });

  it('01 waits for its inject button, then shows one readable line per frame, the full result beside it, and a summary at the end', async () => {
    const flow = example('01-file-to-compound-expressions.json');
    const inject = flow.find((n) => n.id === 'cer01inject');
    assert.equal(inject?.once, false, 'nothing runs on deploy: the sidebar would show nothing of it');
    assert.deepEqual(flow.find((n) => n.id === 'cer01acoustic')?.wires, [['cer01fusion']], 'A is wired into the fusion');
    // The debug nodes stay real (their status is checked); the tests listen to what they receive.
    await helper.load([...NODES, ...CORE_NODES], flow);
    helper.getNode('cer01errors').on('input', (msg) => assert.fail(`error: ${JSON.stringify(msg.error)}`));
    const statuses: string[] = [];
    const label = helper.getNode('cer01label') as TestNode & { status(s: { text?: unknown }): void };
    const status = label.status.bind(label);
    label.status = (s) => {
      if (s.text !== undefined) statuses.push(String(s.text));
      status(s);
    };
    const lines: TestMessage[] = [];
    helper.getNode('cer01label').on('input', (msg) => lines.push(msg));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(lines.length, 0, 'no frame before the button is pressed');
    const ended = collect('cer01end', () => true);
    helper.getNode('cer01inject').receive({});
    const [end] = await ended;
    assert.equal(lines.length, 250, 'the summary comes after the last frame\'s line');
    // A: the bundled model, named in the node's status, votes on the synthetic voice (2.0–5.4 s) and nowhere else.
    assert.ok(statusTexts('cer01acoustic').some((t) => t.startsWith('a-emodb-cnn-8cl')), statusTexts('cer01acoustic').join(' | '));
    const withA = lines.map((m) => m.result as CompoundPayload).filter((r) => r.votes.a !== null && r.votes.a !== undefined);
    assert.ok(withA.length >= 50 && withA.every((r) => r.t > 1.8 && r.t < 5.8), `A on ${withA.length} frames, ${withA[0]?.t}…${withA[withA.length - 1]?.t} s`);
    await new Promise((resolve) => setTimeout(resolve, 600)); // the debug node's status is throttled

    // One line per frame, in order, with nothing else in it: frame, time, label, score.
    const frames = lines.map((m) => m.payload as { frame: number; time: number; label: string | null; score: number | null });
    assert.equal(frames.length, 250, 'the sample has 250 frames');
    frames.forEach((f, i) => assert.deepEqual(Object.keys(f), ['frame', 'time', 'label', 'score'], `frame ${i}`));
    assert.deepEqual(frames.map((f) => f.frame), frames.map((_, i) => i));
    for (const [i, m] of lines.entries()) {
      const f = frames[i];
      const full = m.result as CompoundPayload;
      assert.equal(full.type, 'compound', 'the full result is kept in msg.result');
      assert.equal(full.frame, f.frame);
      assert.equal(f.time, Math.round(full.t * 100) / 100);
      assert.equal(f.label, full.label);
      assert.ok(f.label !== null && COMPOUND_NAMES.includes(f.label), `frame ${i}: a face and a compound expression`);
      assert.ok(full.scores !== null);
      assert.equal(f.score, Math.round(full.scores[f.label] * 1000) / 1000);
      assert.equal(f.label, full.topK[0].label, 'the label is the top score');
    }
    // The status under the debug node names the frame and its label, never "undefined".
    assert.ok(statuses.length > 0);
    assert.ok(statuses.every((t) => /^frame \d+: /.test(t) && !t.includes('undefined')), statuses.slice(-3).join(' | '));
    assert.equal(statuses[statuses.length - 1], `frame 249: ${frames[249].label}`);

    // The end: one line with the frames per label, which are the lines' own tallies.
    const tally = new Map<string, number>();
    for (const f of frames) tally.set(f.label as string, (tally.get(f.label as string) ?? 0) + 1);
    const ranked = [...tally].sort((a, b) => b[1] - a[1]);
    assert.equal(end.payload, `end (done): 250 frames \u2014 ${ranked.map(([l, n]) => `${l} ${n}`).join(', ')}`);
    assert.deepEqual(Object.entries(end.counts as Record<string, number>), ranked, 'msg.counts: the same, most frequent first');
    assert.ok(tally.size >= 2, `the sample's expression changes: ${JSON.stringify(end.counts)}`);
  });

  it('03 gives two strategies\' labels side by side and a summary of how often they agree', async () => {
    const flow = capturing(example('03-two-fusion-strategies.json'), ['cer03debug']);
    await helper.load([...NODES, ...CORE_NODES], flow);
    const done = collect('cer03debug', (m) => m[m.length - 1].topic === 'summary');
    helper.getNode('cer03inject').receive({ payload: '' });
    const msgs = await done;
    const summary = msgs[msgs.length - 1].payload as { frames: number; agree: number };
    assert.equal(summary.frames, msgs.length - 1);
    const first = msgs[0].payload as Record<string, string | null>;
    assert.deepEqual(Object.keys(first).sort(), ['average', 'dirichlet']);
  });

  it('04 fits fusion weights on docs/samples, labelled by its labels.json: the two photos, not the video', async () => {
    const labels = JSON.parse(fs.readFileSync(path.join(SAMPLES_DIR, 'labels.json'), 'utf8')) as Record<string, string>;
    assert.deepEqual(labels, { 'astronaut.png': 'Happiness', 'grace_hopper.jpg': 'Neutral' });
    const flow = capturing(example('04-fit-fusion-weights.json'), ['cer04fitted']);
    const inject = flow.find((n) => n.id === 'cer04inject') as FlowNode & { payload: string; props: Array<{ p: string }> };
    assert.equal(inject.payload, 'docs/samples');
    assert.deepEqual(inject.props.map((p) => p.p), ['payload'], 'no msg.label: the labels come from labels.json');
    await helper.load([...NODES, ...CORE_NODES], flow);
    // What the fit weights node is given: every fused frame of the folder's three files, with no msg.label.
    const given = new Map<string, number>();
    let withLabel = 0;
    helper.getNode('cer04fit').on('input', (msg) => {
      const p = msg.payload as { type?: string; source?: string };
      if (msg.label !== undefined) withLabel++;
      if (p.type === 'fused' && typeof p.source === 'string') given.set(path.basename(p.source), (given.get(path.basename(p.source)) ?? 0) + 1);
    });
    const fitted = collect('cer04fitted', () => true, 240_000);
    // The inject node as configured (its payload, docs/samples, and nothing else).
    helper.getNode('cer04inject').receive({});
    const [msg] = await fitted;
    assert.deepEqual(Object.fromEntries([...given].sort()), { 'astronaut.png': 1, 'grace_hopper.jpg': 1, 'sample.mp4': 250 }, 'the folder is played whole');
    assert.equal(withLabel, 0, 'no message carries msg.label');
    const p = msg.payload as FittedFusionPayload;
    assert.equal(p.type, 'fusion');
    assert.deepEqual(p.search.models, ['vs', 'vd']);
    assert.equal(p.search.frames, 2, 'fitted on the two labelled photos only: sample.mp4 has no label and is left out');
    assert.equal(p.weights.length, 2);
    p.weights[0].forEach((w, c) => assert.ok(Math.abs(w + p.weights[1][c] - 1) < 1e-9, 'each class column sums to 1'));
  });
});
