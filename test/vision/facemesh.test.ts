/**
 * The face mesh (src/vision/facemesh.ts) with the bundled models/facemesh.onnx on the astronaut
 * photo's BlazeFace box, and the model holder it shares with BlazeFace (src/models/holder.ts):
 * calls queued in order, the same mesh in a worker thread, release.
 */
import * as assert from 'node:assert/strict';
import { decodeImage } from '../../src/media/frame-decoder';
import type { RgbImage } from '../../src/media/types';
import { ModelError } from '../../src/models/errors';
import { BlazeFaceDetector, blazeFaceManifestPath } from '../../src/vision/blazeface';
import { FACEMESH_LANDMARKS, FaceMesh, facemeshCrop, type FaceMeshResult } from '../../src/vision/facemesh';
import type { Box } from '../../src/vision/types';
import { ASTRONAUT_PNG } from '../helpers/testdata';

const SESSION = { intraOpNumThreads: 1 } as const;

function point(r: FaceMeshResult, i: number): [number, number] {
  return [r.landmarks[3 * i], r.landmarks[3 * i + 1]];
}

function inside(box: Readonly<Box>, [x, y]: readonly [number, number]): boolean {
  return x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
}

describe('vision/facemesh', function () {
  this.timeout(120000);
  let image: RgbImage;
  let face: Box;
  let mesh: FaceMesh;

  before(async () => {
    image = await decodeImage(ASTRONAUT_PNG);
    const detector = await BlazeFaceDetector.load('front-128', SESSION);
    try {
      [{ box: face }] = await detector.detect(image);
    } finally {
      await detector.release();
    }
    mesh = await FaceMesh.load(undefined, SESSION);
  });

  after(async () => {
    await mesh?.release();
  });

  it('meshes the astronaut: 468 landmarks in frame pixels, eyes and lips inside her face box', async () => {
    const r = await mesh.landmarks(image, face);
    assert.equal(mesh.cropScale, 1.4);
    assert.deepEqual(r.crop, facemeshCrop(face, 1.4));
    assert.equal(r.landmarks.length, 468 * 3);
    assert.ok(r.faceScore > 0.9, `face score ${r.faceScore}`);
    for (const i of Object.values(FACEMESH_LANDMARKS)) assert.ok(inside(face, point(r, i)), `landmark ${i} at ${point(r, i).join(', ')} outside ${face.join(', ')}`);
    // The person's right eye is on the image's left.
    assert.ok(point(r, FACEMESH_LANDMARKS.rightEyeOuter)[0] < point(r, FACEMESH_LANDMARKS.leftEyeOuter)[0]);
    // Lips below the eyes (y grows downwards).
    assert.ok(point(r, FACEMESH_LANDMARKS.upperInnerLip)[1] > point(r, FACEMESH_LANDMARKS.rightEyeOuter)[1]);
  });

  it('queued calls keep their order and give what each gives alone; a worker-thread mesh gives the same', async () => {
    const shift = (d: number): Box => [face[0] + d, face[1] + d, face[2] + d, face[3] + d];
    const boxes = [shift(0), shift(6), shift(-6)];
    const alone: FaceMeshResult[] = [];
    for (const b of boxes) alone.push(await mesh.landmarks(image, b));
    const together = await Promise.all(boxes.map((b) => mesh.landmarks(image, b)));
    together.forEach((r, i) => {
      assert.deepEqual(r.crop, alone[i].crop);
      assert.deepEqual(r.landmarks, alone[i].landmarks);
    });
    const inWorker = await FaceMesh.load(undefined, { ...SESSION, inWorker: true });
    try {
      const r = await inWorker.landmarks(image, face);
      assert.equal(r.faceScore, alone[0].faceScore);
      assert.deepEqual(r.landmarks, alone[0].landmarks);
    } finally {
      await inWorker.release();
    }
  });

  it('refuses a manifest that is not a face mesh, an empty box and a short image, each in one line', async () => {
    await assert.rejects(FaceMesh.load(blazeFaceManifestPath('front-128'), SESSION), (err: Error) => {
      assert.ok(err instanceof ModelError);
      assert.equal(err.message, 'models/blazeface-front-128.json: task must be face-landmarks for the face mesh (got face-detection)');
      return true;
    });
    await assert.rejects(FaceMesh.load(undefined, { ...SESSION, cropScale: 0 }), /^RangeError: face mesh option cropScale must be a positive number \(got 0\)$/);
    await assert.rejects(mesh.landmarks(image, [10, 10, 10, 50]), /^RangeError: face box \[10, 10, 10, 50\] is empty$/);
    const short: RgbImage = { width: 10, height: 10, data: new Uint8Array(10) };
    await assert.rejects(mesh.landmarks(short, [0, 0, 5, 5]), /image data has 10 bytes, 10x10 RGB needs 300/);
  });

  it('the model holder: released after release(), calls then refused naming the holder, the shared session kept for others', async () => {
    const own = await FaceMesh.load(undefined, SESSION);
    const detector = await BlazeFaceDetector.load('front-128', SESSION);
    assert.equal(own.released, false);
    assert.equal(detector.id, 'blazeface-front-128');
    assert.ok((await own.landmarks(image, face)).faceScore > 0.9);
    await own.release();
    assert.equal(own.released, true);
    await assert.rejects(own.landmarks(image, face), (err: Error) => err instanceof ModelError && err.message === 'face mesh used after release');
    assert.throws(() => own.manifest, /face mesh used after release/);
    await own.release();
    await detector.release();
    assert.equal(detector.id, 'released');
    await assert.rejects(detector.detect(image), (err: Error) => err instanceof ModelError && err.message === 'BlazeFace detector used after release');
    // The suite's own mesh shares the session and still runs.
    assert.ok((await mesh.landmarks(image, face)).faceScore > 0.9);
  });
});
