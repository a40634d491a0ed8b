import { strict as assert } from 'node:assert';
import { IouTracker, boxArea, iou } from '../../src/vision/tracker';
import { parseTargetPolicy, selectTargets } from '../../src/vision/target';
import type { Box, FaceDetection, TrackedFace } from '../../src/vision/types';

const det = (box: Box, score = 0.9): FaceDetection => ({ box, score });
const dets = (...boxes: Box[]): FaceDetection[] => boxes.map((b) => det(b));
const ids = (faces: readonly TrackedFace[]): number[] => faces.map((f) => f.track);
/** A box spanning x0..x1 with y 0..10, so IoU reduces to 1-D overlap / 1-D union. */
const bar = (x0: number, x1: number): Box => [x0, 0, x1, 10];

describe('vision/tracker', () => {
  describe('iou', () => {
    it('computes overlap over union', () => {
      // [0,0,10,10] vs [5,5,15,15]: intersection 5×5 = 25, union 100 + 100 − 25 = 175.
      assert.equal(iou([0, 0, 10, 10], [5, 5, 15, 15]), 25 / 175);
      assert.equal(iou([0, 0, 10, 10], [0, 0, 10, 10]), 1);
      // Touching edges (x2 exclusive) do not overlap.
      assert.equal(iou([0, 0, 10, 10], [10, 0, 20, 10]), 0);
      assert.equal(iou([0, 0, 0, 0], [0, 0, 0, 0]), 0);
      assert.equal(boxArea([2, 3, 6, 8]), 20);
    });
  });

  describe('IouTracker', () => {
    it('keeps the ids of two faces moving across each other, whatever the detection order', () => {
      const t = new IouTracker();
      // 20×20 faces; L moves right by 5 px per frame, R (5 px lower) moves left by 5 px.
      // Frame 0: L = [40,0,60,20], R = [60,5,80,25] → new ids 1, 2 in detection order.
      assert.deepEqual(ids(t.update(dets([40, 0, 60, 20], [60, 5, 80, 25]))), [1, 2]);
      // Frame 1: L = [45,0,65,20], R = [55,5,75,25], listed R first.
      //   IoU(L1,L0) = 15·20 / (400+400−300) = 300/500 = 0.6; IoU(R1,R0) = 0.6 likewise.
      //   IoU(R1,L0): x 55..60 = 5, y 5..20 = 15 → 75 / 725 ≈ 0.103; IoU(L1,R0) ≈ 0.103 too.
      assert.deepEqual(ids(t.update(dets([55, 5, 75, 25], [45, 0, 65, 20]))), [2, 1]);
      // Frame 2: L = [50,0,70,20], R = [50,5,70,25] — the boxes now overlap heavily.
      //   IoU(L2,L1) = 0.6, IoU(R2,R1) = 0.6; IoU(L2,R1) = IoU(R2,L1) = 15·15 / (800−225) ≈ 0.391.
      assert.deepEqual(ids(t.update(dets([50, 0, 70, 20], [50, 5, 70, 25]))), [1, 2]);
      // Frame 3: L = [55,0,75,20], R = [45,5,65,25]: they have passed each other.
      //   IoU(L3,L2) = IoU(R3,R2) = 0.6; the cross pairs ≈ 0.391 (x 55..70, y 5..20 again).
      assert.deepEqual(ids(t.update(dets([45, 5, 65, 25], [55, 0, 75, 20]))), [2, 1]);
      assert.equal(t.lastTrackId, 2);
    });

    it('drops a track missed for one frame: the face comes back with a new id', () => {
      const t = new IouTracker();
      const a: Box = [0, 0, 10, 10];
      const b: Box = [100, 0, 110, 10];
      assert.deepEqual(ids(t.update(dets(a, b))), [1, 2]);
      assert.deepEqual(ids(t.update([])), []); // no face: every track ends
      assert.deepEqual(t.tracks(), []);
      assert.deepEqual(ids(t.update(dets(a))), [3]); // ids are never reused
      // Only b this frame: track 3 (a) ends, b starts track 4; then a is back as 5.
      assert.deepEqual(ids(t.update(dets(b))), [4]);
      assert.deepEqual(ids(t.update(dets(b, a))), [4, 5]);
    });

    it('matches at IoU exactly equal to the threshold (inclusive) and not just below', () => {
      // [0,0,10,10] vs [0,0,4,10]: intersection 40, union 100 + 40 − 40 = 100 → IoU 0.4 exactly.
      assert.equal(iou([0, 0, 10, 10], [0, 0, 4, 10]), 0.4);
      const t = new IouTracker();
      t.update(dets([0, 0, 10, 10]));
      assert.deepEqual(ids(t.update(dets([0, 0, 4, 10]))), [1]);
      // The tracklet now holds [0,0,4,10]; [0,0,10,10] vs it is 0.4 again → still track 1.
      assert.deepEqual(ids(t.update(dets([0, 0, 10, 10]))), [1]);
      // [0,0,3.9,10]: intersection 39, union 100 → 0.39 < 0.4 → new track.
      assert.deepEqual(ids(t.update(dets([0, 0, 3.9, 10]))), [2]);

      // With a threshold of 0.5 the exact-0.4 pair does not match.
      const strict = new IouTracker({ iouThreshold: 0.5 });
      strict.update(dets([0, 0, 10, 10]));
      assert.deepEqual(ids(strict.update(dets([0, 0, 4, 10]))), [2]);
    });

    it('takes the globally optimal pairing where a greedy best-first one would lose a track', () => {
      const t = new IouTracker();
      // Frame 0: T1 = x 0..10, T2 = x 3..13 (height 10 each) → ids 1, 2.
      assert.deepEqual(ids(t.update(dets(bar(0, 10), bar(3, 13)))), [1, 2]);
      // Frame 1: D1 = x 1..11, D2 = x −4..6.
      //   IoU(D1,T1) = 9/11  ≈ 0.818   IoU(D1,T2) = 8/12 ≈ 0.667
      //   IoU(D2,T1) = 6/14  ≈ 0.429   IoU(D2,T2) = 3/17 ≈ 0.176 (< 0.4)
      // Greedy takes D1–T1 (0.818) first, leaving D2–T2 below the threshold: D2 would start
      // track 3 and T2 would end. Optimal: D1–T2 + D2–T1 (0.667 + 0.429 = 1.095 > 0.818).
      assert.deepEqual(ids(t.update(dets(bar(1, 11), bar(-4, 6)))), [2, 1]);
      assert.equal(t.lastTrackId, 2);
    });

    it('maximises the number of matches before the summed IoU (the reference objective)', () => {
      const t = new IouTracker();
      // Frame 0: T1 = x 0..20, T2 = x 7..27 → ids 1, 2.
      t.update(dets(bar(0, 20), bar(7, 27)));
      // Frame 1: D1 = x 0..19, D2 = x −7..13.
      //   IoU(D1,T1) = 19/20 = 0.95    IoU(D1,T2) = 12/27 ≈ 0.444
      //   IoU(D2,T1) = 13/27 ≈ 0.481   IoU(D2,T2) = 6/34 ≈ 0.176 (< 0.4)
      // Max summed IoU alone would keep only D1–T1 (0.95 > 0.444 + 0.481 = 0.926) and end T2;
      // two matches beat one, so D1 continues T2 and D2 continues T1.
      assert.deepEqual(ids(t.update(dets(bar(0, 19), bar(-7, 13)))), [2, 1]);
    });

    it('keeps the bookkeeping the target policy needs', () => {
      const t = new IouTracker();
      t.update(dets([0, 0, 10, 10])); // frame 0: track 1
      t.update(dets([1, 0, 11, 10], [50, 50, 70, 80])); // frame 1: track 1 again (IoU 90/110), track 2
      t.update(dets([2, 0, 12, 10], [50, 50, 70, 80]), 7); // explicit frame index 7
      assert.deepEqual(t.info(1), { id: 1, firstFrame: 0, lastFrame: 7, framesSeen: 3, box: [2, 0, 12, 10], area: 100 });
      assert.deepEqual(t.info(2), { id: 2, firstFrame: 1, lastFrame: 7, framesSeen: 2, box: [50, 50, 70, 80], area: 600 });
      const faces = t.update(dets([50, 50, 70, 80])); // frame 8: track 1 ends
      assert.deepEqual(faces, [{ box: [50, 50, 70, 80], score: 0.9, track: 2 }]);
      assert.equal(t.info(1), undefined);
      assert.equal(t.info(2)?.lastFrame, 8);
      t.reset();
      assert.deepEqual(ids(t.update(dets([0, 0, 5, 5]))), [1]);
    });

    it('maxMissedFrames (not the reference\'s): a track lives through a gap that long, then ends', () => {
      assert.equal(new IouTracker().maxMissedFrames, 0, 'the reference: a miss ends a track');
      const t = new IouTracker({ maxMissedFrames: 2 });
      assert.deepEqual(ids(t.update(dets(bar(0, 10)), 0)), [1]);
      assert.deepEqual(ids(t.update([], 1)), []);
      assert.deepEqual(t.tracks().map((x) => x.id), [1], 'in its gap, still live');
      assert.deepEqual(ids(t.update([], 2)), []);
      assert.deepEqual(ids(t.update(dets(bar(1, 11)), 3)), [1], 'two frames missed: the same track');
      assert.deepEqual({ first: t.info(1)?.firstFrame, last: t.info(1)?.lastFrame, seen: t.info(1)?.framesSeen }, { first: 0, last: 3, seen: 2 });
      for (const f of [4, 5, 6]) t.update([], f);
      assert.equal(t.info(1), undefined, 'three frames missed: ended');
      assert.deepEqual(ids(t.update(dets(bar(1, 11)), 7)), [2]);
      assert.throws(() => new IouTracker({ maxMissedFrames: 1.5 }), /maxMissedFrames/);
    });

    it('leaves out empty boxes and boxes below the minimum face size', () => {
      const t = new IouTracker({ minFaceSize: 5 });
      // Areas: 0 (empty), 16 (< 5² = 25), 25 → only the last one is tracked.
      const faces = t.update(dets([0, 0, 0, 10], [20, 20, 24, 24], [40, 40, 45, 45]));
      assert.deepEqual(faces, [{ box: [40, 40, 45, 45], score: 0.9, track: 1 }]);
    });
  });
});

