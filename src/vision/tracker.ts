/**
 * IoU face tracker (docs/method.md §4).
 *
 * Per frame: the frame's detections are matched against the live tracklets by an optimal
 * (Hungarian) assignment over their IoU; a pair counts as a match only when its IoU reaches
 * the threshold (default 0.4). A tracklet not matched in a frame is dropped at once (a frame
 * with no face ends every track), and every unmatched detection starts a new tracklet with a
 * new id: 1-based, increasing, never reused within the tracker's life.
 *
 * Deviation, off by default (maxMissedFrames 0 is the reference): with maxMissedFrames > 0 a
 * tracklet not matched survives up to that many frames without a detection, still matched against
 * its last box, so a face whose detection drops for a frame or two keeps its id. The steady target
 * (TargetSelector) uses it; `--reference-compat` and target `all` do not.
 *
 * Threshold: a pair matches when IoU >= threshold (inclusive). The reference tracker keeps a
 * pair when its distance 1 - IoU is <= 1 - threshold, which is the same inclusive test; an IoU
 * of exactly 0.4 therefore continues the track.
 *
 * Objective: pairs below the threshold are given a prohibitive cost, so the assignment first
 * maximises the NUMBER of matches and, among assignments with that many matches, the summed
 * IoU (it minimises the summed 1 - IoU). That is the objective of the reference tracker; it
 * differs from "maximise the summed IoU" only when one very good pair would cost two
 * acceptable ones, and then it keeps both tracks alive.
 */
import { munkres } from 'munkres';
import type { Box, FaceDetection, TrackedFace } from './types';
import { DEFAULT_TRACK_IOU_THRESHOLD } from '../defaults';

/** Area of a box; 0 for an empty or inverted one. */
export function boxArea(box: Box): number {
  return Math.max(0, box[2] - box[0]) * Math.max(0, box[3] - box[1]);
}

