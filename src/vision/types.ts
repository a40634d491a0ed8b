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
