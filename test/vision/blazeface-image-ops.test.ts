/** Image operations (src/vision/image.ts) that BlazeFace and the expression models are fed through. */
import * as assert from 'node:assert/strict';
import type { RgbImage } from '../../src/media/types';
import {
  clipBox,
  cropImage,
  letterboxImage,
  letterboxMapping,
  mapBoxToFrame,
  mapPointToFrame,
  preprocessImage,
  resizeImage,
  toTensor,
} from '../../src/vision/image';
import { decodeImageForTest } from '../helpers/decode';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';

/** An image whose pixel (x, y) is (x, y, 7) — every pixel says where it came from. */
function coordinateImage(width: number, height: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * 3;
      data[p] = x;
      data[p + 1] = y;
      data[p + 2] = 7;
    }
  }
  return { width, height, data };
}

function pixel(image: RgbImage, x: number, y: number): number[] {
  const p = (y * image.width + x) * 3;
  return [image.data[p], image.data[p + 1], image.data[p + 2]];
}

function meanColour(image: RgbImage): number[] {
  const sum = [0, 0, 0];
  for (let i = 0; i < image.data.length; i += 3) for (let k = 0; k < 3; k++) sum[k] += image.data[i + k];
  return sum.map((s) => s / (image.width * image.height));
}

describe('vision/image', () => {
  it('crops, clipping the box to the frame and widening fractional edges', () => {
    const img = coordinateImage(16, 12);
    const c = cropImage(img, [-5, 2.5, 4.2, 100]);
    assert.equal(c.width, 5); // x 0..5 (ceil 4.2)
    assert.equal(c.height, 10); // y 2..12
    assert.deepEqual(pixel(c, 0, 0), [0, 2, 7]);
    assert.deepEqual(pixel(c, 4, 9), [4, 11, 7]);
    assert.deepEqual(clipBox([-1, -2, 20, 30], 16, 12), [0, 0, 16, 12]);
    assert.throws(() => cropImage(img, [20, 0, 30, 5]), /crop box \[20, 0, 30, 5\] lies outside the 16x12 frame/);
  });

  it('resizes nearest by pixel centres', () => {
    const img = coordinateImage(4, 2);
    const up = resizeImage(img, 8, 4, 'nearest');
    assert.deepEqual(pixel(up, 0, 0), [0, 0, 7]);
    assert.deepEqual(pixel(up, 1, 1), [0, 0, 7]);
    assert.deepEqual(pixel(up, 2, 2), [1, 1, 7]);
    assert.deepEqual(pixel(up, 7, 3), [3, 1, 7]);
    const down = resizeImage(coordinateImage(8, 8), 2, 2, 'nearest');
    assert.deepEqual(pixel(down, 0, 0), [2, 2, 7]); // centre 0.5 * 4 = 2
    assert.deepEqual(pixel(down, 1, 1), [6, 6, 7]);
  });

  it('resizes bilinear as OpenCV INTER_LINEAR does (half-pixel centres, edges repeated)', () => {
    const row: RgbImage = { width: 2, height: 1, data: Uint8Array.from([0, 0, 0, 100, 200, 40]) };
    const up = resizeImage(row, 4, 1, 'bilinear');
    // Source x = (x + 0.5) / 2 - 0.5 = -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    assert.deepEqual(Array.from(up.data), [0, 0, 0, 25, 50, 10, 75, 150, 30, 100, 200, 40]);
    const grad = coordinateImage(8, 8);
    const half = resizeImage(grad, 4, 4, 'bilinear');
    assert.deepEqual(pixel(half, 0, 0), [1, 1, 7]); // mean of 0 and 1 is 0.5, x = 0.5 -> rounds to 1
    assert.deepEqual(pixel(half, 3, 2), [7, 5, 7]); // source 6.5, 4.5
  });

  it('keeps the mean colour of a real photo when resizing either way', async function () {
    const astro = await decodeImageForTest(ASTRONAUT_PNG);
    const m0 = meanColour(astro);
    for (const [w, h] of [[128, 128], [300, 200], [1024, 1024]]) {
      for (const interp of ['nearest', 'bilinear'] as const) {
        const m = meanColour(resizeImage(astro, w, h, interp));
        m.forEach((v, k) => assert.ok(Math.abs(v - m0[k]) < 3, `${interp} ${w}x${h} channel ${k}: ${v} vs ${m0[k]}`));
      }
    }
  });

  it('letterboxes wide and tall images centred with black padding and maps points back', () => {
    const wide = coordinateImage(200, 100);
    const { image, mapping } = letterboxImage(wide, 64, 64, { interpolation: 'nearest' });
    assert.deepEqual(
      { cw: mapping.contentWidth, ch: mapping.contentHeight, px: mapping.padX, py: mapping.padY },
      { cw: 64, ch: 32, px: 0, py: 16 },
    );
    assert.deepEqual(pixel(image, 10, 5), [0, 0, 0], 'top padding');
    assert.deepEqual(pixel(image, 10, 60), [0, 0, 0], 'bottom padding');
    assert.notDeepEqual(pixel(image, 10, 16), [0, 0, 0], 'content starts at row 16');
    assert.deepEqual(mapPointToFrame(mapping, 32, 32), [100, 50]);
    assert.deepEqual(mapBoxToFrame(mapping, [0, 16, 64, 48]), [0, 0, 200, 100]);

    const tall = letterboxMapping(90, 300, 128, 128);
    assert.equal(tall.contentHeight, 128);
    assert.equal(tall.contentWidth, 38); // round(90 * 128 / 300)
    assert.equal(tall.padX, 45);
    const [x, y] = mapPointToFrame(tall, tall.padX + tall.contentWidth, 128);
    assert.ok(Math.abs(x - 90) < 1e-9 && Math.abs(y - 300) < 1e-9);

    const grey = letterboxImage(wide, 64, 64, { pad: [10, 20, 30] }).image;
    assert.deepEqual(pixel(grey, 0, 0), [10, 20, 30]);
  });

  it('converts to NCHW and NHWC tensors with colour order, gray weights and (x*scale - mean)/std', () => {
    const img: RgbImage = { width: 2, height: 1, data: Uint8Array.from([255, 0, 51, 0, 255, 102]) };
    const pm1 = { colour: 'rgb' as const, scale: 2 / 255, mean: [1, 1, 1], std: [1, 1, 1] };
    const close = (a: Float32Array, b: number[]): void =>
      b.forEach((v, i) => assert.ok(Math.abs(a[i] - v) < 1e-6 * Math.max(1, Math.abs(v)), `[${i}] ${a[i]} vs ${v}`));
    close(toTensor(img, pm1, 'NHWC'), [1, -1, -0.6, -1, 1, -0.2]);
    close(toTensor(img, pm1, 'NCHW'), [1, -1, -1, 1, -0.6, -0.2]);
    close(toTensor(img, { ...pm1, colour: 'bgr' }, 'NCHW'), [-0.6, -0.2, -1, 1, 1, -1]);
    const imagenet = { colour: 'rgb' as const, scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
    close(toTensor(img, imagenet, 'NHWC'), [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (0.2 - 0.406) / 0.225]);
    const gray = toTensor(img, { colour: 'gray', scale: 1, mean: [0], std: [1] }, 'NHWC');
    close(gray, [0.299 * 255 + 0.114 * 51, 0.587 * 255 + 0.114 * 102]);
    const weighted = toTensor(img, { colour: 'gray', grayWeights: [1, 0, 0], scale: 1 / 255, mean: [0.5], std: [0.5] }, 'NCHW');
    close(weighted, [1, -1]);

    const batch = new Float32Array(12);
    toTensor(img, pm1, 'NHWC', batch, 6);
    close(batch.subarray(6), [1, -1, -0.6, -1, 1, -0.2]);
    assert.throws(() => toTensor(img, pm1, 'NHWC', new Float32Array(5)), /tensor buffer has 5 values, 6 needed/);
  });

  it('preprocesses a real 1280x720 frame into the buffers it is given, call after call', async function () {
    const frame = await decodeImageForTest(RAVDESS_CLIP);
    assert.deepEqual([frame.width, frame.height], [1280, 720]);
    const pre = {
      size: [128, 128] as const, colour: 'rgb' as const, scale: 2 / 255, mean: [1, 1, 1], std: [1, 1, 1],
      interpolation: 'bilinear' as const, resize: 'letterbox' as const,
    };
    const scratch = new Uint8Array(128 * 128 * 3);
    const tensor = new Float32Array(128 * 128 * 3);
    const first = preprocessImage(frame, pre, 'NHWC', { scratch, tensor });
    assert.equal(first.tensor, tensor, 'wrote into the given buffer');
    assert.deepEqual([first.mapping.contentWidth, first.mapping.contentHeight, first.mapping.padY], [128, 72, 28]);
    assert.equal(tensor[0], -1, 'padding is black: -1');
    const again = preprocessImage(frame, pre, 'NHWC', { scratch, tensor });
    assert.equal(again.tensor, tensor, 'the next call writes into the same buffer');
    assert.deepEqual(again.mapping, first.mapping);
  });
});
