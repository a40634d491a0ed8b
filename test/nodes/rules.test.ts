/**
 * The compound rules node with rule1+rule2, in a real Node-RED runtime, on the fused votes of
 * docs/samples/fuse-input.json as `cer fuse` gives them: from the editor setting and from msg.rule.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CompoundPayload } from '../../src/contract/messages';
import { cer } from '../helpers/cli';
import { REPO_ROOT } from '../helpers/testdata';
import { helper, nextMessage, NODES, statusTexts, type FlowNode } from './helpers';

// Table 1 of the paper: [E1, CW1, E2, CW2], canonical indices Ne0 An1 Di2 Fe3 Ha4 Sa5 Su6.
const TABLE1: Array<[number, number, number, number]> = [
  [3, 5 / 7, 6, 2 / 7], [4, 6 / 8, 6, 2 / 8], [5, 4 / 6, 6, 2 / 6], [2, 6 / 8, 6, 2 / 8],
  [1, 5 / 7, 6, 2 / 7], [5, 4 / 9, 3, 5 / 9], [5, 4 / 9, 1, 5 / 9],
];

/** Rule 1's mask (p > 1/7 kept), then Rule 2's weights. */
function rule1rule2(p: readonly number[]): number[] {
  const keep = (x: number): number => (x > 1 / 7 ? x : 0);
  return TABLE1.map(([e1, cw1, e2, cw2]) => keep(p[e1]) * cw1 + keep(p[e2]) * cw2);
}

interface Fused {
  fused: number[][];
  compound: number[][];
  labels: string[];
}

describe('compound rules node: rule1+rule2', function () {
  this.timeout(60_000);
  let fused: Fused;
  let byRule: Fused;
  before(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-rules-node-'));
    try {
      // The sample's fused scores (paper-av7's W), rule-free and with rule1+rule2.
      const run = (rule: string): Fused => {
        const out = path.join(dir, `${rule}.json`);
        const r = cer(['fuse', '--in', 'docs/samples/fuse-input.json', '--fusion', 'paper-av7', '--rule', rule, '--out', out]);
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(fs.readFileSync(out, 'utf8')) as Fused;
      };
      fused = run('none');
      byRule = run('rule1+rule2');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  function flow(rule: string): FlowNode[] {
    const z = 'tab1';
    return [
      { id: z, type: 'tab', label: 'rules' },
      { id: 'rules', z, type: 'cer-rules', rule, topK: 3, wires: [['out']] },
      { id: 'out', z, type: 'helper' },
      { id: 'catcher', z, type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z, type: 'helper' },
    ];
  }

  async function score(p: number[], extra: Record<string, unknown> = {}): Promise<CompoundPayload> {
    const next = nextMessage('out', 5000);
    helper.getNode('rules').receive({ payload: p, ...extra });
    return (await next).payload as CompoundPayload;
  }

  it('the editor setting: every frame of the sample scored by the formula, labelled as cer fuse --rule rule1+rule2 labels it', async () => {
    await helper.load(NODES, flow('rule1+rule2'));
    // The mask matters on this data: some frame keeps a score above 1/7 and drops another.
    assert.ok(fused.fused.some((p) => p.some((x) => x > 1 / 7) && p.some((x) => x > 0 && x <= 1 / 7)));
    let changed = 0;
    for (const [f, p] of fused.fused.entries()) {
      const got = await score(p);
      assert.equal(got.rule, 'rule1+rule2');
      const want = rule1rule2(p);
      want.forEach((x, k) => assert.ok(Math.abs((got.compound?.[k] ?? NaN) - x) < 1e-15, `frame ${f} CE ${k}`));
      assert.equal(got.label, byRule.labels[f], `frame ${f}`);
      if (got.label !== fused.labels[f]) changed++;
    }
    assert.ok(changed > 0, 'on some frame the rule gives another label than the rule-free sum');
    assert.deepEqual(statusTexts('rules')[0], 'rule rule1+rule2');
  });

  it('msg.rule switches a rule-free node to rule1+rule2 from that message on; a bad msg.rule reaches a Catch node', async () => {
    await helper.load(NODES, flow('none'));
    const p = fused.fused.find((q, f) => byRule.labels[f] !== fused.labels[f]);
    assert.ok(p, 'a frame whose label the rule changes');
    const before = await score(p);
    assert.equal(before.rule, 'none');
    assert.equal(before.label, fused.labels[fused.fused.indexOf(p)]);
    const switched = await score(p, { rule: 'rule1+rule2' });
    assert.equal(switched.rule, 'rule1+rule2');
    assert.equal(switched.label, byRule.labels[fused.fused.indexOf(p)]);
    // A message that only sets the rule gives no output; the rule stays for the next frames.
    helper.getNode('rules').receive({ payload: 1700000000000, rule: 'rule1' });
    const after = await score(p);
    assert.equal(after.rule, 'rule1');
    const caught = nextMessage('caught', 5000);
    helper.getNode('rules').receive({ payload: p, rule: 'rule3' });
    assert.equal((await caught).error?.message, 'Error: msg.rule: expected one of none, rule1, rule2, rule1+rule2, got "rule3"');
    assert.equal((await score(p)).rule, 'rule1', 'a refused msg.rule leaves the rule as it was');
  });

  it('the editor offers rule1+rule2 with a label in the message catalogue', () => {
    const html = fs.readFileSync(path.join(REPO_ROOT, 'dist', 'nodes', 'cer-rules', 'cer-rules.html'), 'utf8');
    const option = /<option value="rule1\+rule2" data-i18n="cer-rules\.rule\.([\w+]+)"><\/option>/.exec(html);
    assert.ok(option, 'an option rule1+rule2');
    const catalogue = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'dist', 'nodes', 'cer-rules', 'locales', 'en-US', 'cer-rules.json'), 'utf8')) as { 'cer-rules': { rule: Record<string, string> } };
    assert.match(catalogue['cer-rules'].rule[option[1]], /Rule 1 \+ Rule 2/);
  });
});
