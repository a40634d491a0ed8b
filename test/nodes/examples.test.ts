import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMPOUND_NAMES } from '../../src/core';
import type { FittedFusionPayload } from '../../src/nodes-api/messages';
import { REPO_ROOT } from '../helpers/testdata';
import { helper, NODES, type FlowNode, type NodeModule, type TestMessage } from './helpers';

const EXAMPLES = path.join(REPO_ROOT, 'examples');
const SAMPLE = path.join(EXAMPLES, 'sample.mp4');
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
    if (!fs.existsSync(SAMPLE)) {
      console.warn(`    skipped: ${SAMPLE} is absent`);
      this.skip();
    }
    await helper.startServer();
  });
  after(async () => {
    await helper.stopServer();
  });
  afterEach(async () => {
    await helper.unload();
  });

  it('are valid flows whose nodes are all known', () => {
    const known = new Set(['tab', 'comment', 'inject', 'debug', 'function', 'change', 'delay', 'catch', 'complete', 'cer-models', 'cer-media', 'cer-faces', 'cer-vs', 'cer-vd', 'cer-acoustic', 'cer-fusion', 'cer-rules', 'cer-fit-weights', 'ui-base', 'ui-page', 'ui-group', 'ui-theme', 'ui-chart']);
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

  it('01 plays the bundled sample on deploy and puts a compound expression per frame in the debug sidebar', async () => {
    const flow = capturing(example('01-file-to-compound-expressions.json'), ['cer01label', 'cer01errors']);
    await helper.load([...NODES, ...CORE_NODES], flow);
    helper.getNode('cer01errors').on('input', (msg) => assert.fail(`error: ${JSON.stringify(msg.error)}`));
    const msgs = await collect('cer01label', (m) => (m[m.length - 1].payload as { type?: string }).type === 'end');
    const frames = msgs.slice(0, -1).map((m) => m.payload as { label: string | null; frame: number });
    assert.ok(frames.length > 10, `${frames.length} frames`);
    assert.ok(frames.every((f) => f.label === null || COMPOUND_NAMES.includes(f.label)));
    assert.ok(frames.filter((f) => f.label !== null).length > frames.length / 2, 'the astronaut\'s face is found in most frames');
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

  it('04 fits fusion weights on a labelled folder and hands them to the fusion node', async () => {
    const flow = capturing(example('04-fit-fusion-weights.json'), ['cer04fitted']);
    await helper.load([...NODES, ...CORE_NODES], flow);
    const fitted = collect('cer04fitted', () => true, 240_000);
    helper.getNode('cer04inject').receive({ payload: 'docs/samples', label: 'Happiness' });
    const [msg] = await fitted;
    const p = msg.payload as FittedFusionPayload;
    assert.equal(p.type, 'fusion');
    assert.deepEqual(p.search.models, ['vs', 'vd']);
    assert.equal(p.weights.length, 2);
    p.weights[0].forEach((w, c) => assert.ok(Math.abs(w + p.weights[1][c] - 1) < 1e-9, 'each class column sums to 1'));
    assert.ok(p.search.frames > 10);
  });
});
