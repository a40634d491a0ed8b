/**
 * npm run bench:accuracy — the VS crop choices measured (issue 13, "better crops for VS"):
 *
 *  - on the 645 labelled FER2013 faces of ../shared/data/fer2013-dev (48x48 grey, pre-cropped;
 *    read from there, never copied; skipped when the folder is absent): accuracy and UAR (mean
 *    recall over the 7 classes) of the bundled VS model for each crop choice: straight crop (the
 *    crop before this bench) or rolled upright by the eye keypoints, margin 0, 10 % or 20 % of the
 *    box on each side, with and without flip averaging. Each face is scaled up 4× (bilinear, to
 *    192x192: BlazeFace needs more than 48 pixels) and the package's default detector (auto) runs
 *    on it; a face needs the detector's box and eye keypoints for every choice to apply. Rows for
 *    all 645 faces (a face the detector misses is read whole, as `--whole-frame-face` reads it)
 *    and for the faces found only; and the reference point, the whole 48x48 picture as
 *    `cer analyze --whole-frame-face` reads it.
 *  - on the RAVDESS clip (actor 01, neutral statement, 98 frames): the share of frames with a face
 *    whose VS argmax is Neutral and the mean Neutral probability, per choice. The clip is labelled
 *    neutral throughout, so this is the accuracy on its frames; it is one actor, so it shows
 *    whether a choice upsets a frontal video face, not which is best.
 *
 * The numbers decide the defaults of src/stages/vs.ts (DEFAULT_VS_ALIGN, DEFAULT_VS_FLIP) and the
 * bundled model's `extra.crop.margin`; README (`cer analyze`) and the VS node's help quote them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { BASIC_EMOTIONS } from '../../src/core/emotions';
import { decodeFrames } from '../../src/media/frame-decoder';
import type { RgbImage } from '../../src/media/types';
import { DEFAULT_MODELS_DIR, listManifests, type LoadedManifest } from '../../src/models/manifest';
import { StaticVisualStage, type VSCropOptions } from '../../src/stages/vs';
import { loadFaceDetector } from '../../src/vision/auto-detector';
import { resizeImage } from '../../src/vision/image';
import { boxArea } from '../../src/vision/tracker';
import type { Box, FaceDetection } from '../../src/vision/types';
import { RAVDESS_CLIP, REPO_ROOT } from '../helpers/testdata';
import { DEFAULT_DETECTOR } from '../../src/defaults';

const FER_DIR = path.join(REPO_ROOT, '..', 'shared', 'data', 'fer2013-dev');
const UPSCALE = 4;
const SESSION = { executionProviders: ['cpu'], intraOpNumThreads: 1 };

interface Choice {
  readonly name: string;
  readonly crop: VSCropOptions;
}

const CHOICES: Choice[] = [];
for (const align of [false, true]) {
  for (const margin of [0, 0.1, 0.2]) {
    for (const flip of [false, true]) {
      CHOICES.push({ name: `${align ? 'aligned' : 'straight'}, margin ${Math.round(margin * 100)} %${flip ? ', flip' : ''}`, crop: { align, margin, flip } });
    }
  }
}

interface Face {
  readonly label: number;
  /** The 48x48 picture and its 4× scale-up. */
  readonly small: RgbImage;
  readonly big: RgbImage;
  /** The detector's face in `big`, or null. */
  readonly face: FaceDetection | null;
}

const argmax = (p: ArrayLike<number>): number => {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
};

async function readRgb(file: string): Promise<RgbImage> {
  const { data, info } = await sharp(file).toColourspace('srgb').removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels === 3) return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  const rgb = new Uint8Array(info.width * info.height * 3);
  for (let i = 0; i < info.width * info.height; i++) rgb.fill(data[i * info.channels], i * 3, i * 3 + 3);
  return { width: info.width, height: info.height, data: rgb };
}

/** The largest face of a frame, or null. */
function largest(faces: readonly FaceDetection[]): FaceDetection | null {
  return faces.reduce<FaceDetection | null>((best, f) => (best === null || boxArea(f.box) > boxArea(best.box) ? f : best), null);
}

async function loadFer(): Promise<Face[] | null> {
  const labels = path.join(FER_DIR, 'labels.csv');
  if (!fs.existsSync(labels)) return null;
  const rows = fs.readFileSync(labels, 'utf8').trim().split(/\r?\n/).slice(1).map((l) => l.trim().split(','));
  const detector = await loadFaceDetector(DEFAULT_DETECTOR, SESSION);
  try {
    const faces: Face[] = [];
    for (const [file, name] of rows) {
      const label = BASIC_EMOTIONS.indexOf(name as (typeof BASIC_EMOTIONS)[number]);
      if (label < 0) throw new Error(`${file}: unknown label ${name}`);
      const small = await readRgb(path.join(FER_DIR, file));
      const big = resizeImage(small, small.width * UPSCALE, small.height * UPSCALE, 'bilinear');
      // A new stream per picture: the auto detector must not follow a face from the previous one.
      const face = largest(await detector.forStream().detect(big));
      faces.push({ label, small, big, face: face && face.keypoints && face.keypoints.length >= 2 ? face : null });
    }
    return faces;
  } finally {
    await detector.release();
  }
}

interface Score {
  readonly accuracy: number;
  readonly uar: number;
  readonly n: number;
}

