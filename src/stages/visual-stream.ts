/**
 * One face stream's visual votes frame by frame: VS as given, VD from the stream's own VD stage.
 * A stream that follows "the target" starts VD afresh when the target moves to another track.
 * On a frame without a face VD's window is cleared; the reference then repeats the last VS and VD
 * outputs (zeros and a uniform 1/7 before the first face), by default the frame has no votes.
 */
import { NUM_BASIC } from '../core/emotions';
import type { TargetPolicy } from '../vision/target';
import type { VDStage } from './vd';
import type { VSOutput } from './vs';

export interface VisualVotes {
  readonly vs: Float64Array | null;
  readonly vd: Float64Array | null;
}

export class VisualStream {
  private vdStage: VDStage;
  private track = -1;
  private lastVS: Float64Array = new Float64Array(NUM_BASIC);
  private lastVD: Float64Array | null = null;

  constructor(
    private readonly createVD: () => VDStage,
    private readonly referenceCompat = false,
  ) {
    this.vdStage = createVD();
  }

  /** The votes of frame `index`: `face` is the target's track and VS output, or null for no face. */
  async step(index: number, fps: number, face: { track: number; vs: VSOutput } | null): Promise<VisualVotes> {
    if (face === null) {
      const vd = await this.vdStage.update({ index, fps, face: false });
      return this.referenceCompat ? { vs: this.lastVS, vd: this.lastVD ?? vd } : { vs: null, vd: null };
    }
    if (face.track !== this.track) {
      if (this.track !== -1) this.vdStage = this.createVD();
      this.track = face.track;
    }
    const vd = await this.vdStage.update({ index, fps, face: true, vsProbs: face.vs.probs, features: face.vs.features });
    this.lastVS = face.vs.probs;
    this.lastVD = vd;
    return { vs: face.vs.probs, vd };
  }
}

/** One frame of one face stream as the visual votes need it. */
export interface FaceFrame {
  readonly frame: number;
  readonly fps: number;
  readonly policy: TargetPolicy;
  /** The tracks of the frame's target faces (with target `all`, every face's). */
  readonly tracks: readonly number[];
  readonly face: { readonly track: number } | null;
}

/**
 * One input stream's visual votes: one VisualStream for "the target" (its track may change), or
 * with target `all` one per track, dropped as soon as a frame lacks the track (an ended track never
 * comes back). `cer analyze` and the VS and VD nodes keep one per stream.
 */
export class StreamVisualVotes {
  private readonly single: VisualStream;
  private readonly perTrack = new Map<number, VisualStream>();

  constructor(
    private readonly createVD: () => VDStage,
    private readonly referenceCompat: boolean,
  ) {
    this.single = new VisualStream(createVD, referenceCompat);
  }

  /** The frame's votes; `vs` is the face's VS output (null when the frame has no face). */
  async step(f: FaceFrame, vs: VSOutput | null): Promise<VisualVotes> {
    if (f.policy === 'all') {
      for (const track of [...this.perTrack.keys()]) if (!f.tracks.includes(track)) this.perTrack.delete(track);
      if (f.face === null || vs === null) return { vs: null, vd: null };
      let stream = this.perTrack.get(f.face.track);
      if (stream === undefined) this.perTrack.set(f.face.track, (stream = new VisualStream(this.createVD, this.referenceCompat)));
      return stream.step(f.frame, f.fps, { track: f.face.track, vs });
    }
    return this.single.step(f.frame, f.fps, f.face !== null && vs !== null ? { track: f.face.track, vs } : null);
  }
}
