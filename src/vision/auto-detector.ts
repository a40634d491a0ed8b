/**
 * `--detector auto` (the default): faces at every distance for about the cost of the short-range
 * detector where faces are near.
 *
 * Per frame of one stream:
 * 1. BlazeFace front-128 on the whole frame.
 * 2. The faces found on the previous frame that step 1 did not find again are followed: front-128
 *    runs on a square crop around each (FOLLOW_CROP × its size), where the face fills a third of
 *    the detector's input whatever its size in the frame.
 * 3. A whole-frame search with BlazeFace back-256: every SEARCH_EVERY frames while no confident
 *    face (score ≥ CONFIDENT_SCORE) is seen, every SEARCH_EVERY_FOLLOWING while only faces that
 *    are not near are, and every SEARCH_EVERY_NEAR while a near one (at least NEAR_FACE_FRACTION of
 *    the frame's long side wide) is: on a webcam or an interview close-up it costs little. Each
 *    face it finds that is not known yet is refined by step 2's crop, so boxes are front-128's
 *    whatever found the face.
 * 4. When the search finds nothing either, every TILE_EVERY frames, MediaPipe's full-range
 *    detector (full-192) runs on overlapping tiles of TILE_SIZE pixels: the only way found here to
 *    see a face about 24–32 px wide in a 1280×720 frame. Its faces are refined in the same way.
 *
 * Measured on the astronaut photo scaled into a 1280×720 frame (test/vision/auto-detector.test.ts
 * and the bench): front-128 alone misses faces up to about 130 px wide there; back-256 finds
 * them from about 24 px (score 0.5 at 24 px, 0.6–0.8 from 32 px) but its boxes are loose (IoU
 * 0.2–0.7 with front-128's); the crop refinement brings every size to IoU 0.8–0.9; full-192 on
 * the whole frame starts at about 64 px, on 384 px tiles at 24 px (score 0.9).
 *
 * Each face says which model found it (`detector`): e.g. `blazeface-front-128`,
 * `blazeface-front-128+crop` (followed or refined on a crop).
 */
import type { RgbImage } from '../media/types';
import type { LoadedManifest } from '../models/manifest';
import { BLAZEFACE_VARIANTS, BlazeFaceDetector, type BlazeFaceOptions, type BlazeFaceVariant } from './blazeface';
import { cropImage } from './image';
import { iou } from './tracker';
import type { Box, FaceDetection } from './types';
import { AUTO_DETECTOR_MODELS } from '../defaults';

/** A face at least this confident is a face the frame needs no further search for (when near). */
export const CONFIDENT_SCORE = 0.6;
/** A face at least this share of the frame's long side wide is near: front-128 sees it reliably. */
export const NEAR_FACE_FRACTION = 0.15;
/** Side of the crop around a face followed or refined, in face sizes. */
export const FOLLOW_CROP = 3;
/** Smallest crop side in pixels (a face of a few pixels still gets some context). */
export const MIN_CROP = 64;
/** Frames between whole-frame searches with back-256 while no confident face is seen. */
export const SEARCH_EVERY = 3;
/** … while faces that are not near are being followed (new ones may come into view). */
export const SEARCH_EVERY_FOLLOWING = 8;
/** … while a near face is in view. */
export const SEARCH_EVERY_NEAR = 25;
/** Frames between tiled searches with full-192 while nothing is found at all. */
export const TILE_EVERY = 12;
/** Tile side for the tiled search, in frame pixels (2× full-192's input). */
export const TILE_SIZE = 384;
/** Overlap of neighbouring tiles: a face on a tile edge is whole in the next tile. */
export const TILE_OVERLAP = 0.25;
/** Detections of one face by two steps overlap at least this much; the better one is kept. */
const SAME_FACE_IOU = 0.3;

/** The detectors the auto policy combines. */
export interface AutoDetectors {
  readonly front: BlazeFaceDetector;
  readonly search: BlazeFaceDetector;
  readonly tiles: BlazeFaceDetector;
}

/** A face detector for one stream of frames, in order: it may keep state from frame to frame. */
export interface StreamFaceDetector {
  detect(image: RgbImage): Promise<FaceDetection[]>;
}

/** What the faces stage needs of a detector: per-stream detection, a name, and release. */
export interface FaceDetectorSource {
  readonly id: string;
  readonly provider: string;
  forStream(): StreamFaceDetector;
  release(): Promise<void>;
}

