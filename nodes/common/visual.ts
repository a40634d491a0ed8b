/**
 * One stream's visual votes, exactly as src/pipeline/analyze.ts's analyzeFrames keeps them: one
 * VisualStream for the target (a stream whose track may change), or with target `all` one per
 * track, dropped as soon as a frame lacks the track. The VS node and the VD node each keep one per
 * stream: the VS node for VS's vote (the reference's repeat on face-less frames in compat mode),
 * the VD node for VD's.
 */
import { LabelRemap } from '../../src/core/emotions';
import type { ModelSession } from '../../src/models/session';
import { SequenceModelVD, TemporalSmoothingVD, type VDStage } from '../../src/stages/vd';
import { VisualStream, type VisualVotes } from '../../src/stages/visual-stream';
import type { VSOutput } from '../../src/stages/vs';
import type { TargetPolicy } from '../../src/vision/target';

export interface FaceFrame {
  readonly frame: number;
  readonly fps: number;
  readonly policy: TargetPolicy;
  readonly tracks: readonly number[];
  readonly face: { readonly track: number } | null;
}

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

/**
 * A fresh VD stage: the sequence model when one is configured, else temporal smoothing (the same
 * construction as Pipeline.createVD).
 */
export function createVDStage(session: ModelSession | null, referenceCompat: boolean): VDStage {
  if (session === null) return new TemporalSmoothingVD({ referenceCompat });
  const m = session.manifest;
  const remap = new LabelRemap(m.labels ?? [], m.outputKind ?? 'logits');
  const dim = m.input.shape[2];
  return new SequenceModelVD({
    referenceCompat,
    dim,
    remap,
    runSequence: async (window, d) => {
      const out = await session.run({ [m.input.name]: { data: window, shape: [1, window.length / d, d] } }, [m.outputs.scores]);
      return out[m.outputs.scores].data;
    },
  });
}