describe('vision/target', () => {
  const face = (track: number, box: Box): TrackedFace => ({ box, score: 0.9, track });

  it('largest: the largest box of the frame, ties to the older track', () => {
    const faces = [face(3, [0, 0, 10, 10]), face(1, [0, 0, 20, 5]), face(2, [0, 0, 5, 30])];
    // Areas 100, 100, 150.
    assert.deepEqual(selectTargets(faces, 'largest'), [faces[2]]);
    assert.deepEqual(selectTargets(faces.slice(0, 2)), [faces[1]]); // 100 vs 100 → track 1
    assert.deepEqual(selectTargets([], 'largest'), []);
  });

  it('longest-seen: the track seen in the most frames, ties to the larger box', () => {
    const t = new IouTracker();
    t.update(dets([0, 0, 10, 10])); // track 1
    t.update(dets([0, 0, 10, 10], [100, 0, 130, 30])); // track 2 (area 900)
    let faces = t.update(dets([0, 0, 10, 10], [100, 0, 130, 30], [200, 0, 240, 40])); // track 3 (1600)
    // Seen: track 1 in 3 frames, track 2 in 2, track 3 in 1 → track 1 although it is smallest.
    assert.deepEqual(ids(selectTargets(faces, 'longest-seen', t)), [1]);
    assert.deepEqual(ids(selectTargets(faces, 'largest', t)), [3]);
    // A tie in frames seen: two tracks that start together.
    const u = new IouTracker();
    u.update(dets([0, 0, 10, 10], [100, 0, 120, 20])); // tracks 1 (100), 2 (400)
    faces = u.update(dets([0, 0, 10, 10], [100, 0, 120, 20]));
    assert.deepEqual(ids(selectTargets(faces, 'longest-seen', u)), [2]); // 2 frames each → larger box
    assert.throws(() => selectTargets(faces, 'longest-seen'), /needs the tracker/);
  });

  it('all: every face, in order; policies parse by name', () => {
    const faces = [face(1, [0, 0, 1, 1]), face(2, [0, 0, 2, 2])];
    assert.deepEqual(selectTargets(faces, 'all'), faces);
    assert.equal(parseTargetPolicy(' Longest-Seen '), 'longest-seen');
    assert.throws(() => parseTargetPolicy('central'), /unknown target policy/);
  });
});
