import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FUSION_PRESETS, resolveFusion, type Fusion, type FusionModel, type FusionStrategy, type PresetName } from '../../src/core';
import { DEFAULT_MISSING_AFTER_S, joinTimings, StreamJoin, type JoinedFrame, type MissingReport, type StreamJoinOptions } from '../../src/pipeline/stream-join';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/** Real votes: the VS, VD and A probabilities of docs/samples/fuse-input.json, 30 frames each. */
const SAMPLE = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'docs', 'samples', 'fuse-input.json'), 'utf8')) as { probs: Record<FusionModel, number[][]> };
const vote = (m: FusionModel, f: number): number[] => SAMPLE.probs[m][f];

/** The paper's formula (§3.3) written out: Σ_m P_m[c] · W[m][c] · v_m, with v_m = 1 for dirichlet. */
function paperFused(preset: PresetName, strategy: FusionStrategy, votes: number[][]): number[] {
  const p = FUSION_PRESETS[preset];
  return Array.from({ length: 7 }, (_, c) => votes.reduce((s, P, m) => s + P[c] * p.weights[m][c] * (strategy === 'hierarchical' ? p.modelWeights[m] : 1), 0));
}

function assertClose(actual: readonly number[] | null, expected: readonly number[], what: string): void {
  assert.ok(actual !== null, `${what}: no fused scores`);
  assert.equal(actual.length, 7, what);
  actual.forEach((x, c) => assert.ok(Math.abs(x - expected[c]) <= 1e-15, `${what}[${c}]: ${x} ≠ ${expected[c]}`));
}

/** A join with a hand-driven clock, collecting what it sends and reports. */
function harness(preset: PresetName, strategy: FusionStrategy, options: Partial<StreamJoinOptions<string>> = {}) {
  const clock = { ms: 1_000_000 };
  const sent: JoinedFrame<string>[] = [];
  const missing: MissingReport<string>[] = [];
  const renormalised: string[] = [];
  const join = new StreamJoin<string>({
    maxWaitMs: 0,
    missingAfterMs: 0,
    now: () => clock.ms,
    onMissing: (r) => missing.push(r),
    onRenormalised: (stream, modality, frame, sum) => renormalised.push(`${stream}/${modality}/${frame}/${sum}`),
    ...options,
  });
  const fusion: Fusion = resolveFusion({ strategy, preset }, FUSION_PRESETS[preset].models);
  join.setFusion(fusion);
  const sink = (f: JoinedFrame<string>): void => {
    sent.push(f);
  };
  const send = (modality: FusionModel, frame: number, extra: { stream?: string; track?: number | null; t?: number; probs?: number[] | null } = {}): void =>
    join.vote(
      { stream: extra.stream ?? 's', modality, frame, probs: extra.probs === undefined ? vote(modality, frame) : extra.probs, t: extra.t, track: extra.track ?? null, context: `${modality}@${frame}` },
      sink,
    );
  return { clock, sent, missing, renormalised, join, sink, send };
}

