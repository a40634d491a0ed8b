/**
 * BlazeFace full-range (models/blazeface-full-192, MediaPipe face_detection_full_range converted
 * from tfjs by tools/tfjs-to-onnx) on real images and every frame of a real video, against the
 * short-range front-128 model: same faces, boxes overlapping by IoU >= 0.7.
 */
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { RgbImage } from '../../src/media/types';
import { DEFAULT_MODELS_DIR } from '../../src/models/manifest';
import { BlazeFaceDetector } from '../../src/vision/blazeface';
import { iou } from '../../src/vision/blazeface-decode';
import type { FaceDetection } from '../../src/vision/types';
import { decodeImageForTest, probeSizeForTest } from '../helpers/decode';
import { assertAstronautFace } from '../helpers/astronaut';
import { ASTRONAUT_PNG, RAVDESS_CLIP } from '../helpers/testdata';

const FULL_MANIFEST = path.join(DEFAULT_MODELS_DIR, 'blazeface-full-192.json');


function show(f: FaceDetection): string {
  return `score ${f.score.toFixed(3)} box [${f.box.map((v) => v.toFixed(1)).join(', ')}]`;
}

/** Every frame of a video as RGB24, streamed from ffmpeg one frame at a time. */
async function* videoFrames(file: string): AsyncGenerator<RgbImage> {
  const { width, height } = await probeSizeForTest(file);
  const size = width * height * 3;
  const ff = spawn('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  ff.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => ff.on('close', resolve));
  let pending: Buffer[] = [];
  let have = 0;
  for await (const chunk of ff.stdout as AsyncIterable<Buffer>) {
    pending.push(chunk);
    have += chunk.length;
    while (have >= size) {
      const all = Buffer.concat(pending);
      yield { width, height, data: new Uint8Array(all.buffer, all.byteOffset, size).slice() };
      pending = [all.subarray(size)];
      have -= size;
    }
  }
  const code = await exited;
  if (code !== 0) throw new Error(`ffmpeg failed on ${file}: ${stderr.trim()}`);
  assert.equal(have, 0, 'ffmpeg left a partial frame');
}

describe('vision/blazeface full-range (blazeface-full-192)', function () {
  this.timeout(300000);
  let full: BlazeFaceDetector;
  let front: BlazeFaceDetector;
  let astronaut: RgbImage;

  before(async function () {
    astronaut = await decodeImageForTest(ASTRONAUT_PNG);
    // One thread each, for a per-frame cost that does not depend on the machine's core count.
    full = await BlazeFaceDetector.load(FULL_MANIFEST, { intraOpNumThreads: 1 });
    front = await BlazeFaceDetector.load('front-128', { intraOpNumThreads: 1 });
  });

  after(async function () {
    await full?.release();
    await front?.release();
  });

  it('loads from its manifest: one 48x48 grid of 2304 anchors, score and regressors packed in one output', function () {
    assert.equal(full.id, 'blazeface-full-192');
    assert.equal(full.config.inputSize, 192);
    assert.equal(full.config.outputLayout, 'packed');
    assert.equal(full.config.boxScale, 192);
    assert.deepEqual(full.config.anchors, { inputSize: 192, strides: [4], anchorsPerLayer: 1, offset: 0.5 });
    assert.equal(full.config.keypoints.length, 6);
    assert.equal(full.scoreThreshold, 0.5);
    assert.equal(front.config.outputLayout, 'separate');
  });

  it('finds exactly one face on the astronaut, on her face, where front-128 finds it', async function () {
    const [faces, ref] = [await full.detect(astronaut), await front.detect(astronaut)];
    console.log(`      full-192: ${faces.map(show).join('; ')}`);
    console.log(`      front-128: ${ref.map(show).join('; ')}`);
    assert.equal(faces.length, 1);
    assert.equal(ref.length, 1);
    const [face] = faces;
    assert.ok(face.score > 0.85, `score ${face.score}`);
    assertAstronautFace(face);
    const overlap = iou(face.box, ref[0].box);
    console.log(`      IoU with front-128: ${overlap.toFixed(3)}`);
    assert.ok(overlap >= 0.7, `IoU ${overlap}`);
  });

  it('finds no face on a blank frame', async function () {
    const grey: RgbImage = { width: 640, height: 480, data: new Uint8Array(640 * 480 * 3).fill(128) };
    assert.deepEqual(await full.detect(grey), []);
  });

  it('finds the one face in every frame of a RAVDESS clip, boxes within IoU 0.7 of front-128', async function () {
    let frames = 0;
    let fullMs = 0;
    let frontMs = 0;
    let minIou = 1;
    let sumIou = 0;
    let minScore = 1;
    for await (const frame of videoFrames(RAVDESS_CLIP)) {
      let t = process.hrtime.bigint();
      const faces = await full.detect(frame);
      fullMs += Number(process.hrtime.bigint() - t) / 1e6;
      t = process.hrtime.bigint();
      const ref = await front.detect(frame);
      frontMs += Number(process.hrtime.bigint() - t) / 1e6;
      assert.equal(faces.length, 1, `frame ${frames}: ${faces.map(show).join('; ')}`);
      assert.equal(ref.length, 1, `frame ${frames} (front-128): ${ref.map(show).join('; ')}`);
      const kp = faces[0].keypoints ?? [];
      assert.ok(kp[0][0] < kp[1][0] && kp[3][1] > kp[2][1] && kp[2][1] > kp[0][1], `frame ${frames}: keypoints in a face's order`);
      const overlap = iou(faces[0].box, ref[0].box);
      assert.ok(overlap >= 0.7, `frame ${frames}: IoU ${overlap} (${show(faces[0])} vs ${show(ref[0])})`);
      minIou = Math.min(minIou, overlap);
      sumIou += overlap;
      minScore = Math.min(minScore, faces[0].score);
      frames++;
    }
    assert.ok(frames >= 98, `${frames} frames`);
    console.log(`      ${frames} frames: IoU with front-128 min ${minIou.toFixed(3)}, mean ${(sumIou / frames).toFixed(3)}; lowest score ${minScore.toFixed(3)}`);
    console.log(`      one thread, ms per frame (detect, incl. letterbox and decoding): full-192 ${(fullMs / frames).toFixed(1)}, front-128 ${(frontMs / frames).toFixed(1)}`);
  });
});
