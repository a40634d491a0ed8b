/**
 * npm run bench:images — still images and face thumbnails:
 *  - `cer analyze --whole-frame-face` on the 645 FER2013 face JPEGs of ../shared/data/fer2013-dev
 *    (skipped when that folder is absent), images/s with each still-image decoder: ffmpeg (an
 *    ffprobe and an ffmpeg process per image, as before sharp; CER_STILL_DECODER=ffmpeg) and sharp
 *    (in-process, the default). Measured as the command's wall time (models loading included) and
 *    in-process (one Pipeline, analyzeFile per image with the next one probed ahead, as the
 *    command does); then probe + decode alone per image;
 *  - the face detector's thumbnail (src/vision/thumbnail.ts: scale the crop, encode a JPEG, make
 *    the data: URL) per face, on the RAVDESS clip's face crops and on the 48x48 FER faces.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { decodeFramesInWorker } from '../../src/media/frame-worker';
import { decodeFrames } from '../../src/media/frame-decoder';
import { probeMedia } from '../../src/media/probe';
import type { StillDecoder } from '../../src/media/still';
import type { MediaInfo, RgbImage } from '../../src/media/types';
import { analyzeFile, Pipeline } from '../../src/pipeline/analyze';
import { BlazeFaceDetector } from '../../src/vision/blazeface';
import { cropImage } from '../../src/vision/image';
import { DEFAULT_THUMBNAIL_SIZE, jpegDataUrl, jpegThumbnail } from '../../src/vision/thumbnail';
import { boxArea } from '../../src/vision/tracker';
import type { FaceDetection } from '../../src/vision/types';
import { CER } from '../helpers/cli';
import { RAVDESS_CLIP, REPO_ROOT } from '../helpers/testdata';

const RUNS = 3;
const FER_DIR = path.join(REPO_ROOT, '..', 'shared', 'data', 'fer2013-dev');
const DECODERS: readonly StillDecoder[] = ['ffmpeg', 'sharp'];

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const fmt = (x: number, digits = 1): string => x.toFixed(digits);

/** The class folders of the FER set and the images in them. */
function ferImages(): { folders: string[]; files: string[] } | null {
  if (!fs.existsSync(FER_DIR)) return null;
  const folders = fs
    .readdirSync(FER_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => path.join(FER_DIR, e.name))
    .sort();
  const files = folders.flatMap((f) =>
    fs
      .readdirSync(f)
      .filter((n) => /\.jpe?g$/i.test(n))
      .sort()
      .map((n) => path.join(f, n)),
  );
  return files.length > 0 ? { folders, files } : null;
}

/** `cer analyze` on the folders with one still decoder: wall seconds. */
function cliSeconds(folders: readonly string[], decoder: StillDecoder, out: string): number {
  fs.rmSync(out, { recursive: true, force: true });
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CER, 'analyze', ...folders, '--whole-frame-face', '--out', out, '--quiet'], {
    encoding: 'utf8',
    env: { ...process.env, CER_STILL_DECODER: decoder },
  });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`cer analyze failed (${decoder}): ${r.stderr}`);
  return seconds;
}

/** Every image through one loaded pipeline, each probed while the one before runs: seconds. */
async function inProcessSeconds(pipeline: Pipeline, files: readonly string[], decoder: StillDecoder): Promise<number> {
  const probe = (f: string | undefined): Promise<MediaInfo> | undefined => {
    if (f === undefined) return undefined;
    const p = probeMedia(f, { stillDecoder: decoder });
    p.catch(() => undefined);
    return p;
  };
  const t0 = performance.now();
  let next = probe(files[0]);
  for (let i = 0; i < files.length; i++) {
    const probed = next;
    next = probe(files[i + 1]);
    await analyzeFile(pipeline, files[i] as string, { probed });
  }
  return (performance.now() - t0) / 1000;
}

/** Probe and decode alone, per image, one after the other on this thread: milliseconds. */
async function decodeMs(files: readonly string[], decoder: StillDecoder): Promise<number> {
  const t0 = performance.now();
  for (const f of files) {
    for await (const frame of decodeFrames(f, { stillDecoder: decoder })) void frame;
  }
  return (performance.now() - t0) / files.length;
}