describe('StreamJoin', () => {
  it('fuses a frame once VS and VD have voted, with the paper-v weights (dirichlet and hierarchical)', () => {
    for (const strategy of ['dirichlet', 'hierarchical'] as const) {
      const h = harness('paper-v', strategy);
      h.send('vs', 0);
      assert.equal(h.sent.length, 0, 'waits for VD');
      h.send('vd', 0);
      assert.equal(h.sent.length, 1);
      const f = h.sent[0];
      assert.equal(f.frame, 0);
      assert.deepEqual(f.late, []);
      assert.deepEqual(f.probs, [vote('vs', 0), vote('vd', 0)]);
      assertClose(f.fused, paperFused('paper-v', strategy, [vote('vs', 0), vote('vd', 0)]), `paper-v ${strategy}`);
      assert.equal(f.first, 'vs@0');
      assert.equal(f.base, 'vs@0');
    }
  });

  it('fuses VS, VD and A with the paper-av8 weights; A votes once per frame for every track of it', () => {
    const h = harness('paper-av8', 'dirichlet');
    h.send('vd', 4, { track: 1 });
    h.send('vs', 4, { track: 1 });
    h.send('vs', 4, { track: 2 });
    h.send('vd', 4, { track: 2 });
    assert.equal(h.sent.length, 0, 'both tracks wait for A');
    h.send('a', 4);
    assert.deepEqual(
      h.sent.map((f) => f.track),
      [1, 2],
    );
    const expected = paperFused('paper-av8', 'dirichlet', [vote('vs', 4), vote('vd', 4), vote('a', 4)]);
    for (const f of h.sent) assertClose(f.fused, expected, `track ${f.track}`);
    // The message passed on is VS's, also when VD came first; the face and source are the first vote's.
    assert.equal(h.sent[0].base, 'vs@4');
    assert.equal(h.sent[0].first, 'vd@4');
  });

  it('joins votes that arrive out of order, each frame with its own votes', () => {
    const h = harness('paper-av8', 'hierarchical');
    const order: Array<[FusionModel, number]> = [
      ['a', 2],
      ['vs', 1],
      ['vd', 2],
      ['a', 0],
      ['vd', 0],
      ['vs', 2],
      ['vs', 0],
      ['a', 1],
      ['vd', 1],
    ];
    for (const [m, f] of order) h.send(m, f);
    assert.deepEqual(
      h.sent.map((f) => f.frame),
      [2, 0, 1],
      'each frame goes when its last vote comes',
    );
    for (const f of h.sent) assertClose(f.fused, paperFused('paper-av8', 'hierarchical', [vote('vs', f.frame), vote('vd', f.frame), vote('a', f.frame)]), `frame ${f.frame}`);
  });

  it('the latency bound: a frame waits maxWait, then goes with what has come, the others listed as late', () => {
    const h = harness('paper-v', 'dirichlet', { maxWaitMs: 200 });
    h.send('vs', 7);
    h.clock.ms += 100;
    h.send('vs', 8);
    h.join.expire(h.clock.ms + 99, h.sink);
    assert.equal(h.sent.length, 0, 'frame 7 has waited 199 ms');
    h.join.expire(h.clock.ms + 100, h.sink);
    assert.deepEqual(
      h.sent.map((f) => f.frame),
      [7],
    );
    assert.deepEqual(h.sent[0].late, ['vd']);
    assert.deepEqual(h.sent[0].probs, [vote('vs', 7), null]);
    // VD's weight goes to VS class by class; paper-v's columns sum to 1, so the fused scores are VS's vote.
    assertClose(h.sent[0].fused, vote('vs', 7), 'VS alone');
    h.join.expire(h.clock.ms + 200, h.sink);
    assert.deepEqual(
      h.sent.map((f) => f.frame),
      [7, 8],
    );
    // VD's vote for frame 7 comes too late: it opens a new entry, which goes when its time is up.
    h.send('vd', 7);
    h.join.expire(h.clock.ms + 200, h.sink);
    assert.deepEqual(h.sent[2].late, ['vs']);
    assertClose(h.sent[2].fused, vote('vd', 7), 'VD alone');
  });

  it('without a latency bound nothing goes on a timer; expire does nothing', () => {
    const h = harness('paper-v', 'dirichlet');
    h.send('vs', 0);
    h.join.expire(h.clock.ms + 1e9, h.sink);
    assert.equal(h.sent.length, 0);
  });

  it('end of stream: an ended modality counts as voted; when all have ended, the rest goes in frame order and the state is dropped', () => {
    const h = harness('paper-av8', 'dirichlet');
    for (const f of [3, 1, 2]) h.send('vs', f);
    h.send('vd', 1);
    h.send('vd', 3);
    assert.equal(h.join.end('s', 'a', h.sink), false);
    // Frames 1 and 3 had VS and VD; with A ended they go (A null, not late).
    assert.deepEqual(
      h.sent.map((f) => f.frame),
      [1, 3],
    );
    assert.deepEqual(h.sent[0].late, []);
    assert.equal(h.sent[0].probs[2], null);
    // A missing: its weight goes to VS and VD in proportion, class by class (W[a][c] shared as W[vs][c] : W[vd][c]).
    const W = FUSION_PRESETS['paper-av8'].weights;
    const expected = Array.from({ length: 7 }, (_, c) => ((vote('vs', 1)[c] * W[0][c] + vote('vd', 1)[c] * W[1][c]) * (W[0][c] + W[1][c] + W[2][c])) / (W[0][c] + W[1][c]));
    h.sent[0].fused?.forEach((x, c) => assert.ok(Math.abs(x - expected[c]) <= 1e-15, `class ${c}`));
    assert.equal(h.join.end('s', 'vs', h.sink), false);
    assert.equal(h.join.size, 1);
    assert.equal(h.join.end('s', 'vd', h.sink), true, 'every modality has ended');
    assert.deepEqual(
      h.sent.map((f) => f.frame),
      [1, 3, 2],
    );
    assert.deepEqual(h.sent[2].probs, [vote('vs', 2), null, null]);
    assert.deepEqual(h.sent[2].late, []);
    assert.equal(h.join.size, 0, 'the stream is dropped');
    assert.equal(h.join.end('s', 'vd', h.sink), null, 'a late end of a closed stream is not a new stream');
    assert.equal(h.join.size, 0);
  });

  it('an end without a modality ends every modality of the fusion', () => {
    const h = harness('paper-v', 'dirichlet');
    h.send('vs', 0, { stream: 'cam' });
    h.send('vs', 0, { stream: 'other' });
    assert.equal(h.join.end('cam', undefined, h.sink), true);
    assert.deepEqual(
      h.sent.map((f) => `${f.stream}/${f.frame}`),
      ['cam/0'],
    );
    assert.equal(h.join.size, 1, 'the other stream keeps waiting');
  });

  it('reports a modality nothing has come from once per stream, missingAfter after the first vote', () => {
    const h = harness('paper-v', 'dirichlet', { missingAfterMs: 10_000 });
    const start = h.clock.ms;
    h.send('vs', 0);
    h.clock.ms = start + 9_999;
    h.send('vs', 1);
    assert.equal(h.missing.length, 0);
    assert.equal(h.join.missing, null);
    h.join.checkMissing(start + 10_000);
    assert.equal(h.missing.length, 1);
    assert.deepEqual(h.missing[0], { stream: 's', missing: ['vd'], heard: ['vs'], waiting: 2, oldest: 'vs@0' });
    assert.deepEqual(h.join.missing, ['vd']);
    h.join.checkMissing(start + 60_000);
    assert.equal(h.missing.length, 1, 'once per stream');
    // The frames keep waiting; VD's first vote clears the note and completes its frame.
    h.send('vd', 0);
    assert.equal(h.join.missing, null);
    assert.deepEqual(
      h.sent.map((f) => f.frame),
      [0],
    );
  });

  it('with media times, a stream must also span missingAfter of media before a modality is reported', () => {
    const h = harness('paper-v', 'dirichlet', { missingAfterMs: 10_000 });
    const start = h.clock.ms;
    h.send('vs', 0, { t: 0 });
    h.send('vs', 100, { t: 4 });
    h.join.checkMissing(start + 20_000);
    assert.equal(h.missing.length, 0, 'only 4 s of media so far (a file analysed slower than real time)');
    h.send('vs', 250, { t: 10.5 });
    h.join.checkMissing(start + 20_000);
    assert.deepEqual(
      h.missing.map((r) => r.missing),
      [['vd']],
    );
  });

  it('ignores votes of a modality outside the fusion, and numbers plain votes per stream and modality', () => {
    const h = harness('paper-v', 'dirichlet');
    h.send('a', 0);
    assert.equal(h.join.size, 0, 'A is not in paper-v');
    assert.equal(h.join.nextFrame('s', 'vs'), 0);
    h.join.vote({ stream: 's', modality: 'vs', frame: 0, probs: vote('vs', 0), track: null, context: 'plain' }, h.sink, true);
    assert.equal(h.join.nextFrame('s', 'vs'), 1);
    assert.equal(h.join.nextFrame('s', 'vd'), 0);
  });

  it('tells of a renormalised vote once per stream and modality', () => {
    const h = harness('paper-v', 'dirichlet');
    const v = { modality: 'vs' as const, probs: vote('vs', 0), track: null, context: '', renormalisedSum: 0.5 };
    h.join.vote({ ...v, stream: 's', frame: 0 }, h.sink);
    h.join.vote({ ...v, stream: 's', frame: 1 }, h.sink);
    h.join.vote({ ...v, stream: 'u', frame: 0 }, h.sink);
    assert.deepEqual(h.renormalised, ['s/vs/0/0.5', 'u/vs/0/0.5']);
  });

  it('a new fusion applies to the frames that go from then on', () => {
    const h = harness('paper-v', 'dirichlet');
    h.send('vs', 0);
    h.join.setFusion(resolveFusion({ strategy: 'hierarchical', preset: 'paper-v' }, ['vs', 'vd']));
    h.send('vd', 0);
    assertClose(h.sent[0].fused, paperFused('paper-v', 'hierarchical', [vote('vs', 0), vote('vd', 0)]), 'hierarchical');
  });

  it('on timers after start(): the latency bound sends what waited, stop() ends the timers', async () => {
    const sent: JoinedFrame<string>[] = [];
    const join = new StreamJoin<string>({ maxWaitMs: 20, missingAfterMs: 0 });
    join.setFusion(resolveFusion({ strategy: 'dirichlet', preset: 'paper-v' }, ['vs', 'vd']));
    join.start((f) => sent.push(f));
    try {
      join.vote({ stream: 's', modality: 'vd', frame: 0, probs: vote('vd', 0), track: null, context: '' }, () => assert.fail('not complete'));
      const until = Date.now() + 2000;
      while (sent.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.equal(sent.length, 1);
      assert.deepEqual(sent[0].late, ['vs']);
      assertClose(sent[0].fused, vote('vd', 0), 'VD alone');
    } finally {
      join.stop();
    }
  });

  it('reads the node settings of the latency bound and the missing report', () => {
    assert.deepEqual(joinTimings('250', undefined), { maxWaitMs: 250, missingAfterMs: DEFAULT_MISSING_AFTER_S * 1000 });
    assert.equal(DEFAULT_MISSING_AFTER_S, 10);
    assert.deepEqual(joinTimings('', ''), { maxWaitMs: 0, missingAfterMs: 10_000 });
    assert.deepEqual(joinTimings(-5, '0'), { maxWaitMs: 0, missingAfterMs: 0 });
    assert.deepEqual(joinTimings('x', 'soon'), { maxWaitMs: 0, missingAfterMs: 0 });
    assert.deepEqual(joinTimings(0, 2.5), { maxWaitMs: 0, missingAfterMs: 2500 });
  });
});
