/**
 * The faces stage: per frame, detect (or take the whole image), track, and pick the target face(s).
 */
import type { RgbImage } from '../media/types';
import type { BlazeFaceDetector } from '../vision/blazeface';
import { selectTargets, type TargetPolicy } from '../vision/target';
import { IouTracker } from '../vision/tracker';
import type { TrackedFace } from '../vision/types';

export class FaceStage {
  private tracker = new IouTracker();

  /** `detector` null: the whole image is the face (pre-cropped face images). */
  constructor(
    private readonly detector: BlazeFaceDetector | null,
    readonly policy: TargetPolicy = 'largest',
  ) {}

  /** The target face(s) of a frame: none, one, or (policy `all`) every tracked face. */
  async targets(frame: RgbImage, frameIndex: number): Promise<TrackedFace[]> {
    if (this.detector === null) return [{ box: [0, 0, frame.width, frame.height], score: 1, track: 1 }];
    const faces = this.tracker.update(await this.detector.detect(frame), frameIndex);
    return selectTargets(faces, this.policy, this.tracker);
  }

  /** A new stream: tracks start again from id 1. */
  reset(): void {
    this.tracker = new IouTracker();
  }
}