/** Intersection over union of two boxes; 0 when they do not overlap or both are empty. */
export function iou(a: Box, b: Box): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = boxArea(a) + boxArea(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** What the tracker knows about one live track. */
export interface TrackInfo {
  readonly id: number;
  /** Frame index of the first frame the track was seen in. */
  readonly firstFrame: number;
  /** Frame index of the latest frame the track was seen in. */
  readonly lastFrame: number;
  /** Frames the track has been seen in (consecutive unless maxMissedFrames > 0 bridged a gap). */
  readonly framesSeen: number;
  /** The track's box in its latest frame. */
  readonly box: Box;
  /** Area of that box. */
  readonly area: number;
}

export interface IouTrackerOptions {
  /** IoU a detection needs with a tracklet to continue it (inclusive); default 0.4. */
  readonly iouThreshold?: number;
  /**
   * Boxes whose area is below minFaceSize² (and empty boxes) are not tracked and left out of
   * the output, as the reference's `minimum_face_size`; default 0 (only empty boxes dropped).
   */
  readonly minFaceSize?: number;
  /**
   * Frames in a row a tracklet may go without a detection and live on (matched against its last
   * box); default 0, the reference's: a miss ends the track.
   */
  readonly maxMissedFrames?: number;
}

interface Tracklet {
  id: number;
  firstFrame: number;
  lastFrame: number;
  framesSeen: number;
  box: Box;
  area: number;
}

function snapshot(t: Tracklet): TrackInfo {
  return {
    id: t.id,
    firstFrame: t.firstFrame,
    lastFrame: t.lastFrame,
    framesSeen: t.framesSeen,
    box: [t.box[0], t.box[1], t.box[2], t.box[3]],
    area: t.area,
  };
}

export class IouTracker {
  readonly iouThreshold: number;
  readonly minFaceSize: number;
  readonly maxMissedFrames: number;
  private tracklets: Tracklet[] = [];
  private lastId = 0;
  private nextFrame = 0;

  constructor(options: IouTrackerOptions = {}) {
    const threshold = options.iouThreshold ?? DEFAULT_TRACK_IOU_THRESHOLD;
    if (!(threshold >= 0 && threshold <= 1)) throw new Error(`iouThreshold must lie in [0, 1], got ${threshold}`);
    const minFaceSize = options.minFaceSize ?? 0;
    if (!(minFaceSize >= 0)) throw new Error(`minFaceSize must be >= 0, got ${minFaceSize}`);
    const maxMissed = options.maxMissedFrames ?? 0;
    if (!(Number.isInteger(maxMissed) && maxMissed >= 0)) throw new Error(`maxMissedFrames must be a whole number >= 0, got ${maxMissed}`);
    this.iouThreshold = threshold;
    this.minFaceSize = minFaceSize;
    this.maxMissedFrames = maxMissed;
  }

  /**
   * Tracks one frame's detections. `frameIndex` defaults to the number of frames given so far
   * (0 for the first call); it only feeds the tracks' firstFrame/lastFrame bookkeeping.
   * Returns the tracked faces in the detections' order (boxes too small to track left out).
   */
  update(detections: readonly FaceDetection[], frameIndex: number = this.nextFrame): TrackedFace[] {
    this.nextFrame = frameIndex + 1;

    const minArea = this.minFaceSize * this.minFaceSize;
    const areas = detections.map((d) => boxArea(d.box));
    const trackable = areas.map((a) => a > 0 && a >= minArea);
    const rows: number[] = [];
    for (let i = 0; i < detections.length; i++) if (trackable[i]) rows.push(i);

    const assigned = new Array<Tracklet | undefined>(detections.length).fill(undefined);
    const live = this.tracklets;
    const matched = new Set<Tracklet>();

    if (rows.length > 0 && live.length > 0) {
      // Cost 1 - IoU for pairs that may match; pairs below the threshold cost more than any
      // full set of eligible pairs could, so the assignment maximises the match count first.
      const blocked = 2 * Math.min(rows.length, live.length) + 1;
      const overlaps = rows.map((i) => live.map((t) => iou(detections[i].box, t.box)));
      const costs = overlaps.map((row) => row.map((v) => (v >= this.iouThreshold ? 1 - v : blocked)));
      for (const [r, c] of munkres(costs)) {
        if (overlaps[r][c] >= this.iouThreshold) {
          assigned[rows[r]] = live[c];
          matched.add(live[c]);
        }
      }
    }

    // Unmatched tracklets end here (or, with maxMissedFrames, once their gap grows longer).
    const next: Tracklet[] = live.filter((t) => matched.has(t) || frameIndex - t.lastFrame <= this.maxMissedFrames);
    const out: TrackedFace[] = [];
    detections.forEach((d, i) => {
      if (!trackable[i]) return;
      let t = assigned[i];
      if (t === undefined) {
        t = { id: ++this.lastId, firstFrame: frameIndex, lastFrame: frameIndex, framesSeen: 0, box: d.box, area: 0 };
        next.push(t);
      }
      t.framesSeen += 1;
      t.lastFrame = frameIndex;
      t.box = [d.box[0], d.box[1], d.box[2], d.box[3]];
      t.area = areas[i];
      out.push({ ...d, track: t.id });
    });
    this.tracklets = next;
    return out;
  }

  /** The live tracks (those seen in the latest frame, or in a gap maxMissedFrames bridges), oldest first. */
  tracks(): TrackInfo[] {
    return [...this.tracklets].sort((a, b) => a.id - b.id).map(snapshot);
  }

  /** What is known about a live track; undefined once it has ended (or never existed). */
  info(track: number): TrackInfo | undefined {
    const t = this.tracklets.find((x) => x.id === track);
    return t === undefined ? undefined : snapshot(t);
  }

  /** Highest id handed out so far (0 before the first track). */
  get lastTrackId(): number {
    return this.lastId;
  }

  /** Starts a new stream: no live tracks, ids restart at 1, frames count from 0. */
  reset(): void {
    this.tracklets = [];
    this.lastId = 0;
    this.nextFrame = 0;
  }
}
