import { strict as assert } from 'node:assert';
import { LabelRemap, REFERENCE_VISUAL_ORDER } from '../../src/core/emotions';
import { SequenceModelVD, TemporalSmoothingVD, VDTrackBank, vdStep, type VDFrame, type VDStage } from '../../src/stages/vd';

const TOL = 1e-6; // the fake model's logits pass through Float32Array

function assertClose(actual: Float64Array | null, expected: readonly number[] | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected null`);
    return;
  }
  assert.ok(actual !== null, `${what}: expected a vector, got null`);
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= TOL, `${what}: [${i}] is ${actual[i]}, expected ${expected[i]}`);
  }
}

/** Feature vector of frame i (dim 2): [i + 1, 100 + i]. */
const feat = (i: number): Float32Array => Float32Array.from([i + 1, 100 + i]);
/** `n` copies of a dim-2 vector followed by more vectors, flattened oldest first. */
const windowOf = (...parts: Array<[number, readonly [number, number]]>): number[] =>
  parts.flatMap(([n, v]) => Array.from({ length: n }, () => [v[0], v[1]]).flat());

/**
 * Fake sequence model. Call n (1-based) returns logits in the reference's visual order
 * (Ne, Ha, Sa, Su, Fe, Di, An) with Happiness (position 1) = ln(n + 1) and 0 elsewhere, so after
 * remapping + softmax: Happiness (canonical index 4) = (n+1)/(n+7), every other class 1/(n+7).
 */
function fakeModel(): { calls: Float32Array[]; run: (w: Float32Array, dim: number) => Promise<Float32Array> } {
  const calls: Float32Array[] = [];
  return {
    calls,
    run: (w, dim) => {
      assert.equal(dim, 2);
      calls.push(w);
      const logits = new Float32Array(7);
      logits[1] = Math.log(calls.length + 1);
      return Promise.resolve(logits);
    },
  };
}
// Canonical order Ne, An, Di, Fe, Ha, Sa, Su.
const P1 = [0.125, 0.125, 0.125, 0.125, 0.25, 0.125, 0.125]; // 1/8 ×6, 2/8
const P2 = [1 / 9, 1 / 9, 1 / 9, 1 / 9, 3 / 9, 1 / 9, 1 / 9];
const P3 = [0.1, 0.1, 0.1, 0.1, 0.4, 0.1, 0.1]; // 1/10 ×6, 4/10
const P4 = [1 / 11, 1 / 11, 1 / 11, 1 / 11, 5 / 11, 1 / 11, 1 / 11];
const UNIFORM = [1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7, 1 / 7];

const remap = new LabelRemap(REFERENCE_VISUAL_ORDER, 'logits');
function sequenceVD(referenceCompat: boolean) {
  const model = fakeModel();
  const vd = new SequenceModelVD({ runSequence: model.run, dim: 2, remap, referenceCompat });
  return { model, vd };
}

/** Feeds frames first..last; `faceAt(i)` says whether frame i has a face. */
async function feed(vd: VDStage, fps: number, first: number, last: number, faceAt: (i: number) => boolean = () => true) {
  const out: Array<Float64Array | null> = [];
  for (let i = first; i <= last; i++) {
    const face = faceAt(i);
    const frame: VDFrame = face ? { index: i, fps, face, features: feat(i) } : { index: i, fps, face };
    out[i] = await vd.update(frame);
  }
  return out;
}

describe('stages/vd', () => {
  describe('vdStep', () => {
    it('is round(5·fps/25), fps truncated first in referenceCompat', () => {
      assert.equal(vdStep(25), 5); // 125/25 = 5
      assert.equal(vdStep(30), 6); // 150/25 = 6
      assert.equal(vdStep(29.97), 6); // 5.994 → 6
      assert.equal(vdStep(30000 / 1001), 6);
      assert.equal(vdStep(29.97, true), 6); // int 29 → 5.8 → 6
      assert.equal(vdStep(27.5), 6); // 5.5 → 6
      assert.equal(vdStep(27.5, true), 5); // int 27 → 5.4 → 5
      assert.equal(vdStep(24), 5); // 4.8 → 5
      assert.equal(vdStep(60), 12);
      assert.equal(vdStep(2), 1); // 0.4 → 0, kept at least 1
      assert.throws(() => vdStep(0), /fps/);
    });
  });

  describe('SequenceModelVD', () => {
    for (const referenceCompat of [false, true]) {
      it(`fills with 10 copies, pushes on index % step == 0 only, holds between (compat ${referenceCompat})`, async () => {
        const { model, vd } = sequenceVD(referenceCompat);
        assert.equal(vd.id, 'sequence-model');
        const out = await feed(vd, 25, 0, 11); // step 5: updates at 0, 5, 10
        assert.equal(model.calls.length, 3);
        // f0 = [1,100], f5 = [6,105], f10 = [11,110]
        assert.deepEqual(Array.from(model.calls[0]), windowOf([10, [1, 100]]));
        assert.deepEqual(Array.from(model.calls[1]), windowOf([9, [1, 100]], [1, [6, 105]]));
        assert.deepEqual(Array.from(model.calls[2]), windowOf([8, [1, 100]], [1, [6, 105]], [1, [11, 110]]));
        for (let i = 0; i <= 4; i++) assertClose(out[i], P1, `frame ${i}`);
        for (let i = 5; i <= 9; i++) assertClose(out[i], P2, `frame ${i}`);
        for (let i = 10; i <= 11; i++) assertClose(out[i], P3, `frame ${i}`);
      });
    }

    it('slides the window: after 13 updates it holds the last 10 sampled vectors', async () => {
      const { model, vd } = sequenceVD(false);
      await feed(vd, 25, 0, 60); // updates at 0, 5, …, 60: 13 calls
      assert.equal(model.calls.length, 13);
      // Last window: frames 15, 20, …, 60 → [16,115], [21,120], …, [61,160].
      const expected = [16, 115, 21, 120, 26, 125, 31, 130, 36, 135, 41, 140, 46, 145, 51, 150, 56, 155, 61, 160];
      assert.deepEqual(Array.from(model.calls[12]), expected);
      // Earlier windows were not overwritten (each call gets its own array).
      assert.deepEqual(Array.from(model.calls[0]), windowOf([10, [1, 100]]));
      assert.equal(vd.windowSize, 10);
    });

    it('default: null before any face; a face at index 1 updates at once, then on index % 6', async () => {
      const { model, vd } = sequenceVD(false);
      const out = await feed(vd, 30, 0, 12, (i) => i >= 1); // step 6
      assert.equal(out[0], null);
      assert.equal(model.calls.length, 3); // frames 1 (eager), 6, 12
      assert.deepEqual(Array.from(model.calls[0]), windowOf([10, [2, 101]])); // f1
      assert.deepEqual(Array.from(model.calls[1]), windowOf([9, [2, 101]], [1, [7, 106]])); // + f6
      assert.deepEqual(Array.from(model.calls[2]), windowOf([8, [2, 101]], [1, [7, 106]], [1, [13, 112]])); // + f12
      for (let i = 1; i <= 5; i++) assertClose(out[i], P1, `frame ${i}`);
      for (let i = 6; i <= 11; i++) assertClose(out[i], P2, `frame ${i}`);
      assertClose(out[12], P3, 'frame 12');
    });

    it('referenceCompat: uniform 1/7 (zero logits) until the first index % step frame', async () => {
      const { model, vd } = sequenceVD(true);
      const out = await feed(vd, 30, 0, 12, (i) => i >= 1); // step 6
      assert.equal(model.calls.length, 2); // frames 6, 12 only
      assert.deepEqual(Array.from(model.calls[0]), windowOf([10, [7, 106]])); // filled from f6
      assert.deepEqual(Array.from(model.calls[1]), windowOf([9, [7, 106]], [1, [13, 112]]));
      for (let i = 0; i <= 5; i++) assertClose(out[i], UNIFORM, `frame ${i}`); // 0: no face; 1-5: face
      for (let i = 6; i <= 11; i++) assertClose(out[i], P1, `frame ${i}`);
      assertClose(out[12], P2, 'frame 12');
    });

    it('a face-less frame clears the window and repeats the held output; the window refills', async () => {
      // fps 25 (step 5); faces on 0-6 and 8-15, none on 7.
      const hasFace = (i: number) => i !== 7;

      const d = sequenceVD(false);
      const out = await feed(d.vd, 25, 0, 15, hasFace);
      // Calls: 0 (10×f0), 5 (+f5), 8 (eager refill 10×f8), 10 (+f10), 15 (+f15).
      assert.equal(d.model.calls.length, 5);
      assert.deepEqual(Array.from(d.model.calls[2]), windowOf([10, [9, 108]]));
      assert.deepEqual(Array.from(d.model.calls[3]), windowOf([9, [9, 108]], [1, [11, 110]]));
      assert.deepEqual(Array.from(d.model.calls[4]), windowOf([8, [9, 108]], [1, [11, 110]], [1, [16, 115]]));
      assertClose(out[6], P2, 'frame 6');
      assertClose(out[7], P2, 'frame 7 (no face: held)');
      for (let i = 8; i <= 9; i++) assertClose(out[i], P3, `frame ${i}`);
      for (let i = 10; i <= 14; i++) assertClose(out[i], P4, `frame ${i}`);

      const c = sequenceVD(true);
      const outC = await feed(c.vd, 25, 0, 15, hasFace);
      // Calls: 0, 5, then 10 (refill 10×f10), 15 (+f15); frames 7-9 hold the output from 5.
      assert.equal(c.model.calls.length, 4);
      assert.deepEqual(Array.from(c.model.calls[2]), windowOf([10, [11, 110]]));
      assert.deepEqual(Array.from(c.model.calls[3]), windowOf([9, [11, 110]], [1, [16, 115]]));
      for (let i = 5; i <= 9; i++) assertClose(outC[i], P2, `compat frame ${i}`);
      for (let i = 10; i <= 14; i++) assertClose(outC[i], P3, `compat frame ${i}`);
      assertClose(outC[15], P4, 'compat frame 15');
    });

    it('uses the exact rate by default and the truncated one in referenceCompat (27.5 fps)', async () => {
      const d = sequenceVD(false);
      await feed(d.vd, 27.5, 0, 12); // step 6: 0, 6, 12
      assert.deepEqual(d.model.calls.map((w) => w[w.length - 2] - 1), [0, 6, 12]); // newest vector's frame
      const c = sequenceVD(true);
      await feed(c.vd, 27.5, 0, 12); // step 5: 0, 5, 10
      assert.deepEqual(c.model.calls.map((w) => w[w.length - 2] - 1), [0, 5, 10]);
    });

    it('returns fresh arrays; reset forgets the held output; rejects bad features', async () => {
      const { vd } = sequenceVD(false);
      const a = await vd.update({ index: 0, fps: 25, face: true, features: feat(0) });
      assert.ok(a !== null);
      a.fill(0);
      assertClose(await vd.update({ index: 1, fps: 25, face: true, features: feat(1) }), P1, 'held after mutation');
      vd.reset();
      assert.equal(await vd.update({ index: 2, fps: 25, face: false }), null);
      await assert.rejects(vd.update({ index: 3, fps: 25, face: true }), /needs the static model's features/);
      await assert.rejects(vd.update({ index: 3, fps: 25, face: true, features: new Float32Array(3) }), /expects 2 features/);
    });
  });

  describe('TemporalSmoothingVD', () => {
    const a = [0.7, 0.1, 0.05, 0.05, 0.05, 0.03, 0.02];
    const b = [0.1, 0.2, 0.3, 0.1, 0.1, 0.1, 0.1];
    const c = [0, 0, 0, 0, 0, 0, 1];
    const e = [0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1];
    const junk = [0, 1, 0, 0, 0, 0, 0]; // on frames that are not sampled: must never be pushed
    const probsAt = (i: number): number[] => (i === 0 ? a : i === 5 ? b : i === 10 ? c : i >= 12 ? e : junk);
    // (9a + b)/10 = [(6.3+0.1), (0.9+0.2), (0.45+0.3), (0.45+0.1), (0.45+0.1), (0.27+0.1), (0.18+0.1)] / 10
    const M5 = [0.64, 0.11, 0.075, 0.055, 0.055, 0.037, 0.028];
    // (8a + b + c)/10 = [(5.6+0.1), (0.8+0.2), (0.4+0.3), (0.4+0.1), (0.4+0.1), (0.24+0.1), (0.16+0.1+1)] / 10
    const M10 = [0.57, 0.1, 0.07, 0.05, 0.05, 0.034, 0.126];
    // compat refill at 15 from e: mean = e.

    async function run(vd: TemporalSmoothingVD): Promise<Array<Float64Array | null>> {
      const out: Array<Float64Array | null> = [];
      for (let i = 0; i <= 16; i++) {
        out[i] = await vd.update(i === 11 ? { index: i, fps: 25, face: false } : { index: i, fps: 25, face: true, vsProbs: probsAt(i) });
      }
      return out;
    }

    it('is the mean of the window of VS probabilities sampled at 5 fps', async () => {
      const vd = new TemporalSmoothingVD();
      assert.equal(vd.id, 'temporal-smoothing');
      const out = await run(vd);
      for (let i = 0; i <= 4; i++) assertClose(out[i], a, `frame ${i}`); // 10 copies of a
      for (let i = 5; i <= 9; i++) assertClose(out[i], M5, `frame ${i}`);
      assertClose(out[10], M10, 'frame 10');
      assertClose(out[11], M10, 'frame 11 (no face: held)');
      // Default: frame 12 refills at once with 10 × e; 15 pushes e again → still e.
      for (let i = 12; i <= 16; i++) assertClose(out[i], e, `frame ${i}`);
    });

    it('referenceCompat: holds across the gap until the next sampled frame refills', async () => {
      const vd = new TemporalSmoothingVD({ referenceCompat: true });
      const out = await run(vd);
      assertClose(out[10], M10, 'frame 10');
      for (let i = 11; i <= 14; i++) assertClose(out[i], M10, `frame ${i}`);
      for (let i = 15; i <= 16; i++) assertClose(out[i], e, `frame ${i}`);
      const fresh = new TemporalSmoothingVD({ referenceCompat: true });
      assertClose(await fresh.update({ index: 0, fps: 25, face: false }), UNIFORM, 'compat before any face');
      assertClose(await fresh.update({ index: 1, fps: 25, face: true, vsProbs: a }), UNIFORM, 'compat face before first update');
      await assert.rejects(fresh.update({ index: 5, fps: 25, face: true, vsProbs: [1, 0] }), /expects 7 VS probabilities/);
    });
  });

  describe('VDTrackBank', () => {
    it('keeps one VD per track and drops a track as soon as a frame lacks it', async () => {
      const created: number[] = [];
      const bank = new VDTrackBank((track) => {
        created.push(track);
        return new TemporalSmoothingVD();
      });
      const a = [0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
      const b = [0.1, 0.4, 0.1, 0.1, 0.1, 0.1, 0.1];
      const d = [0.1, 0.1, 0.4, 0.1, 0.1, 0.1, 0.1];
      let out = await bank.update(0, 25, [
        { track: 1, vsProbs: a },
        { track: 2, vsProbs: b },
      ]);
      assertClose(out.get(1) ?? null, a, 'track 1');
      assertClose(out.get(2) ?? null, b, 'track 2');
      out = await bank.update(1, 25, [{ track: 2, vsProbs: d }]); // not sampled: track 2 holds b
      assert.deepEqual([...out.keys()], [2]);
      assertClose(out.get(2) ?? null, b, 'track 2 held');
      assert.deepEqual(bank.tracks, [2]);
      out = await bank.update(2, 25, [{ track: 3, vsProbs: d }]); // new track: eager start
      assertClose(out.get(3) ?? null, d, 'track 3');
      assert.deepEqual(bank.tracks, [3]);
      assert.deepEqual(created, [1, 2, 3]);
      await assert.rejects(bank.update(3, 25, [{ track: 3, vsProbs: d }, { track: 3, vsProbs: d }]), /more than once/);
    });
  });
});
