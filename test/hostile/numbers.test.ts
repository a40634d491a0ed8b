/**
 * Hostile numbers (issue 14, item 5): votes, scores, frame numbers and fusion weights that make no
 * sense, given to `cer fuse`, `cer analyze` and the fusion and rules nodes. Each case asserts the
 * exact outcome: the exit status and the one-line message, or the node's error on a Catch node (and
 * that the node goes on), or the exact numbers when a value is renormalised with a warning.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FUSION_PRESETS, MAX_FUSED_SCORE } from '../../src/core';
import type { CompoundPayload, FusedPayload } from '../../src/contract/messages';
import { cer } from '../helpers/cli';
import { helper, nextMessage, NODES, sleep, statusTexts, type FlowNode, type TestMessage } from '../nodes/helpers';

const ONE_HOT_DISGUST = [0, 0, 1, 0, 0, 0, 0];
const VOTE = [0.1, 0.2, 0.05, 0.05, 0.4, 0.1, 0.1];

/** One line on stderr, no stack trace. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one line expected, got:\n${stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(stderr, /\n\s+at /);
}

describe('hostile numbers: cer fuse and cer analyze', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-hostile-numbers-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function writeJson(name: string, value: unknown): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, JSON.stringify(value));
    return file;
  }
  function fuse(name: string, input: unknown, extra: string[] = []): ReturnType<typeof cer> {
    return cer(['fuse', '--in', writeJson(name, input), ...extra]);
  }

  it('refuses a vote of 5 in one line naming the element', () => {
    const r = fuse('five.json', { models: ['vs'], probs: { vs: [[5, 0, 0, 0, 0, 0, 0]] } });
    assert.equal(r.status, 1);
    assertOneLine(r.stderr, /^cer: .*five\.json: probs\.vs\[0\]\[0\]: expected a probability in \[0, 1\], got 5$/);
    assert.equal(r.stdout, '');
  });

  it('refuses a vote of 1e308', () => {
    const r = fuse('huge.json', { models: ['vs'], probs: { vs: [VOTE, [0, 1e308, 0, 0, 0, 0, 0]] } });
    assert.equal(r.status, 1);
    assertOneLine(r.stderr, /^cer: .*huge\.json: probs\.vs\[1\]\[1\]: expected a probability in \[0, 1\], got 1e\+308$/);
  });

  it('refuses a vote of all zeros', () => {
    const r = fuse('zeros.json', { models: ['vs'], probs: { vs: [[0, 0, 0, 0, 0, 0, 0]] } });
    assert.equal(r.status, 1);
    assertOneLine(r.stderr, /^cer: .*zeros\.json: probs\.vs\[0\]: the 7 probabilities are all 0; expected them to sum to 1$/);
  });

  it('renormalises votes that sum to 5, with one warning per model', () => {
    const vote = [1, 1, 1, 1, 1, 0, 0];
    const r = fuse('sum5.json', { models: ['vs'], probs: { vs: [vote, VOTE, vote] }, fusion: { strategy: 'average' } });
    assert.equal(r.status, 0, r.stderr);
    assertOneLine(r.stderr, /^cer: warning: .*sum5\.json: probs\.vs: 2 votes did not sum to 1 \(first: frame 0, sum 5\); renormalised$/);
    const out = JSON.parse(r.stdout) as { fused: number[][] };
    assert.deepEqual(out.fused[0], [0.2, 0.2, 0.2, 0.2, 0.2, 0, 0]);
    assert.deepEqual(out.fused[1], VOTE);
  });

  it('takes a vote within the tolerance (sum 1.0005) as it is, without a warning', () => {
    const vote = [0.1005, 0.2, 0.05, 0.05, 0.4, 0.1, 0.1];
    const r = fuse('close.json', { models: ['vs'], probs: { vs: [vote] }, fusion: { strategy: 'average' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual((JSON.parse(r.stdout) as { fused: number[][] }).fused[0], vote);
  });

  it('normalises weights whose columns sum to 5, with a warning naming the classes', () => {
    const weights = [
      [2.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
      [2.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    ];
    const r = fuse('w5.json', { models: ['vs', 'vd'], probs: { vs: [VOTE], vd: [VOTE] }, fusion: { strategy: 'dirichlet', weights } });
    assert.equal(r.status, 0, r.stderr);
    assertOneLine(r.stderr, /^cer: warning: fusion\.weights: the models' weights of a class should sum to 1; normalised the columns that did not \(Neutral 5\)$/);
    const fused = (JSON.parse(r.stdout) as { fused: number[][] }).fused[0];
    VOTE.forEach((p, c) => assert.ok(Math.abs(fused[c] - p) < 1e-15, `class ${c}: ${fused[c]} vs ${p}`));
  });

  it('refuses weights that are all zero for a class', () => {
    const weights = [
      [0.5, 0.5, 0, 0.5, 0.5, 0.5, 0.5],
      [0.5, 0.5, 0, 0.5, 0.5, 0.5, 0.5],
    ];
    const r = fuse('w0.json', { models: ['vs', 'vd'], probs: { vs: [VOTE], vd: [VOTE] }, fusion: { strategy: 'dirichlet', weights } });
    assert.equal(r.status, 1);
    assertOneLine(r.stderr, /^cer: .*w0\.json: fusion: fusion\.weights: every model's weight for Disgust \(column 2\) is 0; each class needs a weight > 0$/);
  });

  it('refuses a negative weight', () => {
    const weights = [
      [1.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
      [-0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
    ];
    const r = fuse('wneg.json', { models: ['vs', 'vd'], probs: { vs: [VOTE], vd: [VOTE] }, fusion: { strategy: 'dirichlet', weights } });
    assert.equal(r.status, 1);
    assertOneLine(r.stderr, /^cer: .*wneg\.json: fusion\.weights\[1\]\[0\]: expected a finite number ≥ 0, got -0\.5$/);
  });

  it('normalises a --fusion file whose weights sum to 5 (the issue\'s "every frame Fearfully Surprised")', () => {
    const fusionFile = writeJson('fusion5.json', { strategy: 'dirichlet', weights: [[5, 5, 5, 5, 5, 5, 5]] });
    const r = fuse('in5.json', { models: ['vs'], probs: { vs: [VOTE] } }, ['--fusion', fusionFile]);
    assert.equal(r.status, 0, r.stderr);
    assertOneLine(r.stderr, /^cer: warning: fusion\.weights: .*normalised the columns that did not \(Neutral 5, Anger 5, Disgust 5, Fear 5, Happiness 5, Sadness 5, Surprise 5\)$/);
    const out = JSON.parse(r.stdout) as { fused: number[][]; labels: string[] };
    assert.deepEqual(out.fused[0], VOTE);
    assert.equal(out.labels[0], 'Happily Surprised');
  });

  it('keeps the published paper-av7 quirk: its Disgust weights sum to 1.0536, without a warning', () => {
    const r = fuse('av7.json', { models: ['vs', 'vd', 'a'], probs: { vs: [ONE_HOT_DISGUST], vd: [ONE_HOT_DISGUST], a: [ONE_HOT_DISGUST] }, fusion: { strategy: 'dirichlet', preset: 'paper-av7' } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const fused = (JSON.parse(r.stdout) as { fused: number[][] }).fused[0];
    assert.ok(Math.abs(fused[2] - (0.2579578 + 0.62411413 + 0.17148297)) < 1e-15);
    assert.ok(fused[2] > 1.0535 && fused[2] <= MAX_FUSED_SCORE);
  });

  it('keeps the paper-av7 weights as published also when they are given out in full', () => {
    const weights = FUSION_PRESETS['paper-av7'].weights;
    const r = fuse('av7-full.json', { models: ['vs', 'vd', 'a'], probs: { vs: [ONE_HOT_DISGUST], vd: [ONE_HOT_DISGUST], a: [ONE_HOT_DISGUST] }, fusion: { strategy: 'dirichlet', weights } });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok((JSON.parse(r.stdout) as { fused: number[][] }).fused[0][2] > 1.0535);
  });

  it('refuses a model weight v of 5', () => {
    const r = fuse('v5.json', { models: ['vs', 'vd'], probs: { vs: [VOTE], vd: [VOTE] }, fusion: { strategy: 'hierarchical', preset: 'paper-v', modelWeights: [5, 0.2] } });
    assert.equal(r.status, 1);
    assertOneLine(r.stderr, /^cer: .*v5\.json: fusion: fusion\.modelWeights\[0\] must be a number in \[0, 1\], got 5$/);
  });

  it('refuses model weights that are all 0', () => {
    const r = fuse('v0.json', { models: ['vs', 'vd'], probs: { vs: [VOTE], vd: [VOTE] }, fusion: { strategy: 'hierarchical', preset: 'paper-v', modelWeights: [0, 0] } });
    assert.equal(r.status, 1);
    assertOneLine(r.stderr, /^cer: .*v0\.json: fusion: fusion\.modelWeights: every model weight is 0; at least one must be > 0$/);
  });

  it('quotes at most a short excerpt of a 1 MB string given as a probability', () => {
    const r = fuse('long.json', { models: ['vs'], probs: { vs: [['x'.repeat(1 << 20), 0, 0, 0, 0, 0, 0]] } });
    assert.equal(r.status, 1);
    assertOneLine(r.stderr, /^cer: .*long\.json: probs\.vs\[0\]\[0\]: expected a probability in \[0, 1\], got "x{30}…"$/);
    assert.ok(r.stderr.length < 300);
  });

  for (const [title, args, pattern] of [
    ['an empty input name', [''], /^cer: input 1 of 1 is an empty name: give a media file, a folder or a URL$/],
    ['a whitespace-only input name', [' \t '], /^cer: input 1 of 1 is an empty name: give a media file, a folder or a URL$/],
    ['an empty name after a real one', ['clip.mp4', ''], /^cer: input 2 of 2 is an empty name: give a media file, a folder or a URL$/],
  ] as const) {
    it(`cer analyze refuses ${title} before any work, and writes nothing`, () => {
      const cwd = fs.mkdtempSync(path.join(dir, 'cwd-'));
      fs.writeFileSync(path.join(cwd, 'clip.mp4'), 'not analysed');
      const r = cer(['analyze', ...args, '--out', 'results'], { cwd });
      assert.equal(r.status, 1);
      assertOneLine(r.stderr, pattern);
      assert.deepEqual(fs.readdirSync(cwd), ['clip.mp4']);
    });
  }
});

describe('hostile numbers: the fusion and rules nodes', function () {
  this.timeout(30_000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  /** fusion → rules → out, fusion also → fused; a Catch node → caught. */
  function flow(fusion: Partial<FlowNode> = {}): FlowNode[] {
    const z = 'tab1';
    return [
      { id: z, type: 'tab', label: 'numbers' },
      { id: 'fusion', z, type: 'cer-fusion', strategy: 'dirichlet', preset: 'paper-v', models: 'vs,vd', weights: '', modelWeights: '', maxWait: 0, missingAfter: 0, wires: [['rules', 'fused']], ...fusion },
      { id: 'rules', z, type: 'cer-rules', rule: 'none', topK: 3, wires: [['out']] },
      { id: 'fused', z, type: 'helper' },
      { id: 'out', z, type: 'helper' },
      { id: 'catcher', z, type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z, type: 'helper' },
    ];
  }

  /** The error a message gives on the Catch node. */
  async function caughtBy(id: string, msg: Record<string, unknown>): Promise<TestMessage> {
    const caught = nextMessage('caught', 5000);
    helper.getNode(id).receive(msg);
    return caught;
  }

  /** The texts a node has warned so far (from the helper's spy on `warn`). */
  function warnings(id: string): string[] {
    const spy = (helper.getNode(id) as unknown as { warn: { args: Array<[unknown]>; thisValues: Array<{ id?: string }> } }).warn;
    return spy.args.filter((_, i) => spy.thisValues[i]?.id === id).map(([w]) => String(w));
  }

  const probs = (modality: string, frame: unknown, values: unknown, stream: unknown = 's1'): Record<string, unknown> => ({
    payload: { type: 'probs', modality, stream, source: 'test', frame, t: 0, fps: 25, face: null, probs: values, model: 'test' },
  });

  for (const [title, msg, pattern] of [
    ['a vote of 5', { topic: 'vs', payload: [5, 0, 0, 0, 0, 0, 0] }, /^Error: vs vote for frame 0 \(msg\.payload\)\[0\]: expected a probability in \[0, 1\], got 5$/],
    ['a vote of 1e308', { topic: 'vd', payload: [0, 0, 1e308, 0, 0, 0, 0] }, /^Error: vd vote for frame 0 \(msg\.payload\)\[2\]: expected a probability in \[0, 1\], got 1e\+308$/],
    ['a vote of all zeros', probs('vs', 3, [0, 0, 0, 0, 0, 0, 0]), /^Error: vs vote for frame 3 \(msg\.payload\.probs\): the 7 probabilities are all 0; expected them to sum to 1$/],
    ['a vote of 8 numbers', probs('vd', 4, [...VOTE, 0]), /^Error: vd vote for frame 4 \(msg\.payload\.probs\): expected 7 probabilities, got an array of 8$/],
    ['frame −1 (msg.frame)', { topic: 'vs', frame: -1, payload: VOTE }, /^Error: msg\.frame: expected a frame number \(a whole number from 0 to 9007199254740991\), got -1$/],
    ['frame 1e300', probs('vs', 1e300, VOTE), /^Error: msg\.payload\.frame: expected a frame number \(a whole number from 0 to 9007199254740991\), got 1e\+300$/],
    ['frame "x"', { topic: 'vs', frame: 'x', payload: VOTE }, /^Error: msg\.frame: expected a frame number \(a whole number from 0 to 9007199254740991\), got "x"$/],
    ['frame 1.5', probs('vd', 1.5, VOTE), /^Error: msg\.payload\.frame: expected a frame number .*, got 1\.5$/],
    ['a stream that is not a name', probs('vs', 0, VOTE, 42), /^Error: msg\.payload\.stream: expected the stream's name \(a string\), got 42$/],
    ['a 10 MB string as the vote', probs('vs', 0, 'y'.repeat(10 << 20)), /^Error: vs vote for frame 0 \(msg\.payload\.probs\): expected 7 probabilities, got "y{30}…"$/],
  ] as const) {
    it(`fusion node: ${title} reaches a Catch node in one line naming the field, and the node goes on`, async () => {
      await helper.load(NODES, flow());
      const caught = await caughtBy('fusion', msg);
      assert.equal(caught.error?.source?.id, 'fusion');
      assert.match(caught.error?.message ?? '', pattern);
      assert.ok((caught.error?.message ?? '').length < 200);
      // The node still fuses.
      const out = nextMessage('out', 5000);
      helper.getNode('fusion').receive(probs('vs', 7, VOTE, 'ok'));
      helper.getNode('fusion').receive(probs('vd', 7, VOTE, 'ok'));
      const result = (await out).payload as CompoundPayload;
      assert.equal(result.frame, 7);
      assert.equal(result.label, 'Happily Surprised');
    });
  }

  it('fusion node: a vote that sums to 0.5 is renormalised, with one warning per stream and model', async () => {
    await helper.load(NODES, flow());
    const half = VOTE.map((p) => p / 2);
    const fused = nextMessage('fused', 5000);
    helper.getNode('fusion').receive(probs('vs', 0, half));
    helper.getNode('fusion').receive(probs('vd', 0, VOTE));
    const p = (await fused).payload as FusedPayload;
    p.votes.vs?.forEach((x, c) => assert.ok(Math.abs(x - VOTE[c]) < 1e-15));
    p.fused?.forEach((x, c) => assert.ok(Math.abs(x - VOTE[c]) < 1e-15));
    const second = nextMessage('fused', 5000);
    helper.getNode('fusion').receive(probs('vs', 1, half));
    helper.getNode('fusion').receive(probs('vd', 1, VOTE));
    await second;
    assert.deepEqual(warnings('fusion'), ['vs vote for frame 0 of stream "s1" sums to 0.5, not 1: renormalised (said once per stream and model)']);
  });

  it('fusion node: msg.fusion with a negative weight is refused and the fusion in use stays', async () => {
    await helper.load(NODES, flow());
    const caught = await caughtBy('fusion', { fusion: { strategy: 'dirichlet', weights: [[-1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 1]] } });
    assert.equal(caught.error?.message, 'Error: msg.fusion.weights[0][0]: expected a finite number ≥ 0, got -1');
    const fused = nextMessage('fused', 5000);
    helper.getNode('fusion').receive(probs('vs', 0, VOTE));
    helper.getNode('fusion').receive(probs('vd', 0, VOTE));
    assert.equal(((await fused).payload as FusedPayload).preset, 'paper-v');
  });

  it('fusion node: msg.fusion with a class all zero is refused in one line', async () => {
    await helper.load(NODES, flow());
    const caught = await caughtBy('fusion', { fusion: { strategy: 'dirichlet', weights: [[1, 1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 0, 0]] } });
    assert.equal(caught.error?.message, "Error: msg.fusion: fusion.weights: every model's weight for Surprise (column 6) is 0; each class needs a weight > 0");
  });

  it('fusion node: msg.fusion whose columns sum to 5 is normalised with a warning and used', async () => {
    await helper.load(NODES, flow());
    helper.getNode('fusion').receive({ fusion: { strategy: 'dirichlet', weights: [[4, 4, 4, 4, 4, 4, 4], [1, 1, 1, 1, 1, 1, 1]] } });
    const fused = nextMessage('fused', 5000);
    const vd = [0, 0, 0, 0, 0, 0, 1];
    helper.getNode('fusion').receive(probs('vs', 0, VOTE));
    helper.getNode('fusion').receive(probs('vd', 0, vd));
    const p = (await fused).payload as FusedPayload;
    p.fused?.forEach((x, c) => assert.ok(Math.abs(x - (0.8 * VOTE[c] + 0.2 * vd[c])) < 1e-15));
    assert.equal(warnings('fusion').length, 1);
    assert.match(warnings('fusion')[0], /^msg\.fusion: fusion\.weights: .*normalised the columns that did not \(Neutral 5, Anger 5, Disgust 5, Fear 5, Happiness 5, Sadness 5, Surprise 5\)$/);
  });

  it('fusion node: own weights (the table) that sum to 5 are normalised with a warning; negative ones leave the node unconfigured', async () => {
    await helper.load(NODES, flow({ preset: '', weights: JSON.stringify([[4, 4, 4, 4, 4, 4, 4], [1, 1, 1, 1, 1, 1, 1]]) }));
    assert.equal(warnings('fusion').length, 1);
    assert.match(warnings('fusion')[0], /^fusion\.weights: .*normalised the columns that did not \(Neutral 5,/);
    await helper.unload();
    await helper.load(NODES, flow({ preset: '', weights: JSON.stringify([[-4, 4, 4, 4, 4, 4, 4], [1, 1, 1, 1, 1, 1, 1]]) }));
    assert.match(statusTexts('fusion').at(-1) ?? '', /^fusion\.weights\[0\]\[0\] must be a finite number/);
    const caught = await caughtBy('fusion', probs('vs', 0, VOTE));
    assert.equal(caught.error?.message, 'Error: the fusion is not configured correctly; see the node status');
  });

  it('fusion node: a modality that never arrives is reported once per stream, and its frames keep waiting', async () => {
    await helper.load(NODES, flow({ missingAfter: 0.3 }));
    const caughtAll: TestMessage[] = [];
    helper.getNode('caught').on('input', (m) => caughtAll.push(m));
    const fused: FusedPayload[] = [];
    helper.getNode('fused').on('input', (m) => fused.push(m.payload as FusedPayload));
    for (let f = 0; f < 5; f++) helper.getNode('fusion').receive(probs('vs', f, VOTE, 'cam'));
    await sleep(900);
    for (let f = 5; f < 8; f++) helper.getNode('fusion').receive(probs('vs', f, VOTE, 'cam'));
    await sleep(400);
    assert.equal(caughtAll.length, 1, 'one error per stream');
    assert.equal(
      caughtAll[0].error?.message,
      'nothing from vd for stream "cam" 0.3 s after its first vote (heard from: vs; 5 frames waiting): is that node wired to this fusion node, or should the fusion leave it out? The frames keep waiting for it.',
    );
    assert.ok(statusTexts('fusion').includes('waiting for vd: nothing received'));
    assert.equal(fused.length, 0, 'nothing dropped, nothing sent without VD');
    // VD comes late after all: the waiting frames go out, in order.
    for (let f = 0; f < 8; f++) helper.getNode('fusion').receive(probs('vd', f, VOTE, 'cam'));
    await sleep(100);
    assert.deepEqual(fused.map((p) => p.frame), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(caughtAll.length, 1);
  });

  it('fusion node: votes with media times are not reported missing before they span the bound (a file analysed slowly)', async () => {
    await helper.load(NODES, flow({ missingAfter: 0.3 }));
    const caughtAll: TestMessage[] = [];
    helper.getNode('caught').on('input', (m) => caughtAll.push(m));
    const timed = (f: number, t: number): Record<string, unknown> => {
      const m = probs('vs', f, VOTE, 'file');
      return { payload: { ...(m.payload as Record<string, unknown>), t } };
    };
    for (let f = 0; f < 5; f++) helper.getNode('fusion').receive(timed(f, f * 0.04));
    await sleep(700);
    assert.equal(caughtAll.length, 0, '0.16 s of media: not yet');
    helper.getNode('fusion').receive(timed(10, 0.4));
    await sleep(300);
    assert.equal(caughtAll.length, 1);
    assert.match(caughtAll[0].error?.message ?? '', /^nothing from vd for stream "file" 0\.3 s after its first vote \(heard from: vs; 6 frames waiting\)/);
  });

  it('fusion node: with a latency bound, frames of a modality that never arrives go without it, and the error comes once', async () => {
    await helper.load(NODES, flow({ missingAfter: 0.3, maxWait: 100 }));
    const caughtAll: TestMessage[] = [];
    helper.getNode('caught').on('input', (m) => caughtAll.push(m));
    const fused: FusedPayload[] = [];
    helper.getNode('fused').on('input', (m) => fused.push(m.payload as FusedPayload));
    for (let f = 0; f < 3; f++) helper.getNode('fusion').receive(probs('vd', f, VOTE, 'live'));
    await sleep(800);
    assert.deepEqual(fused.map((p) => [p.frame, p.late]), [[0, ['vs']], [1, ['vs']], [2, ['vs']]]);
    assert.equal(caughtAll.length, 1);
    assert.match(caughtAll[0].error?.message ?? '', /^nothing from vs for stream "live" 0\.3 s after its first vote \(heard from: vd; 0 frames waiting\): .* The frames go without it after the latency bound \(100 ms\)\.$/);
  });

  for (const [title, payload, pattern] of [
    ['scores of 5', [5, 0, 0, 0, 0, 0, 0], /^Error: msg\.payload\[0\]: expected a score in \[0, 1\.0536\], got 5$/],
    ['a score of -0.5', [0.5, -0.5, 0, 0, 0, 0, 0], /^Error: msg\.payload\[1\]: expected a score in \[0, 1\.0536\], got -0\.5$/],
    ['a fused payload with NaN', { type: 'fused', stream: 's', frame: 0, fused: [0, 0, 0, NaN, 0, 0, 0] }, /^Error: msg\.payload\.fused\[3\]: expected a score in \[0, 1\.0536\], got NaN$/],
    ['a fused payload of frame −1', { type: 'fused', stream: 's', frame: -1, fused: VOTE }, /^Error: msg\.payload\.frame: expected a frame number .*, got -1$/],
    ['six scores', [0.1, 0.2, 0.3, 0.1, 0.2, 0.1], /^Error: msg\.payload: expected 7 fused scores, got an array of 6$/],
  ] as const) {
    it(`rules node: ${title} reaches a Catch node in one line, and the node goes on`, async () => {
      await helper.load(NODES, flow());
      const caught = await caughtBy('rules', { payload });
      assert.equal(caught.error?.source?.id, 'rules');
      assert.match(caught.error?.message ?? '', pattern);
      const out = nextMessage('out', 5000);
      helper.getNode('rules').receive({ payload: VOTE });
      assert.equal(((await out).payload as CompoundPayload).label, 'Happily Surprised');
    });
  }

  it('rules node: the paper-av7 Disgust score of 1.0536 is accepted', async () => {
    await helper.load(NODES, flow());
    const out = nextMessage('out', 5000);
    helper.getNode('rules').receive({ payload: [0, 0, 1.0535549, 0, 0, 0, 0] });
    assert.equal(((await out).payload as CompoundPayload).label, 'Disgustedly Surprised');
  });
});