/** One BlazeFace model on every whole frame, each face tagged with the model's id. */
export class SingleFaceDetector implements FaceDetectorSource {
  constructor(readonly detector: BlazeFaceDetector) {}

  get id(): string {
    return this.detector.id;
  }

  get provider(): string {
    return this.detector.provider;
  }

  forStream(): StreamFaceDetector {
    return { detect: async (image) => tag(await this.detector.detect(image), this.detector.id) };
  }

  release(): Promise<void> {
    return this.detector.release();
  }
}

/** The auto policy over three BlazeFace models (see the module comment). */
export class AutoFaceDetector implements FaceDetectorSource {
  constructor(readonly detectors: AutoDetectors) {}

  /** Loads the three models (variants or manifest paths), releasing what loaded when one fails. */
  static async load(models: { readonly front: string; readonly search: string; readonly tiles: string }, options: BlazeFaceOptions = {}): Promise<AutoFaceDetector> {
    const loaded: BlazeFaceDetector[] = [];
    try {
      for (const source of [models.front, models.search, models.tiles]) loaded.push(await BlazeFaceDetector.load(source, options));
    } catch (err) {
      await Promise.all(loaded.map((d) => d.release()));
      throw err;
    }
    const [front, search, tiles] = loaded as [BlazeFaceDetector, BlazeFaceDetector, BlazeFaceDetector];
    return new AutoFaceDetector({ front, search, tiles });
  }

  get id(): string {
    const d = this.detectors;
    return `auto (${d.front.id}, ${d.search.id}, ${d.tiles.id})`;
  }

  get provider(): string {
    return this.detectors.front.provider;
  }

  forStream(): StreamFaceDetector {
    return new AutoStream(this.detectors);
  }

  async release(): Promise<void> {
    const d = this.detectors;
    await Promise.all([d.front.release(), d.search.release(), d.tiles.release()]);
  }
}

/** What `--detector` (and the face detector node) can be: a variant, or the auto policy. */
export const DETECTOR_CHOICES = ['auto', ...BLAZEFACE_VARIANTS] as const;
export type DetectorChoice = 'auto' | BlazeFaceVariant;

export function isDetectorChoice(value: string): value is DetectorChoice {
  return (DETECTOR_CHOICES as readonly string[]).includes(value);
}

/**
 * The detector to run: a manifest (a models folder's own detector) or a variant runs alone; `auto`
 * combines the package's three (front-128, back-256 to search, full-192 on tiles).
 */
export async function loadFaceDetector(choice: DetectorChoice | LoadedManifest, options: BlazeFaceOptions = {}): Promise<FaceDetectorSource> {
  if (choice === 'auto') return AutoFaceDetector.load(AUTO_DETECTOR_MODELS, options);
  return new SingleFaceDetector(await BlazeFaceDetector.load(choice, options));
}

function tag(faces: readonly FaceDetection[], detector: string): FaceDetection[] {
  return faces.map((f) => ({ ...f, detector }));
}

const width = (b: Readonly<Box>): number => b[2] - b[0];

/** Faces with their shifted boxes and keypoints: from crop pixels to frame pixels. */
function shift(faces: readonly FaceDetection[], dx: number, dy: number): FaceDetection[] {
  return faces.map((f) => ({
    ...f,
    box: [f.box[0] + dx, f.box[1] + dy, f.box[2] + dx, f.box[3] + dy],
    ...(f.keypoints ? { keypoints: f.keypoints.map(([x, y]) => [x + dx, y + dy] as const) } : {}),
  }));
}

/** Tiles of `size` covering a width × height frame, overlapping by TILE_OVERLAP. */
export function tileBoxes(frameWidth: number, frameHeight: number, size: number = TILE_SIZE): Box[] {
  const axis = (length: number): number[] => {
    if (length <= size) return [0];
    const step = size * (1 - TILE_OVERLAP);
    const starts: number[] = [];
    for (let s = 0; s + size < length; s += step) starts.push(Math.round(s));
    starts.push(length - size);
    return starts;
  };
  const boxes: Box[] = [];
  for (const y of axis(frameHeight)) for (const x of axis(frameWidth)) boxes.push([x, y, Math.min(x + size, frameWidth), Math.min(y + size, frameHeight)]);
  return boxes;
}

