/** A box in frame pixels: [x1, y1, x2, y2], x2/y2 exclusive edges. */
export type Box = [number, number, number, number];

export interface FaceDetection {
  readonly box: Box;
  readonly score: number;
  /** Detector keypoints in frame pixels (BlazeFace: eyes, nose, mouth, ears). */
  readonly keypoints?: ReadonlyArray<readonly [number, number]>;
  /** The model that found the face (the auto detector combines several). */
  readonly detector?: string;
}

export interface TrackedFace extends FaceDetection {
  /** Track id, 1-based, never reused within a stream. */
  readonly track: number;
}

/** A tracked face as results and messages carry it: box and score rounded to 1/1000. */
export interface FaceRecord {
  readonly box: Box;
  readonly score: number;
  readonly track: number;
  /** The model that found the face, or null. */
  readonly detector: string | null;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The record of a tracked face that `cer analyze`'s results and the face node's messages hold. */
export function faceRecord(face: TrackedFace): FaceRecord {
  return { box: face.box.map(round3) as Box, score: round3(face.score), track: face.track, detector: face.detector ?? null };
}
