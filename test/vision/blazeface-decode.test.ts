/** BlazeFace anchors, decoding and weighted NMS (src/vision/blazeface-decode.ts) on known numbers. */
import * as assert from 'node:assert/strict';
import {
  anchorGrids,
  decodeCandidates,
  iou,
  ssdAnchors,
  weightedNms,
  type RawDetection,
} from '../../src/vision/blazeface-decode';

const FRONT = { inputSize: 128, strides: [8, 16, 16, 16], anchorsPerLayer: 2, offset: 0.5 };
const BACK = { inputSize: 256, strides: [16, 32, 32, 32], anchorsPerLayer: 2, offset: 0.5 };

function det(box: [number, number, number, number], score: number, kp: number[] = [0, 0]): RawDetection {
  return { box, score, keypoints: Float64Array.from(kp) };
}

describe('vision/blazeface-decode', () => {
  it('builds the 896 MediaPipe SSD anchors of both variants in output order', () => {
    for (const spec of [FRONT, BACK]) {
      const grids = anchorGrids(spec);
      assert.deepEqual(grids.map((g) => [g.cells, g.perCell, g.count]), [[16, 2, 512], [8, 6, 384]]);
      const a = ssdAnchors(spec);
      assert.equal(a.length, 896 * 2);
      // First grid: cell (0, 0) twice, then cell (1, 0).
      assert.deepEqual(Array.from(a.subarray(0, 6)), [1 / 32, 1 / 32, 1 / 32, 1 / 32, 3 / 32, 1 / 32]);
      // Last anchor of the first grid: cell (15, 15).
      assert.deepEqual(Array.from(a.subarray(2 * 511, 2 * 512)), [31 / 32, 31 / 32]);
      // Second grid: six anchors per cell at (0.5 / 8, 0.5 / 8), then the next cell.
      assert.deepEqual(Array.from(a.subarray(2 * 512, 2 * 512 + 2)), [1 / 16, 1 / 16]);
      assert.deepEqual(Array.from(a.subarray(2 * 517, 2 * 519)), [1 / 16, 1 / 16, 3 / 16, 1 / 16]);
    }
  });

  it('decodes boxes and keypoints relative to their anchor, scaled by the input size', () => {
    const anchors = ssdAnchors(FRONT);
    const scores = new Float32Array(512).fill(-10);
    const boxes = new Float32Array(512 * 16);
    const coarseScores = new Float32Array(384).fill(-10);
    const coarseBoxes = new Float32Array(384 * 16);
    // Anchor 3 is cell (1, 0) of the stride-8 grid: centre (3/32, 1/32) = (12, 4) px.
    scores[3] = 2;
    boxes.set([4, -2, 32, 16, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6], 3 * 16);
    // Anchor 512 + 6 is cell (1, 0) of the stride-16 grid: centre (24, 8) px.
    coarseScores[6] = 200; // clipped to 100
    coarseBoxes.set([0, 0, 64, 64], 6 * 16);
    const out = decodeCandidates(
      [{ scores, boxes }, { scores: coarseScores, boxes: coarseBoxes }],
      anchors,
      { boxScale: 128, scoreClip: 100, scoreThreshold: 0.5, keypointCount: 6 },
    );
    assert.equal(out.length, 2);
    const [a, b] = out;
    assert.ok(Math.abs(a.score - 1 / (1 + Math.exp(-2))) < 1e-12);
    const px = a.box.map((v) => v * 128);
    // Centre (12 + 4, 4 - 2) = (16, 2), size 32 x 16.
    [0, -6, 32, 10].forEach((v, i) => assert.ok(Math.abs(px[i] - v) < 1e-4, `${px[i]} vs ${v}`));
    assert.ok(Math.abs(a.keypoints[0] * 128 - 13) < 1e-4 && Math.abs(a.keypoints[11] * 128 - 10) < 1e-4);
    assert.equal(b.score, 1 / (1 + Math.exp(-100)));
    [-8, -24, 56, 40].forEach((v, i) => assert.ok(Math.abs(b.box[i] * 128 - v) < 1e-4));
    assert.throws(() => decodeCandidates([{ scores, boxes }], anchors, { boxScale: 128, scoreClip: 100, scoreThreshold: 0.5, keypointCount: 6 }), /512 scores for 896 anchors/);
  });

  it('builds the full-range grid (one stride-4 layer, 48x48 x 1 = 2304 anchors) and decodes packed [score, regressors] rows', () => {
    const FULL = { inputSize: 192, strides: [4], anchorsPerLayer: 1, offset: 0.5 };
    assert.deepEqual(anchorGrids(FULL).map((g) => [g.cells, g.perCell, g.count]), [[48, 1, 2304]]);
    const anchors = ssdAnchors(FULL);
    assert.equal(anchors.length, 2304 * 2);
    assert.deepEqual(Array.from(anchors.subarray(0, 4)), Array.from(Float32Array.from([0.5 / 48, 0.5 / 48, 1.5 / 48, 0.5 / 48])));
    assert.deepEqual(Array.from(anchors.subarray(2 * 2303)), Array.from(Float32Array.from([47.5 / 48, 47.5 / 48])));
    // The same detections from separate score/regressor tensors and from one packed tensor.
    const scores = new Float32Array(2304).fill(-10);
    const boxes = new Float32Array(2304 * 16);
    scores[50] = 3; // cell (2, 1): centre (10, 6) px
    boxes.set([2, -1, 40, 30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], 50 * 16);
    scores[2303] = 1;
    boxes.set([-4, -4, 8, 8], 2303 * 16);
    const packed = new Float32Array(2304 * 17);
    for (let i = 0; i < 2304; i++) {
      packed[17 * i] = scores[i];
      packed.set(boxes.subarray(16 * i, 16 * i + 16), 17 * i + 1);
    }
    const settings = { boxScale: 192, scoreClip: 100, scoreThreshold: 0.5, keypointCount: 6 };
    const separate = decodeCandidates([{ scores, boxes }], anchors, settings);
    const fromPacked = decodeCandidates([{ scores: packed, boxes: packed, scoreStride: 17, boxStride: 17, boxOffset: 1 }], anchors, settings);
    assert.equal(separate.length, 2);
    assert.deepEqual(fromPacked, separate);
    // Centre (10 + 2, 6 - 1) px, size 40 x 30, of 192.
    [-8, -10, 32, 20].forEach((v, i) => assert.ok(Math.abs(separate[0].box[i] * 192 - v) < 1e-4, `${separate[0].box[i] * 192} vs ${v}`));
    assert.ok(Math.abs(separate[0].keypoints[0] * 192 - 11) < 1e-4);
    assert.throws(() => decodeCandidates([{ scores: packed, boxes: packed, scoreStride: 17, boxStride: 16, boxOffset: 1 }], anchors, settings), /regressors for 2304 anchors/);
  });

  it('merges overlapping candidates by score-weighted mean, keeping the best score (weighted NMS)', () => {
    const merged = weightedNms([
      det([0.1, 0.1, 0.3, 0.3], 0.6, [0.2, 0.2]),
      det([0.12, 0.1, 0.32, 0.3], 0.9, [0.3, 0.2]),
      det([0.6, 0.6, 0.8, 0.8], 0.7, [0.7, 0.7]),
      det([0.2, 0.2, 0.4, 0.4], 0.55, [0.5, 0.5]), // IoU with the best 0.09..: kept apart
    ], 0.3);
    assert.equal(merged.length, 3);
    assert.deepEqual(merged.map((d) => d.score), [0.9, 0.7, 0.55]);
    const x1 = (0.12 * 0.9 + 0.1 * 0.6) / 1.5;
    assert.ok(Math.abs(merged[0].box[0] - x1) < 1e-12);
    assert.ok(Math.abs(merged[0].keypoints[0] - (0.3 * 0.9 + 0.2 * 0.6) / 1.5) < 1e-12);
    [0.6, 0.6, 0.8, 0.8].forEach((v, i) => assert.ok(Math.abs(merged[1].box[i] - v) < 1e-12));
    assert.equal(weightedNms(merged, 0.3, 1).length, 1);
    assert.ok(Math.abs(iou([0, 0, 2, 2], [1, 1, 3, 3]) - 1 / 7) < 1e-12);
    assert.equal(iou([0, 0, 1, 1], [2, 2, 3, 3]), 0);
  });
});