/** Keeps, of faces overlapping one another, the most confident (stable on ties: the first). */
function suppress(faces: readonly FaceDetection[]): FaceDetection[] {
  const order = faces.map((f, i) => ({ f, i })).sort((a, b) => b.f.score - a.f.score || a.i - b.i);
  const kept: FaceDetection[] = [];
  for (const { f } of order) if (!kept.some((k) => iou(k.box, f.box) >= SAME_FACE_IOU)) kept.push(f);
  return kept;
}

class AutoStream implements StreamFaceDetector {
  /** Faces of the previous frame, followed on crops when the whole frame does not show them. */
  private previous: FaceDetection[] = [];
  private frame = 0;
  private lastSearch = Number.NEGATIVE_INFINITY;
  private lastTiles = Number.NEGATIVE_INFINITY;
  private readonly cropDetector: string;

  constructor(private readonly d: AutoDetectors) {
    this.cropDetector = `${d.front.id}+crop`;
  }

  async detect(image: RgbImage): Promise<FaceDetection[]> {
    const f = this.frame++;
    const longSide = Math.max(image.width, image.height);
    const confident = (x: FaceDetection): boolean => x.score >= CONFIDENT_SCORE;
    let faces = tag(await this.d.front.detect(image), this.d.front.id);
    for (const p of this.previous) {
      if (faces.some((x) => iou(x.box, p.box) >= SAME_FACE_IOU)) continue;
      const found = await this.onCrop(image, p.box);
      if (found !== null) faces.push(found);
    }
    faces = suppress(faces);
    // With a near face in view (a close-up, a webcam) other faces are looked for only now and then;
    // with none, more often.
    const near = faces.some((x) => confident(x) && width(x.box) >= NEAR_FACE_FRACTION * longSide);
    const every = near ? SEARCH_EVERY_NEAR : faces.some(confident) ? SEARCH_EVERY_FOLLOWING : SEARCH_EVERY;
    if (f - this.lastSearch < every) return this.done(faces);
    this.lastSearch = f;
    faces = await this.refineNew(image, faces, await this.d.search.detect(image));
    if (faces.some(confident) || f - this.lastTiles < TILE_EVERY) return this.done(faces);
    this.lastTiles = f;
    const tiled: FaceDetection[] = [];
    for (const tile of tileBoxes(image.width, image.height)) {
      tiled.push(...shift(await this.d.tiles.detect(cropImage(image, tile)), tile[0], tile[1]));
    }
    return this.done(await this.refineNew(image, faces, suppress(tiled)));
  }

  /** Faces a search found that are not among `faces` yet, refined on a crop (kept coarse when that fails). */
  private async refineNew(image: RgbImage, faces: FaceDetection[], found: readonly FaceDetection[]): Promise<FaceDetection[]> {
    const out = [...faces];
    for (const coarse of found) {
      if (out.some((x) => iou(x.box, coarse.box) >= SAME_FACE_IOU)) continue;
      out.push((await this.onCrop(image, coarse.box)) ?? coarse);
    }
    return suppress(out);
  }

  /** front-128 on a square crop around `box`: the best face there, in frame pixels, or null. */
  private async onCrop(image: RgbImage, box: Box): Promise<FaceDetection | null> {
    const side = Math.max(FOLLOW_CROP * Math.max(box[2] - box[0], box[3] - box[1]), MIN_CROP);
    const cx = (box[0] + box[2]) / 2;
    const cy = (box[1] + box[3]) / 2;
    const x1 = Math.max(0, Math.round(cx - side / 2));
    const y1 = Math.max(0, Math.round(cy - side / 2));
    const x2 = Math.min(image.width, Math.round(cx + side / 2));
    const y2 = Math.min(image.height, Math.round(cy + side / 2));
    if (x2 - x1 < 8 || y2 - y1 < 8) return null;
    const found = await this.d.front.detect(cropImage(image, [x1, y1, x2, y2]));
    if (found.length === 0) return null;
    // The crop may hold a neighbour too: the face nearest the followed one.
    const near = found.reduce((a, b) => (iou(shift([b], x1, y1)[0].box, box) > iou(shift([a], x1, y1)[0].box, box) ? b : a));
    return { ...shift([near], x1, y1)[0], detector: this.cropDetector };
  }

  private done(faces: FaceDetection[]): FaceDetection[] {
    const sorted = [...faces].sort((a, b) => b.score - a.score);
    this.previous = sorted.filter((x) => x.score >= 0.5);
    return sorted;
  }
}