function score(pairs: ReadonlyArray<readonly [number, number]>): Score {
  const hits = new Array<number>(7).fill(0);
  const counts = new Array<number>(7).fill(0);
  let right = 0;
  for (const [truth, guess] of pairs) {
    counts[truth]++;
    if (truth === guess) {
      hits[truth]++;
      right++;
    }
  }
  const present = counts.map((c, i) => (c > 0 ? hits[i] / c : null)).filter((r): r is number => r !== null);
  return { accuracy: right / pairs.length, uar: present.reduce((a, b) => a + b, 0) / present.length, n: pairs.length };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)} %`.padStart(7);

async function stage(manifest: LoadedManifest, crop: VSCropOptions): Promise<StaticVisualStage> {
  return StaticVisualStage.load(manifest, { ...SESSION, crop });
}

async function benchFer(manifest: LoadedManifest): Promise<void> {
  const faces = await loadFer();
  if (faces === null) {
    console.log(`FER2013: skipped, ${FER_DIR} is absent (the FER2013 development faces; benchmarks only)`);
    return;
  }
  const found = faces.filter((f) => f.face !== null).length;
  console.log(`FER2013 development faces: ${faces.length} (48x48 grey), scaled ${UPSCALE}x to ${faces[0].big.width}x${faces[0].big.height}; detector ${DEFAULT_DETECTOR} found a face with eye keypoints in ${found} (${pct(found / faces.length).trim()})`);
  const perClass = BASIC_EMOTIONS.map((name, i) => `${name} ${faces.filter((f) => f.label === i).length}`).join(', ');
  console.log(`  classes: ${perClass}`);
  console.log(`  ${'crop'.padEnd(32)} ${'all: acc'.padStart(9)} ${'UAR'.padStart(7)}   ${'found: acc'.padStart(10)} ${'UAR'.padStart(7)}`);

  for (const flip of [false, true]) {
    const vs = await stage(manifest, { align: false, margin: 0, flip });
    try {
      const pairs: Array<[number, number]> = [];
      for (const f of faces) pairs.push([f.label, argmax((await vs.run(f.small, [0, 0, f.small.width, f.small.height])).probs)]);
      const foundPairs = pairs.filter((_, i) => faces[i].face !== null);
      const all = score(pairs);
      const sub = score(foundPairs);
      console.log(`  ${`whole 48x48 picture${flip ? ', flip' : ''}`.padEnd(32)} ${pct(all.accuracy).padStart(9)} ${pct(all.uar)}   ${pct(sub.accuracy).padStart(10)} ${pct(sub.uar)}`);
    } finally {
      await vs.release();
    }
  }
  for (const choice of CHOICES) {
    const vs = await stage(manifest, choice.crop);
    const whole = await stage(manifest, { align: false, margin: 0, flip: choice.crop.flip });
    try {
      const pairs: Array<[number, number]> = [];
      for (const f of faces) {
        const out = f.face === null ? await whole.run(f.small, [0, 0, f.small.width, f.small.height]) : await vs.run(f.big, f.face.box, { keypoints: f.face.keypoints });
        pairs.push([f.label, argmax(out.probs)]);
      }
      const all = score(pairs);
      const sub = score(pairs.filter((_, i) => faces[i].face !== null));
      console.log(`  ${choice.name.padEnd(32)} ${pct(all.accuracy).padStart(9)} ${pct(all.uar)}   ${pct(sub.accuracy).padStart(10)} ${pct(sub.uar)}`);
    } finally {
      await Promise.all([vs.release(), whole.release()]);
    }
  }
}

async function benchRavdess(manifest: LoadedManifest): Promise<void> {
  const detector = await loadFaceDetector(DEFAULT_DETECTOR, SESSION);
  const frames: Array<{ frame: RgbImage; face: FaceDetection }> = [];
  let total = 0;
  try {
    const stream = detector.forStream();
    for await (const frame of decodeFrames(RAVDESS_CLIP)) {
      total++;
      const face = largest(await stream.detect(frame));
      if (face !== null) frames.push({ frame: { width: frame.width, height: frame.height, data: frame.data.slice() }, face });
    }
  } finally {
    await detector.release();
  }
  const neutral = BASIC_EMOTIONS.indexOf('Neutral');
  const rolls = frames.map(({ face }) => {
    const k = face.keypoints ?? [];
    return k.length >= 2 ? (Math.atan2(k[1][1] - k[0][1], k[1][0] - k[0][0]) * 180) / Math.PI : 0;
  });
  console.log(`RAVDESS clip (neutral, ${total} frames, a face in ${frames.length}; eye-line roll ${Math.min(...rolls).toFixed(1)}° to ${Math.max(...rolls).toFixed(1)}°): frames whose VS argmax is Neutral, mean P(Neutral)`);
  for (const choice of CHOICES) {
    const vs = await stage(manifest, choice.crop);
    try {
      let hits = 0;
      let mean = 0;
      for (const { frame, face } of frames) {
        const p = (await vs.run(frame, face.box as Box, { keypoints: face.keypoints })).probs;
        if (argmax(p) === neutral) hits++;
        mean += p[neutral] / frames.length;
      }
      console.log(`  ${choice.name.padEnd(32)} ${pct(hits / frames.length)}   ${mean.toFixed(3)}`);
    } finally {
      await vs.release();
    }
  }
}

async function main(): Promise<void> {
  const manifest = (await listManifests(DEFAULT_MODELS_DIR)).find((m) => m.task === 'static-visual');
  if (manifest === undefined) throw new Error('no bundled static-visual model');
  console.log(`VS model: ${manifest.id} (its manifest's margin: ${JSON.stringify((manifest.extra?.crop as { margin?: number } | undefined)?.margin ?? 0)})`);
  await benchFer(manifest);
  await benchRavdess(manifest);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
