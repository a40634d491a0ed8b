/**
 * Property-based tests (fast-check, fixed seeds so that CI runs the same cases every time):
 * - the JSON readers (fuse input, label files): any JSON either parses or gives one line of InputError;
 * - the shared number checks (src/io/votes.ts) and, through Node-RED, the fusion and rules nodes:
 *   every message gives exactly one outcome, a result in range or one line on a Catch node;
 * - the IoU tracker: ids unique and increasing, never reused, matches only at or above the threshold.
 */
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { fuseFrameInto, FUSION_PRESETS, FusionConfigError, MAX_FUSED_SCORE, resolveFusion, WEIGHT_SUM_TOLERANCE } from '../../src/core';
import { InputError } from '../../src/io/errors';
import { parseJson } from '../../src/io/files';
import { parseFuseInput } from '../../src/io/fuse-input';
import { readLabels } from '../../src/io/labels';
import { checkFrameNumber, checkFusedScores, checkVote, PROBABILITY_SLACK, VOTE_SUM_TOLERANCE } from '../../src/io/votes';
import type { CompoundPayload } from '../../src/contract/messages';
import { iou, IouTracker } from '../../src/vision/tracker';
import type { Box, FaceDetection } from '../../src/vision/types';
import { helper, NODES, type FlowNode, type TestMessage } from '../nodes/helpers';

const SEED = 42;
const RUNS = 150;

/** An error a reader may give: an InputError of one short line. */
function assertInputError(err: unknown): void {
  assert.ok(err instanceof InputError, `not an InputError: ${String(err)}`);
  assert.doesNotMatch(err.message, /\n/);
  assert.ok(err.message.length <= 600, `message of ${err.message.length} characters`);
}

function outcome(f: () => unknown): void {
  try {
    f();
  } catch (err) {
    assertInputError(err);
  }
}

const probability = fc.double({ min: 0, max: 1, noNaN: true });
/** A valid vote: 7 non-negative numbers divided by their sum. */
const validVote = fc
  .array(fc.double({ min: 0.001, max: 1, noNaN: true }), { minLength: 7, maxLength: 7 })
  .map((xs) => {
    const sum = xs.reduce((a, b) => a + b, 0);
    return xs.map((x) => x / sum);
  });