async function benchFer(): Promise<RgbImage[]> {
  const fer = ferImages();
  if (fer === null) {
    console.log(`still images: skipped, ${FER_DIR} is absent (the FER2013 development faces; benchmarks only)`);
    return [];
  }
  const n = fer.files.length;
  console.log(`still images: ${n} FER2013 face JPEGs (48x48 grey) in ${fer.folders.length} folders, ${RUNS} runs each, medians`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cer-bench-images-'));
  try {
    const cli = new Map<StillDecoder, number[]>(DECODERS.map((d) => [d, []]));
    // Alternated, so that a busy spell of the machine does not fall on one decoder only.
    for (let run = 0; run < RUNS; run++) for (const d of DECODERS) cli.get(d)?.push(cliSeconds(fer.folders, d, path.join(out, d)));
    for (const d of DECODERS) {
      const s = median(cli.get(d) ?? []);
      console.log(`  cer analyze --whole-frame-face, ${d.padEnd(6)}: ${fmt(n / s)} images/s, ${fmt(s, 2)} s in all (runs ${(cli.get(d) ?? []).map((x) => fmt(x, 2)).join(', ')} s; models loading included)`);
    }

    const pipeline = await Pipeline.load({ wholeFrameFace: true });
    try {
      const inProcess = new Map<StillDecoder, number[]>(DECODERS.map((d) => [d, []]));
      for (let run = 0; run < RUNS; run++) for (const d of DECODERS) inProcess.get(d)?.push(await inProcessSeconds(pipeline, fer.files, d));
      for (const d of DECODERS) {
        const s = median(inProcess.get(d) ?? []);
        console.log(`  in-process analyzeFile,        ${d.padEnd(6)}: ${fmt(n / s)} images/s, ${fmt((1000 * s) / n, 2)} ms an image`);
      }
    } finally {
      await pipeline.release();
    }
    for (const d of DECODERS) {
      const runs: number[] = [];
      for (let run = 0; run < RUNS; run++) runs.push(await decodeMs(fer.files, d));
      const ms = median(runs);
      console.log(`  probe + decode alone,          ${d.padEnd(6)}: ${fmt(ms, 2)} ms an image`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
  // A few faces for the thumbnail figures.
  const faces: RgbImage[] = [];
  for (const f of fer.files.slice(0, 100)) for await (const frame of decodeFrames(f)) faces.push(frame);
  return faces;
}

/** The RAVDESS clip's face crops (BlazeFace, the largest face of each frame). */
async function ravdessCrops(): Promise<RgbImage[]> {
  const detector = await BlazeFaceDetector.load('front-128', { intraOpNumThreads: 1 });
  const crops: RgbImage[] = [];
  try {
    for await (const frame of decodeFramesInWorker(RAVDESS_CLIP)) {
      const faces = await detector.detect(frame);
      const largest = faces.reduce<FaceDetection | undefined>((chosen, f) => (chosen === undefined || boxArea(f.box) > boxArea(chosen.box) ? f : chosen), undefined);
      if (largest) crops.push(cropImage(frame, largest.box));
    }
  } finally {
    await detector.release();
  }
  return crops;
}

async function benchThumbnails(what: string, crops: readonly RgbImage[], size: number): Promise<void> {
  if (crops.length === 0) return;
  // Warm-up: sharp loads, libvips starts its threads.
  await jpegThumbnail(crops[0] as RgbImage, size);
  const perFace: number[] = [];
  let bytes = 0;
  for (let run = 0; run < RUNS; run++) {
    const t0 = performance.now();
    for (const crop of crops) bytes += jpegDataUrl((await jpegThumbnail(crop, size)).jpeg).length;
    perFace.push((performance.now() - t0) / crops.length);
  }
  const side = median(crops.map((c) => Math.max(c.width, c.height)));
  console.log(
    `  ${what}: ${crops.length} crops (median side ${side} px) → ${size} px: ${fmt(median(perFace), 2)} ms a face (runs ${perFace.map((x) => fmt(x, 2)).join(', ')}), data: URL ${fmt(bytes / RUNS / crops.length / 1024, 1)} KB`,
  );
}

async function main(): Promise<void> {
  const ferFaces = await benchFer();
  console.log(`face thumbnails (the face detector's msg.thumbnail, one per face; sequential, ${RUNS} runs, medians):`);
  await benchThumbnails('RAVDESS clip', await ravdessCrops(), DEFAULT_THUMBNAIL_SIZE);
  await benchThumbnails('FER2013 faces', ferFaces, DEFAULT_THUMBNAIL_SIZE);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
