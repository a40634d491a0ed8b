/** BlazeFace on real images with the real ONNX models. */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { RgbImage } from '../../src/media/types';
import { ModelError } from '../../src/models/errors';
import { loadManifest } from '../../src/models/manifest';
import { BlazeFaceDetector, blazeFaceManifestPath, type BlazeFaceVariant } from '../../src/vision/blazeface';
import { cropImage } from '../../src/vision/image';
import type { Box, FaceDetection } from '../../src/vision/types';
import { decodeImageForTest } from '../helpers/decode';
import { assertAstronautFace, ASTRO_NOSE, contains } from '../helpers/astronaut';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';

function centre(box: Box): [number, number] {
  return [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2];
}

function show(f: FaceDetection): string {
  return `score ${f.score.toFixed(3)} box [${f.box.map((v) => v.toFixed(1)).join(', ')}]`;
}

/** `img` pasted at (ox, oy) on a black width x height canvas. */
function onCanvas(img: RgbImage, width: number, height: number, ox: number, oy: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < img.height; y++) {
    data.set(img.data.subarray(y * img.width * 3, (y + 1) * img.width * 3), ((y + oy) * width + ox) * 3);
  }
  return { width, height, data };
}

describe('vision/blazeface', () => {
  const detectors = new Map<BlazeFaceVariant, BlazeFaceDetector>();
  let astronaut: RgbImage;
  let ravdess: RgbImage;

  before(async function () {
    astronaut = await decodeImageForTest(ASTRONAUT_PNG);
    ravdess = await decodeImageForTest(RAVDESS_CLIP);
    for (const v of ['front-128', 'back-256'] as const) detectors.set(v, await BlazeFaceDetector.load(v));
  });

  after(async () => {
    for (const d of detectors.values()) await d.release();
  });

  function detector(v: BlazeFaceVariant): BlazeFaceDetector {
    const d = detectors.get(v);
    assert.ok(d);
    return d;
  }

  for (const variant of ['front-128', 'back-256'] as const) {
    describe(variant, () => {
      it('finds exactly one face on the astronaut, on her face, with a high score', async () => {
        const d = detector(variant);
        assert.equal(d.provider, 'cpu');
        assert.equal(d.scoreThreshold, 0.5);
        const faces = await d.detect(astronaut);
        console.log(`      astronaut: ${faces.map(show).join('; ')}`);
        assert.equal(faces.length, 1);
        const [face] = faces;
        assert.ok(face.score > 0.85, `score ${face.score}`);
        assertAstronautFace(face);
        const width = face.box[2] - face.box[0];
        const height = face.box[3] - face.box[1];
        assert.ok(width > 70 && width < 130 && height > 70 && height < 130, `box ${width} x ${height}`);
      });

      it('finds one face near the centre of the first RAVDESS frame (1280x720, letterboxed)', async () => {
        const faces = await detector(variant).detect(ravdess);
        console.log(`      ravdess frame 0: ${faces.map(show).join('; ')}`);
        assert.equal(faces.length, 1);
        const [face] = faces;
        assert.ok(face.score > 0.9, `score ${face.score}`);
        const [cx, cy] = centre(face.box);
        assert.ok(Math.abs(cx - 640) < 64 && Math.abs(cy - 380) < 72, `centre ${cx}, ${cy}`);
        const width = face.box[2] - face.box[0];
        assert.ok(width > 250 && width < 450, `width ${width}`);
        const kp = face.keypoints ?? [];
        assert.ok(kp[0][0] < 640 && kp[1][0] > 640, 'eyes either side of the middle');
        assert.ok(kp[3][1] > kp[2][1] && kp[2][1] > kp[0][1], 'eyes above nose above mouth');
      });
    });
  }

  it('maps boxes back through the letterbox: front-128 on a face crop padded wide and tall', async () => {
    const d = detector('front-128');
    const crop = cropImage(astronaut, [96, 0, 352, 256]);
    const [base] = await d.detect(crop);
    assert.ok(base !== undefined);
    const [bx, by] = centre(base.box);
    const cases: Array<[RgbImage, number, number]> = [
      [onCanvas(crop, 512, 256, 200, 0), 200, 0],
      [onCanvas(crop, 256, 512, 0, 200), 0, 200],
    ];
    for (const [canvas, dx, dy] of cases) {
      const faces = await d.detect(canvas);
      assert.equal(faces.length, 1, `${canvas.width}x${canvas.height}`);
      const [cx, cy] = centre(faces[0].box);
      console.log(`      ${canvas.width}x${canvas.height} shifted by (${dx}, ${dy}): centre moved by (${(cx - bx).toFixed(1)}, ${(cy - by).toFixed(1)})`);
      assert.ok(Math.abs(cx - bx - dx) < 5 && Math.abs(cy - by - dy) < 5, `centre ${cx}, ${cy} vs ${bx + dx}, ${by + dy}`);
      const ratio = (faces[0].box[2] - faces[0].box[0]) / (base.box[2] - base.box[0]);
      assert.ok(ratio > 0.85 && ratio < 1.15, `size ratio ${ratio}`);
    }
  });

  it('maps boxes back through the letterbox: back-256 on the astronaut at +300 px in 1024x512 and 512x1024', async () => {
    const d = detector('back-256');
    const [base] = await d.detect(astronaut);
    const [bx, by] = centre(base.box);
    const cases: Array<[RgbImage, number, number]> = [
      [onCanvas(astronaut, 1024, 512, 300, 0), 300, 0],
      [onCanvas(astronaut, 512, 1024, 0, 300), 0, 300],
    ];
    for (const [canvas, dx, dy] of cases) {
      const faces = await d.detect(canvas);
      assert.equal(faces.length, 1, `${canvas.width}x${canvas.height}`);
      const face = faces[0];
      const [cx, cy] = centre(face.box);
      console.log(`      ${canvas.width}x${canvas.height} shifted by (${dx}, ${dy}): ${show(face)}, centre moved by (${(cx - bx).toFixed(1)}, ${(cy - by).toFixed(1)})`);
      assert.ok(Math.abs(cx - bx - dx) < 8 && Math.abs(cy - by - dy) < 8, `centre ${cx}, ${cy} vs ${bx + dx}, ${by + dy}`);
      assert.ok(contains(face.box, [ASTRO_NOSE[0] + dx, ASTRO_NOSE[1] + dy]));
    }
  });

  it('finds no face on a blank frame, and more candidates only below the default threshold', async () => {
    const grey: RgbImage = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 3).fill(128) };
    for (const d of detectors.values()) assert.deepEqual(await d.detect(grey), []);
    const low = await BlazeFaceDetector.load('front-128', { scoreThreshold: 0.05, maxFaces: 3 });
    try {
      const faces = await low.detect(astronaut);
      console.log(`      front-128 at threshold 0.05: ${faces.map((f) => f.score.toFixed(3)).join(', ')}`);
      assert.equal(faces.length, 3);
      assert.ok(faces[0].score > 0.85 && faces[1].score < 0.5, 'only the face is above 0.5');
      assert.ok(faces[0].score >= faces[1].score && faces[1].score >= faces[2].score, 'sorted by score');
    } finally {
      await low.release();
    }
  });

  it('shares the session between detectors and serialises concurrent detections', async () => {
    const other = await BlazeFaceDetector.load(blazeFaceManifestPath('front-128'));
    try {
      const results = await Promise.all([other.detect(astronaut), other.detect(ravdess), other.detect(astronaut)]);
      assert.deepEqual(results.map((r) => r.length), [1, 1, 1]);
      assert.deepEqual(results[0], results[2]);
      assert.ok(results[1][0].box[0] > 400, 'the RAVDESS result is the RAVDESS face');
    } finally {
      await other.release();
    }
    await assert.rejects(other.detect(astronaut), /used after release/);
  });

  it('rejects a manifest whose BlazeFace settings do not fit the model', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'blazeface-test-'));
    try {
      const front = await loadManifest(blazeFaceManifestPath('front-128'));
      const j = JSON.parse(fs.readFileSync(front.manifestPath, 'utf8')) as { file: string; extra: { anchors: { strides: number[] }; scoreOutputs: string[] } };
      // The model file must lie in the manifest's folder.
      fs.copyFileSync(front.modelPath, path.join(dir, path.basename(front.modelPath)));
      j.file = path.basename(front.modelPath);
      j.extra.anchors.strides = [8, 16, 16];
      const p = path.join(dir, 'bf.json');
      fs.writeFileSync(p, JSON.stringify(j));
      await assert.rejects(BlazeFaceDetector.load(p), (err: Error) =>
        err instanceof ModelError && /bf\.json: the model scores 896 anchors but extra\.anchors gives 768$/.test(err.message));
      j.extra.anchors.strides = [8, 16, 16, 16];
      j.extra.scoreOutputs = ['scores', 'nope'];
      fs.writeFileSync(p, JSON.stringify(j));
      await assert.rejects(BlazeFaceDetector.load(p), /bf\.json: extra\.scoreOutputs names output role nope, which is not in outputs/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
