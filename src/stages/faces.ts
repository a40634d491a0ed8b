/**
 * The faces stage: per frame, detect (or take the whole image), track, and pick the target face(s).
 */
import type { RgbImage } from '../media/types';
import type { FaceDetectorSource, StreamFaceDetector } from '../vision/auto-detector';
import { secondsToFrames, selectTargets, TargetSelector, type TargetPolicy } from '../vision/target';
import { IouTracker } from '../vision/tracker';
import type { TrackedFace } from '../vision/types';
import { DEFAULT_TARGET_POLICY, DEFAULT_TRACK_GAP_SECONDS } from '../defaults';

/** How the target is chosen (besides the policy); `cer analyze` and the face detector node agree on these. */
export interface FaceStageOptions {
  /** Frame rate of the stream (the steady target's times are counted in frames); default (or not a rate): 25. */
  readonly fps?: number;
  /** The reference's per-frame choice (selectTargets, a miss ends a track) instead of the steady target. */
  readonly referenceCompat?: boolean;
  /** Steady target: a detection scoring below this never becomes the target; default 0.6. */
  readonly minTargetScore?: number;
}

export class FaceStage {
  private tracker: IouTracker;
  /** The steady target (policies largest and longest-seen, without referenceCompat); null: per frame. */
  private readonly selector: TargetSelector | null;
  private readonly maxMissedFrames: number;
  /** The detector's state for this stream (the auto detector follows faces from frame to frame). */
  private detector: StreamFaceDetector | null;
  private seen = 0;

  /** `source` null: the whole image is the face (pre-cropped face images). */
  constructor(
    private readonly source: FaceDetectorSource | null,
    readonly policy: TargetPolicy = DEFAULT_TARGET_POLICY,
    options: FaceStageOptions = {},
  ) {
    this.detector = source?.forStream() ?? null;
    const fps = options.fps !== undefined && Number.isFinite(options.fps) && options.fps > 0 ? options.fps : 25;
    this.selector =
      policy === 'all' || options.referenceCompat === true ? null : new TargetSelector({ policy, fps, minScore: options.minTargetScore });
    // The steady target's tracks survive a short detection gap; the reference's end at a miss.
    this.maxMissedFrames = this.selector === null ? 0 : secondsToFrames(DEFAULT_TRACK_GAP_SECONDS, fps, 0);
    this.tracker = new IouTracker({ maxMissedFrames: this.maxMissedFrames });
  }

  /** The target face(s) of a frame: none, one, or (policy `all`) every tracked face. */
  async targets(frame: RgbImage, frameIndex: number): Promise<TrackedFace[]> {
    if (this.detector === null) return [{ box: [0, 0, frame.width, frame.height], score: 1, track: 1 }];
    const faces = this.tracker.update(await this.detector.detect(frame), frameIndex);
    this.seen = faces.length;
    return this.selector === null ? selectTargets(faces, this.policy, this.tracker) : this.selector.select(faces, this.tracker);
  }

  /** Faces the latest frame showed (every tracked face, whatever the target policy picked). */
  get faceCount(): number {
    return this.seen;
  }

  /** A new stream: tracks start again from id 1. */
  reset(): void {
    this.tracker = new IouTracker({ maxMissedFrames: this.maxMissedFrames });
    this.selector?.reset();
    this.detector = this.source?.forStream() ?? null;
    this.seen = 0;
  }
}