/** Anything a hostile sender may put where a vote goes. */
const hostileNumber = fc.oneof(probability, fc.double(), fc.integer(), fc.constantFrom(NaN, Infinity, -Infinity, 1e308, -0, 5), fc.string({ maxLength: 5 }), fc.constant(null));
const hostileVote = fc.oneof(
  validVote,
  fc.array(probability, { minLength: 7, maxLength: 7 }),
  fc.array(hostileNumber, { minLength: 0, maxLength: 9 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const fuseModels = fc.constantFrom(['vs'], ['vs', 'vd'], ['vs', 'vd', 'a']);

describe('properties: JSON readers', function () {
  this.timeout(60_000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-properties-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('parseFuseInput: any JSON value parses or gives one line of InputError', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (raw) => outcome(() => parseFuseInput(raw, 'in.json'))),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('parseFuseInput: inputs close to valid ones parse to votes in [0, 1] summing to 1, or give one line', () => {
    const input = fuseModels.chain((models) =>
      fc.record({
        models: fc.constant(models as unknown),
        probs: fc.record(Object.fromEntries(models.map((m) => [m, fc.array(fc.oneof(hostileVote, fc.constant(null)), { maxLength: 4 })]))),
        fusion: fc.option(
          fc.record({
            strategy: fc.constantFrom('dirichlet', 'hierarchical', 'average', 'x'),
            weights: fc.option(fc.array(fc.array(fc.oneof(fc.double({ min: 0, max: 5, noNaN: true }), hostileNumber), { minLength: 7, maxLength: 7 }), { minLength: models.length, maxLength: models.length }), { nil: undefined }),
          }),
          { nil: undefined },
        ),
      }),
    );
    fc.assert(
      fc.property(input, (raw) => {
        let parsed;
        try {
          parsed = parseFuseInput(raw, 'in.json');
        } catch (err) {
          assertInputError(err);
          return;
        }
        parsed.probs.forEach((flat, m) => {
          for (let f = 0; f < parsed.frames; f++) {
            if (!parsed.present[m][f]) continue;
            const vote = Array.from(flat.subarray(f * 7, f * 7 + 7));
            assert.ok(vote.every((p) => Number.isFinite(p) && p >= -PROBABILITY_SLACK && p <= 1 + PROBABILITY_SLACK));
            assert.ok(Math.abs(vote.reduce((a, b) => a + b, 0) - 1) <= VOTE_SUM_TOLERANCE + 1e-9);
          }
        });
        // The fusion it names resolves to weights whose columns sum to 1, or is refused as a configuration error.
        try {
          const fusion = resolveFusion(parsed.fusion, parsed.models);
          for (let c = 0; c < 7; c++) {
            let sum = 0;
            for (let m = 0; m < parsed.models.length; m++) sum += fusion.W[m * 7 + c];
            assert.ok(Math.abs(sum - 1) <= WEIGHT_SUM_TOLERANCE + 1e-9, `column ${c} sums to ${sum}`);
          }
        } catch (err) {
          assert.ok(err instanceof FusionConfigError, String(err));
          assert.doesNotMatch(err.message, /\n/);
        }
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('parseJson: any text parses or gives one line of InputError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 40 }), fc.json(), fc.string({ unit: 'binary', maxLength: 40 })), (text) => outcome(() => parseJson(text, 'x.json'))),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('readLabels: any JSON in a labels file gives labels in range, or one line of InputError', () => {
    let n = 0;
    const labels = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record({ labels: fc.array(fc.oneof(fc.integer({ min: -2, max: 8 }), fc.string({ maxLength: 12 }), fc.constant(null))), frames: fc.option(fc.array(fc.string({ maxLength: 4 })), { nil: undefined }) }),
      fc.record({ indices: fc.array(fc.oneof(fc.integer({ min: -1, max: 8 }), fc.constant(null))) }),
      fc.record({ fused: fc.array(fc.oneof(fc.array(hostileNumber, { maxLength: 8 }), fc.constant(null))) }),
    );
    fc.assert(
      fc.property(labels, fc.constantFrom('basic', 'compound'), fc.boolean(), (value, task, isTruth) => {
        const file = path.join(dir, `labels-${n++}.json`);
        fs.writeFileSync(file, JSON.stringify(value) ?? 'null');
        let read;
        try {
          read = readLabels(file, task as 'basic' | 'compound', isTruth);
        } catch (err) {
          assertInputError(err);
          return;
        } finally {
          fs.rmSync(file, { force: true });
        }
        for (const label of read.labels) assert.ok(label >= -1 && label < 7, `label ${label}`);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('properties: the shared number checks', function () {
  it('checkVote: a valid vote comes back as it was, unrenormalised', () => {
    fc.assert(
      fc.property(validVote, (vote) => {
        const checked = checkVote(vote, 'v');
        assert.deepEqual(checked.probs, vote);
        assert.equal(checked.renormalised, false);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('checkVote: anything gives 7 probabilities summing to 1, or one line naming the vote', () => {
    fc.assert(
      fc.property(hostileVote, (x) => {
        let checked;
        try {
          checked = checkVote(x, 'vs vote for frame 3 (msg.payload)');
        } catch (err) {
          assertInputError(err);
          assert.match((err as Error).message, /^vs vote for frame 3 \(msg\.payload\)(\[\d\])?: /);
          return;
        }
        assert.equal(checked.probs.length, 7);
        assert.ok(checked.probs.every((p) => Number.isFinite(p) && p >= -PROBABILITY_SLACK && p <= 1 + PROBABILITY_SLACK));
        assert.ok(Math.abs(checked.probs.reduce((a, b) => a + b, 0) - 1) <= VOTE_SUM_TOLERANCE + 1e-9);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('checkFrameNumber: accepts exactly the whole numbers from 0 to 2^53 − 1', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -10, max: 10 }), fc.maxSafeInteger(), fc.double(), fc.string({ maxLength: 3 }), fc.constant(2 ** 53), fc.constant(null)), (x) => {
        const valid = typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
        if (valid) assert.equal(checkFrameNumber(x, 'msg.frame'), x);
        else assert.throws(() => checkFrameNumber(x, 'msg.frame'), (err: unknown) => err instanceof InputError && /^msg\.frame: expected a frame number/.test(err.message));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('checkFusedScores: whatever any preset fuses from valid votes is accepted', () => {
    const presets = Object.values(FUSION_PRESETS);
    fc.assert(
      fc.property(fc.constantFrom(...presets), fc.constantFrom('dirichlet', 'hierarchical', 'average') as fc.Arbitrary<'dirichlet' | 'hierarchical' | 'average'>, fc.array(fc.option(validVote, { nil: null }), { minLength: 3, maxLength: 3 }), (preset, strategy, votes) => {
        const fusion = resolveFusion({ strategy, preset: preset.name }, preset.models);
        const probs = votes.slice(0, preset.models.length);
        const out = new Float64Array(7);
        if (!fuseFrameInto(fusion, probs, out)) return;
        const fused = checkFusedScores(Array.from(out), 'msg.payload');
        assert.ok(fused.every((s) => s <= MAX_FUSED_SCORE));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

describe('properties: the fusion and rules nodes\' message validation', function () {
  this.timeout(60_000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  /** Loads fusion (VS alone, plain average) → rules → out with a Catch node, and counts what comes out. */
  async function load(): Promise<{ out: TestMessage[]; caught: TestMessage[] }> {
    const z = 'tab1';
    const flow: FlowNode[] = [
      { id: z, type: 'tab', label: 'properties' },
      { id: 'fusion', z, type: 'cer-fusion', strategy: 'average', preset: '', models: 'vs', weights: '', modelWeights: '', maxWait: 0, missingAfter: 0, wires: [['rules']] },
      { id: 'rules', z, type: 'cer-rules', rule: 'rule1', topK: 3, wires: [['out']] },
      { id: 'out', z, type: 'helper' },
      { id: 'catcher', z, type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z, type: 'helper' },
    ];
    await helper.load(NODES, flow);
    const seen = { out: [] as TestMessage[], caught: [] as TestMessage[] };
    helper.getNode('out').on('input', (m) => seen.out.push(m));
    helper.getNode('caught').on('input', (m) => seen.caught.push(m));
    return seen;
  }

  /** Waits until `count()` reaches `n` (or 2 s pass). */
  async function until(count: () => number, n: number): Promise<void> {
    const deadline = Date.now() + 2000;
    while (count() < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
  }

  function assertCompound(p: CompoundPayload): void {
    assert.equal(p.type, 'compound');
    assert.ok(p.fused !== null && p.fused.every((x) => Number.isFinite(x) && x >= -PROBABILITY_SLACK && x <= MAX_FUSED_SCORE));
    assert.ok(p.compound !== null && p.compound.every((x) => Number.isFinite(x)));
    assert.ok(typeof p.label === 'string');
  }

  it('fusion node: each message gives exactly one outcome: a compound result in range, or one line on the Catch node', async () => {
    const seen = await load();
    let sent = 0;
    const message = fc.record(
      { frame: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.double(), fc.string({ maxLength: 3 })), payload: hostileVote },
      { requiredKeys: ['payload'] },
    );
    await fc.assert(
      fc.asyncProperty(message, async (m) => {
        if (m.payload === null) m = { ...m, payload: [1, 0, 0, 0, 0, 0, 0] };
        const before = seen.out.length + seen.caught.length;
        helper.getNode('fusion').receive({ topic: 'vs', stream: `s${sent++}`, ...m });
        await until(() => seen.out.length + seen.caught.length, before + 1);
        await new Promise((r) => setTimeout(r, 2));
        assert.equal(seen.out.length + seen.caught.length, before + 1, 'exactly one outcome');
      }),
      { seed: SEED, numRuns: RUNS },
    );
    for (const m of seen.out) assertCompound(m.payload as CompoundPayload);
    for (const m of seen.caught) {
      assert.doesNotMatch(m.error?.message ?? '', /\n/);
      assert.match(m.error?.message ?? '', /^Error: (msg\.frame: |vs vote for frame \d+ \(msg\.payload\)(\[\d\])?: |expected a vote: )/);
    }
    assert.ok(seen.out.length > 10 && seen.caught.length > 10, `both outcomes exercised: ${seen.out.length} results, ${seen.caught.length} errors`);
  });

  it('rules node: each message gives exactly one outcome: compound scores of a valid input, or one line on the Catch node', async () => {
    const seen = await load();
    const payload = fc.oneof(
      fc.array(fc.double({ min: 0, max: MAX_FUSED_SCORE, noNaN: true }), { minLength: 7, maxLength: 7 }),
      hostileVote,
      fc.record({ type: fc.constant('fused'), stream: fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), frame: fc.oneof(fc.nat(), fc.double()), fused: fc.oneof(fc.constant(null), hostileVote) }),
    );
    await fc.assert(
      fc.asyncProperty(payload, async (p) => {
        const before = seen.out.length + seen.caught.length;
        helper.getNode('rules').receive({ payload: p });
        await until(() => seen.out.length + seen.caught.length, before + 1);
        await new Promise((r) => setTimeout(r, 2));
        assert.equal(seen.out.length + seen.caught.length, before + 1, 'exactly one outcome');
      }),
      { seed: SEED, numRuns: RUNS },
    );
    for (const m of seen.out) {
      const p = m.payload as CompoundPayload;
      if (p.fused !== null) assertCompound(p);
      else assert.equal(p.label, null);
    }
    for (const m of seen.caught) {
      assert.doesNotMatch(m.error?.message ?? '', /\n/);
      assert.match(m.error?.message ?? '', /^Error: (msg\.payload|expected fused scores)/);
    }
    assert.ok(seen.out.length > 10 && seen.caught.length > 10, `both outcomes exercised: ${seen.out.length} results, ${seen.caught.length} errors`);
  });
});

describe('properties: the IoU tracker', function () {
  const box: fc.Arbitrary<Box> = fc
    .tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 40 }))
    .map(([x, y, w, h]) => [x, y, x + w, y + h]);
  const frames = fc.array(fc.array(box, { maxLength: 5 }), { minLength: 1, maxLength: 12 });

  for (const threshold of [0.4, 0, 1, 0.75]) {
    it(`ids are unique in a frame, new ones increase, none comes back, and a kept id has IoU ≥ ${threshold}`, () => {
      fc.assert(
        fc.property(frames, (boxes) => {
          const tracker = new IouTracker({ iouThreshold: threshold });
          let previous = new Map<number, Box>();
          const ended = new Set<number>();
          let lastId = 0;
          boxes.forEach((frameBoxes, f) => {
            const detections: FaceDetection[] = frameBoxes.map((b) => ({ box: b, score: 0.9 }));
            const out = tracker.update(detections, f);
            const trackable = frameBoxes.filter((b) => b[2] > b[0] && b[3] > b[1]);
            assert.equal(out.length, trackable.length, 'every trackable box is tracked, empty ones are not');
            const ids = out.map((d) => d.track);
            assert.equal(new Set(ids).size, ids.length, 'ids unique within a frame');
            const current = new Map<number, Box>();
            for (const d of out) {
              const before = previous.get(d.track);
              if (before !== undefined) {
                assert.ok(iou(before, d.box) >= threshold, `track ${d.track} kept with IoU ${iou(before, d.box)} < ${threshold}`);
              } else {
                assert.ok(!ended.has(d.track), `id ${d.track} reused`);
                assert.equal(d.track, lastId + 1, 'a new id is the next one');
                lastId = d.track;
              }
              current.set(d.track, d.box);
            }
            for (const id of previous.keys()) if (!current.has(id)) ended.add(id);
            // One track and one box alone: kept exactly when their IoU reaches the threshold.
            if (previous.size === 1 && trackable.length === 1) {
              const [[id, b]] = [...previous];
              assert.equal(out[0].track === id, iou(b, trackable[0]) >= threshold);
            }
            previous = current;
          });
          assert.equal(tracker.lastTrackId, lastId);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    });
  }
});
