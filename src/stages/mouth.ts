/**
 * The visual voice-activity cue of the paper (§3.2): is the target speaker's mouth open?
 *
 * MediaPipe Face Mesh (src/vision/facemesh.ts) runs on the face. The cue is the inner-lip gap:
 * the distance from landmark 13 (upper inner lip, centre) to 14 (lower inner lip, centre) along
 * the face's vertical axis (perpendicular to the line through the outer eye corners 33 and 263, so
 * head roll does not shrink it), divided by the distance between those eye corners, which opening
 * the mouth does not change. The ratio is comparable across frames, image sizes and people; `open`
 * is gap > threshold (DEFAULT_MOUTH_OPEN_THRESHOLD, see there for how it was calibrated).
 */
import type { RgbImage } from '../media/types';
import type { LoadedManifest } from '../models/manifest';
import { FACEMESH_LANDMARKS, FACEMESH_MANIFEST, FaceMesh, type FaceMeshOptions, type FaceMeshResult } from '../vision/facemesh';
import type { Box } from '../vision/types';
import { DEFAULT_MOUTH_MIN_FACE_SCORE, DEFAULT_MOUTH_OPEN_THRESHOLD } from '../defaults';

export interface MouthOpenOptions extends FaceMeshOptions {
  /** Gap above which the mouth is open; default DEFAULT_MOUTH_OPEN_THRESHOLD. */
  readonly threshold?: number;
  /** Minimum mesh face score for `open` to be true; default DEFAULT_MOUTH_MIN_FACE_SCORE. */
  readonly minFaceScore?: number;
}

export interface MouthMeasure extends FaceMeshResult {
  /** Inner-lip gap / outer-eye-corner distance (0 when the lips overlap). */
  readonly gap: number;
  /** gap > threshold and the mesh is trusted (faceScore >= minFaceScore). */
  readonly open: boolean;
  /** Inner-lip gap in frame pixels (along the face's vertical axis). */
  readonly gapPx: number;
  /** Distance between the outer eye corners in frame pixels (the normaliser). */
  readonly eyeDistancePx: number;
}

export class MouthOpenCue {
  private constructor(
    private readonly mesh: FaceMesh,
    readonly threshold: number,
    readonly minFaceScore: number,
  ) {}

  /**
   * Loads the cue: the package's models/facemesh.json by default, or the path of a face-landmarks
   * manifest, or a loaded one. The onnxruntime session is shared with other users of the same
   * model and session options.
   */
  static async load(manifest: LoadedManifest | string = FACEMESH_MANIFEST, options: MouthOpenOptions = {}): Promise<MouthOpenCue> {
    const threshold = options.threshold ?? DEFAULT_MOUTH_OPEN_THRESHOLD;
    if (!(threshold > 0) || !Number.isFinite(threshold)) throw new RangeError(`mouth-open option threshold must be a positive number (got ${threshold})`);
    const minFaceScore = options.minFaceScore ?? DEFAULT_MOUTH_MIN_FACE_SCORE;
    if (!(minFaceScore >= 0 && minFaceScore <= 1)) throw new RangeError(`mouth-open option minFaceScore must be from 0 to 1 (got ${minFaceScore})`);
    return new MouthOpenCue(await FaceMesh.load(manifest, options, 'mouth-open cue'), threshold, minFaceScore);
  }

  get manifest(): LoadedManifest {
    return this.mesh.manifest;
  }

  get provider(): string {
    return this.mesh.provider;
  }

  /** Box enlargement before the mesh's crop. */
  get cropScale(): number {
    return this.mesh.cropScale;
  }

  /**
   * The mouth-open measure of the face in `faceBox` (a face detector box, [x1, y1, x2, y2] in
   * frame pixels). The face is cut out before this returns, so the caller may reuse the frame's
   * memory at once; the model runs afterwards, calls one after another.
   */
  measure(frame: RgbImage, faceBox: Readonly<Box>): Promise<MouthMeasure> {
    return this.mesh.landmarks(frame, faceBox).then((mesh) => this.gapOf(mesh));
  }

  private gapOf({ faceScore, crop, landmarks }: FaceMeshResult): MouthMeasure {
    const L = FACEMESH_LANDMARKS;
    const px = (i: number): number => landmarks[3 * i];
    const py = (i: number): number => landmarks[3 * i + 1];
    const ex = px(L.leftEyeOuter) - px(L.rightEyeOuter);
    const ey = py(L.leftEyeOuter) - py(L.rightEyeOuter);
    const eyeDistancePx = Math.hypot(ex, ey);
    let gapPx = 0;
    let gap = 0;
    if (eyeDistancePx > 0) {
      // Unit vector down the face: the eye line (person's right → left eye, i.e. image left →
      // right on a frontal face) turned 90° clockwise in image coordinates (y down).
      const nx = -ey / eyeDistancePx;
      const ny = ex / eyeDistancePx;
      const dx = px(L.lowerInnerLip) - px(L.upperInnerLip);
      const dy = py(L.lowerInnerLip) - py(L.upperInnerLip);
      gapPx = Math.max(0, dx * nx + dy * ny);
      gap = gapPx / eyeDistancePx;
    }
    const open = faceScore >= this.minFaceScore && gap > this.threshold;
    return { gap, open, faceScore, gapPx, eyeDistancePx, crop, landmarks };
  }

  /** Gives the session back (closed when no one else uses it). Further calls do nothing. */
  release(): Promise<void> {
    return this.mesh.release();
  }
}
