/**
 * The fit weights node with its reference-compat setting, in a real Node-RED runtime, on the votes
 * of docs/samples/fuse-input.json labelled by docs/samples/fuse-truth-basic.txt: it keeps the
 * reference's objective (uar-1to6) and finds the weights `cer fit-weights --reference-compat` finds.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FittedFusionPayload } from '../../src/contract/messages';
import { cer } from '../helpers/cli';
import { REPO_ROOT, SAMPLES_DIR } from '../helpers/testdata';
import { helper, nextMessage, NODES, statusTexts, type FlowNode } from './helpers';

const SAMPLES = 400;
const SEED = 9;

describe('fit weights node: reference compatibility', function () {
  this.timeout(60_000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  function flow(referenceCompat: boolean | undefined): FlowNode[] {
    const z = 'tab1';
    return [
      { id: z, type: 'tab', label: 'fit' },
      { id: 'fit', z, type: 'cer-fit-weights', samples: SAMPLES, seed: SEED, ...(referenceCompat === undefined ? {} : { referenceCompat }), wires: [['out']] },
      { id: 'out', z, type: 'helper' },
    ];
  }

  /** Gives the node every labelled frame of the sample as the fusion node's output, then "fit". */
  async function fitSample(): Promise<FittedFusionPayload> {
    const input = JSON.parse(fs.readFileSync(path.join(SAMPLES_DIR, 'fuse-input.json'), 'utf8')) as { probs: Record<'vs' | 'vd' | 'a', number[][]> };
    const truth = fs.readFileSync(path.join(SAMPLES_DIR, 'fuse-truth-basic.txt'), 'utf8').trim().split('\n').slice(1).map(Number);
    truth.forEach((label, f) => {
      const votes = { vs: input.probs.vs[f], vd: input.probs.vd[f], a: input.probs.a[f] };
      helper.getNode('fit').receive({ label, payload: { type: 'fused', source: 'sample', frame: f, t: f / 25, votes } });
    });
    const out = nextMessage('out', 30_000);
    helper.getNode('fit').receive({ payload: 'fit' });
    return (await out).payload as FittedFusionPayload;
  }

  function cli(extra: string[]): { weights: number[][]; search: { metric: string; score: number } } {
    const r = cer(['fit-weights', '--in', 'docs/samples/fuse-input.json', '--truth', 'docs/samples/fuse-truth-basic.txt', '--samples', String(SAMPLES), '--seed', String(SEED), '--quiet', ...extra]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { weights: number[][]; search: { metric: string; score: number } };
  }

  it('on: uar-1to6, the same weights and score as cer fit-weights --reference-compat', async () => {
    await helper.load(NODES, flow(true));
    const p = await fitSample();
    const want = cli(['--reference-compat']);
    assert.equal(want.search.metric, 'uar-1to6');
    assert.equal(p.search.metric, 'uar-1to6');
    assert.deepEqual(p.search.models, ['vs', 'vd', 'a']);
    assert.equal(p.search.frames, 30);
    assert.deepEqual(p.weights, want.weights);
    assert.equal(p.search.score, want.search.score);
    assert.ok(statusTexts('fit').includes(`fitted on 30 frames · UAR(1-6) ${p.search.score.toFixed(3)}`), statusTexts('fit').join(' | '));
  });

  it('off, or absent in a flow from before the setting: f1-1to6, as cer fit-weights without it', async () => {
    const want = cli([]);
    assert.equal(want.search.metric, 'f1-1to6');
    for (const setting of [false, undefined]) {
      await helper.load(NODES, flow(setting));
      const p = await fitSample();
      assert.equal(p.search.metric, 'f1-1to6');
      assert.deepEqual(p.weights, want.weights);
      assert.equal(p.search.score, want.search.score);
      assert.ok(statusTexts('fit').includes(`fitted on 30 frames · F1(1-6) ${p.search.score.toFixed(3)}`), statusTexts('fit').join(' | '));
      await helper.unload();
    }
  });

  it('the editor has the setting, off by default, with its label in the message catalogue', () => {
    const html = fs.readFileSync(path.join(REPO_ROOT, 'dist', 'nodes', 'cer-fit-weights', 'cer-fit-weights.html'), 'utf8');
    assert.match(html, /referenceCompat: \{ value: false \}/);
    assert.match(html, /id="node-input-referenceCompat"/);
    const catalogue = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'dist', 'nodes', 'cer-fit-weights', 'locales', 'en-US', 'cer-fit-weights.json'), 'utf8')) as {
      'cer-fit-weights': { label: Record<string, string> };
    };
    assert.match(catalogue['cer-fit-weights'].label.referenceCompat, /mean recall without Neutral/);
  });
});
