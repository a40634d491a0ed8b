/**
 * The steady target (TargetSelector) frame by frame, on tracks from the IoU tracker as FaceStage
 * runs them. The same rules on real faces in real video: test/pipeline/target-video.test.ts.
 */
import { strict as assert } from 'node:assert';
import { parseMinTargetScore, secondsToFrames, TargetSelector, type TargetSelectorOptions } from '../../src/vision/target';
import { IouTracker } from '../../src/vision/tracker';
import type { Box, FaceDetection } from '../../src/vision/types';
import { DEFAULT_MIN_TARGET_SCORE, DEFAULT_TRACK_GAP_SECONDS } from '../../src/defaults';

const FPS = 30;
/** A square face of side `size` whose left edge is at x (people stand apart: no overlap). */
const sq = (x: number, size: number, score = 0.9): FaceDetection => ({ box: [x, 0, x + size, size] as Box, score });

/** The target's track per frame (null: no target face), with the tracker FaceStage gives the steady target. */
function targets(frames: ReadonlyArray<readonly FaceDetection[]>, options: Partial<TargetSelectorOptions> = {}): Array<number | null> {
  const fps = options.fps ?? FPS;
  const tracker = new IouTracker({ maxMissedFrames: secondsToFrames(DEFAULT_TRACK_GAP_SECONDS, fps, 0) });
  const selector = new TargetSelector({ policy: 'largest', fps, ...options });
  return frames.map((dets, i) => {
    const chosen = selector.select(tracker.update(dets, i), tracker);
    assert.ok(chosen.length <= 1);
    return chosen[0]?.track ?? null;
  });
}

/** Frames 0..n-1 made by `at`. */
const frames = (n: number, at: (i: number) => FaceDetection[]): FaceDetection[][] => Array.from({ length: n }, (_, i) => at(i));

/** The frames at which the target changes from one track to another (frames without one skipped). */
function switches(seq: ReadonlyArray<number | null>): number[] {
  const at: number[] = [];
  let last: number | null = null;
  seq.forEach((t, i) => {
    if (t === null) return;
    if (last !== null && t !== last) at.push(i);
    last = t;
  });
  return at;
}

describe('vision/target: the steady target (TargetSelector)', () => {
  it('defaults: 0.6 minimum score, 0.1 s to become a candidate, 0.5 s to take over, 1.2× the area, 0.2 s gaps', () => {
    const s = new TargetSelector({ policy: 'largest', fps: 30 });
    assert.deepEqual([s.minScore, s.candidateFrames, s.switchFrames, s.switchAreaRatio], [DEFAULT_MIN_TARGET_SCORE, 3, 15, 1.2]);
    assert.equal(DEFAULT_MIN_TARGET_SCORE, 0.6);
    // The times in frames at other rates: 25 fps (12.5 → 13), 29.97, 10.
    const at = (fps: number): number[] => {
      const x = new TargetSelector({ policy: 'largest', fps });
      return [x.candidateFrames, x.switchFrames, secondsToFrames(DEFAULT_TRACK_GAP_SECONDS, fps, 0)];
    };
    assert.deepEqual(at(25), [3, 13, 5]);
    assert.deepEqual(at(30000 / 1001), [3, 15, 6]);
    assert.deepEqual(at(10), [1, 5, 2]);
    assert.throws(() => new TargetSelector({ policy: 'all' as 'largest', fps: 30 }), /largest or longest-seen/);
    assert.throws(() => new TargetSelector({ policy: 'largest', fps: 0 }), /fps/);
    assert.throws(() => new TargetSelector({ policy: 'largest', fps: 30, minScore: 1.5 }), /minScore/);
  });

  it('a single confident face is the target from its first frame; a face below the minimum never is', () => {
    assert.deepEqual(targets(frames(5, () => [sq(0, 100)])), [1, 1, 1, 1, 1]);
    assert.deepEqual(targets(frames(5, () => [sq(0, 100, 0.55)])), [null, null, null, null, null]);
    assert.deepEqual(targets(frames(3, () => [sq(0, 100, 0.55)]), { minScore: 0.5 }), [1, 1, 1], 'the minimum is a setting');
    // A still image is one frame: the largest confident face of it.
    assert.deepEqual(targets([[sq(0, 80), sq(200, 120), sq(400, 200, 0.55)]]), [2]);
  });

  it('largest: another face takes over only after being clearly larger for the switch time', () => {
    // A: 100 px. B: 90 px, then from frame 30 on 120 px (1.44× the area).
    const seq = targets(frames(90, (i) => [sq(0, 100), sq(300, i < 30 ? 90 : 120)]));
    assert.deepEqual(switches(seq), [44], 'B larger from frame 30: its 15th frame so is frame 44');
    assert.ok(seq.slice(0, 44).every((t) => t === 1) && seq.slice(44).every((t) => t === 2));
  });

  it('largest: a face larger for less than the switch time, or by less than the margin, or by turns, does not take over', () => {
    // Larger (1.44×) for 14 frames only.
    assert.deepEqual(switches(targets(frames(90, (i) => [sq(0, 100), sq(300, i >= 30 && i < 44 ? 120 : 90)]))), []);
    // Larger by 1.19× the area for the whole clip.
    assert.deepEqual(switches(targets(frames(90, (i) => [sq(0, 100), sq(300, i < 10 ? 90 : 109)]))), []);
    // Jitter: larger and smaller frame by frame (a per-frame choice would switch 59 times).
    assert.deepEqual(switches(targets(frames(60, (i) => [sq(0, 100), sq(300, i % 2 === 0 ? 130 : 80)]))), []);
  });

  it('a low-score detection never becomes the target, even the largest and the only one left', () => {
    // The "back of a head": 0.52, twice A's size, throughout; A leaves at frame 40.
    const seq = targets(frames(80, (i) => [...(i < 40 ? [sq(0, 100)] : []), sq(300, 200, 0.52)]));
    assert.ok(seq.slice(0, 40).every((t) => t === 1));
    assert.ok(seq.slice(40).every((t) => t === null), 'no target rather than the blob');
  });

  it("the target's own weak frames and short gaps keep it; no one takes over meanwhile", () => {
    // A (the larger) dips to 0.4 on frames 10–14 and is not detected on frames 20–22; B is always there.
    const seq = targets(
      frames(40, (i) => [...(i >= 20 && i <= 22 ? [] : [sq(0, 100, i >= 10 && i <= 14 ? 0.4 : 0.9)]), sq(300, 90)]),
    );
    assert.deepEqual(seq.slice(8, 16), [1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(seq.slice(19, 24), [1, null, null, null, 1], 'no face in the gap, then the same track');
    assert.deepEqual(switches(seq), []);
  });

  it("when the target's track ends, the best candidate takes over at once", () => {
    // A (100) and B (90) from frame 0, C (95) from frame 20; A gone from frame 30 (its track ends
    // after the 6-frame gap, at frame 36): B and C are both candidates, C the larger.
    const seq = targets(frames(50, (i) => [...(i < 30 ? [sq(0, 100)] : []), sq(300, 90), ...(i >= 20 ? [sq(600, 95)] : [])]));
    assert.deepEqual(seq.slice(28, 38), [1, 1, null, null, null, null, null, null, 3, 3]);
    assert.deepEqual(switches(seq), [36]);
  });

  it('with no candidate, the best confident face is taken at once; with none, no target', () => {
    // A leaves at frame 10; B arrives at frame 16, exactly when A's track ends: B is not a candidate yet.
    const seq = targets(frames(20, (i) => [...(i < 10 ? [sq(0, 100)] : []), ...(i >= 16 ? [sq(300, 90)] : [])]));
    assert.deepEqual(seq.slice(9, 18), [1, null, null, null, null, null, null, 2, 2]);
    // Two faces from frame 0: the larger at once.
    assert.deepEqual(targets(frames(3, () => [sq(0, 90), sq(300, 100)])), [2, 2, 2]);
  });

  it('a cut (the target missing, every face of the frame new): the new shot\'s best face at once, as the reference', () => {
    // One face, then a cut to another face elsewhere: no gap to wait out.
    assert.deepEqual(targets(frames(14, (i) => [i < 10 ? sq(0, 100) : sq(500, 150)])).slice(8, 12), [1, 1, 2, 2]);
    // Two faces, then a new shot of two others: the larger of them at once.
    const seq = targets(frames(14, (i) => (i < 10 ? [sq(0, 100), sq(300, 90)] : [sq(600, 80), sq(900, 120)])));
    assert.deepEqual(seq.slice(8, 12), [1, 1, 4, 4]);
    // Not a cut: the target missing while the other face is an old track (a dropped detection).
    assert.deepEqual(targets(frames(14, (i) => [...(i === 10 ? [] : [sq(0, 100)]), sq(300, 90)])).slice(8, 12), [1, 1, null, 1]);
  });

  it('longest-seen: the track first seen earliest stays; a larger newcomer takes over only when it ends', () => {
    const seq = targets(
      frames(80, (i) => [...(i < 50 ? [sq(0, 80)] : []), ...(i >= 10 ? [sq(300, 150)] : [])]),
      { policy: 'longest-seen' },
    );
    assert.ok(seq.slice(0, 50).every((t) => t === 1));
    assert.deepEqual(switches(seq), [56], 'A ends after its 6-frame gap (frames 50–55)');
    // A gap does not make a track "shorter": A, missing on frame 5, stays ahead of B (same first frame).
    const gap = targets(frames(40, (i) => [...(i === 5 ? [] : [sq(0, 100)]), sq(300, 90)]), { policy: 'longest-seen' });
    assert.deepEqual(switches(gap), []);
  });

  it('does not depend on the order the detector lists the faces in', () => {
    const at = (i: number): FaceDetection[] => [sq(0, 100), sq(300, i < 20 ? 90 : 130), sq(600, 140, 0.5)];
    const forward = targets(frames(60, at));
    const backward = targets(frames(60, (i) => at(i).reverse()));
    // Track ids follow the order too; compare by which face (its left edge).
    const byFace = (seq: Array<number | null>, order: 'f' | 'b'): number[] =>
      seq.map((t) => (t === null ? -1 : order === 'f' ? [0, 300, 600][t - 1] : [600, 300, 0][t - 1]) as number);
    assert.deepEqual(byFace(backward, 'b'), byFace(forward, 'f'));
    assert.deepEqual(switches(forward), [34]);
  });

  it('the minimum score parses from a setting: a number from 0 to 1, else a one-line error', () => {
    assert.equal(parseMinTargetScore('0.5'), 0.5);
    assert.equal(parseMinTargetScore(' 1 '), 1);
    assert.equal(parseMinTargetScore(0), 0);
    for (const bad of ['', 'high', '1.2', '-0.1', 'NaN', '0.5x']) assert.throws(() => parseMinTargetScore(bad), /expected a score from 0 to 1, got/, bad);
  });
});
