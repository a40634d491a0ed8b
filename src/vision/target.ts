/**
 * Target-person policy (docs/method.md §4): which of a frame's tracked faces to analyse.
 * The reference leaves the choice to a person; these automatic policies replace that step.
 *
 * - `largest` (default): the face with the largest box area.
 * - `longest-seen`: the face whose track has been seen in the most frames so far; ties go to
 *   the larger box.
 * - `all`: every tracked face (one stream per track).
 *
 * Two ways to apply `largest` and `longest-seen`:
 * - selectTargets: per frame, the best face of that frame (the `--reference-compat` behaviour:
 *   the target may jump from frame to frame, to any detection);
 * - TargetSelector (the default): the target is a track, kept from frame to frame. A track
 *   becomes a candidate once it has been seen confidently for a short while, low-score
 *   detections never become the target, and the target changes only when another candidate has
 *   been clearly better for a stretch of time (hysteresis), or at once when the target's track ends.
 *
 * Remaining ties go to the lower (older) track id, so the choice does not depend on the order
 * the detector lists its boxes in.
 */
import { boxArea } from './tracker';
import type { TrackedFace } from './types';
import { DEFAULT_CANDIDATE_SECONDS, DEFAULT_MIN_TARGET_SCORE, DEFAULT_SWITCH_AREA_RATIO, DEFAULT_SWITCH_SECONDS, DEFAULT_TARGET_POLICY } from '../defaults';

export const TARGET_POLICIES = ['largest', 'longest-seen', 'all'] as const;
export type TargetPolicy = (typeof TARGET_POLICIES)[number];

/** Where `longest-seen` looks up how many frames a track has been seen in (an IouTracker fits). */
export interface TrackFrameCounts {
  info(track: number): { readonly framesSeen: number } | undefined;
}

export function isTargetPolicy(value: string): value is TargetPolicy {
  return (TARGET_POLICIES as readonly string[]).includes(value);
}

export function parseTargetPolicy(value: string): TargetPolicy {
  const v = value.trim().toLowerCase();
  if (!isTargetPolicy(v)) throw new Error(`unknown target policy "${value}"; expected one of ${TARGET_POLICIES.join(', ')}`);
  return v;
}

/**
 * The chosen face(s) of one frame: none for a frame without faces, one for `largest` and
 * `longest-seen`, every face (in the given order) for `all`. `longest-seen` needs `tracks`;
 * a track it does not know counts as seen in 0 frames.
 */
export function selectTargets(
  faces: readonly TrackedFace[],
  policy: TargetPolicy = DEFAULT_TARGET_POLICY,
  tracks?: TrackFrameCounts,
): TrackedFace[] {
  if (faces.length === 0) return [];
  switch (policy) {
    case 'all':
      return [...faces];
    case 'largest':
      return [best(faces, (f) => [boxArea(f.box)])];
    case 'longest-seen': {
      if (tracks === undefined) throw new Error('the longest-seen target policy needs the tracker (frames seen per track)');
      return [best(faces, (f) => [tracks.info(f.track)?.framesSeen ?? 0, boxArea(f.box)])];
    }
    default: {
      const unknown: never = policy;
      throw new Error(`unknown target policy ${String(unknown)}`);
    }
  }
}

/** The face with the lexicographically largest key; remaining ties to the lower track id. */
function best(faces: readonly TrackedFace[], key: (f: TrackedFace) => number[]): TrackedFace {
  let chosen = faces[0];
  let chosenKey = key(chosen);
  for (let i = 1; i < faces.length; i++) {
    const f = faces[i];
    const k = key(f);
    let cmp = 0;
    for (let j = 0; j < k.length && cmp === 0; j++) cmp = Math.sign(k[j] - chosenKey[j]);
    if (cmp > 0 || (cmp === 0 && f.track < chosen.track)) {
      chosen = f;
      chosenKey = k;
    }
  }
  return chosen;
}

/** Where the steady target looks up whether a track lives and since when (an IouTracker fits). */
export interface TrackHistory {
  info(track: number): { readonly firstFrame: number } | undefined;
}

/** The minimum target score from a setting: a number from 0 to 1 (a string as typed, or a number). */
export function parseMinTargetScore(value: string | number): number {
  const n = typeof value === 'number' ? value : value.trim() === '' ? NaN : Number(value);
  if (!(Number.isFinite(n) && n >= 0 && n <= 1)) throw new Error(`expected a score from 0 to 1, got "${String(value)}"`);
  return n;
}

/** Seconds as whole frames at `fps` (at least `min`). */
export function secondsToFrames(seconds: number, fps: number, min = 1): number {
  return Math.max(min, Math.round(seconds * fps));
}

export interface TargetSelectorOptions {
  /** `largest` or `longest-seen` (`all` needs no choosing: every face is a target). */
  readonly policy: Exclude<TargetPolicy, 'all'>;
  /** Frame rate of the stream: the times below are counted in its frames. */
  readonly fps: number;
  /** A detection scoring below this never becomes the target; default 0.6. */
  readonly minScore?: number;
  /** Consecutive frames with score >= minScore that make a track a candidate: this long; default 0.1 s. */
  readonly candidateSeconds?: number;
  /** Another candidate must beat the target on every frame for this long to take over; default 0.5 s. */
  readonly switchSeconds?: number;
  /** `largest`: "beats" means a box area at least this many times the target's; default 1.2. */
  readonly switchAreaRatio?: number;
}

interface TrackState {
  /** Consecutive frames, up to now, with a detection scoring >= minScore. */
  confident: number;
  /** Seen confidently for candidateFrames frames in a row at some point of its life. */
  candidate: boolean;
  /** Consecutive frames, up to now, in which this track (a candidate) beat the target. */
  beating: number;
}

/**
 * The steady target of one stream (`largest` or `longest-seen`), frame by frame. Rules:
 *
 * 1. Confidence: a detection scoring below minScore never becomes the target. A track is a
 *    *candidate* once it has had candidateFrames consecutive confident detections.
 * 2. Start: while there is no target, the best (policy) candidate of the frame is taken at once; if
 *    no candidate is in the frame, the best confident face is (so a clip whose one face is found
 *    from frame 0 has it as the target from frame 0).
 * 3. Keep: the target's track stays the target while it lives, also on frames where its own
 *    detection scores below minScore. On a frame where the target's track is alive but not
 *    detected (a gap the tracker bridges, see IouTracker's maxMissedFrames) there is no target face.
 * 4. Switch: another candidate takes over only after beating the target on switchFrames frames in
 *    a row with confident detections (`largest`: box area >= switchAreaRatio × the target's;
 *    `longest-seen`: first seen earlier, which happens only when the target was taken while an
 *    older track was not yet a candidate). Among several that qualify, the best (policy) wins.
 *
 * `longest-seen` here ranks tracks by their first frame (seen for the longest time), not by the
 * frames they were detected in: a gap the tracker bridged does not make a track "shorter".
 * 5. End: when the target's track ends, the target is chosen again at once as in rule 2. So it is
 *    when the target is missing from a frame whose faces are all new tracks, one of them
 *    confident (a cut to another shot): that is no detection gap to wait out.
 *
 * Deterministic: it depends only on the faces given (ties go to the lower track id).
 */
export class TargetSelector {
  readonly policy: Exclude<TargetPolicy, 'all'>;
  readonly minScore: number;
  readonly candidateFrames: number;
  readonly switchFrames: number;
  readonly switchAreaRatio: number;
  private readonly state = new Map<number, TrackState>();
  private target: number | null = null;

  constructor(options: TargetSelectorOptions) {
    const { policy, fps } = options;
    if ((policy as string) === 'all' || !isTargetPolicy(policy)) throw new Error(`TargetSelector chooses one face: policy largest or longest-seen, got ${String(policy)}`);
    if (!(Number.isFinite(fps) && fps > 0)) throw new Error(`fps must be > 0, got ${fps}`);
    const minScore = options.minScore ?? DEFAULT_MIN_TARGET_SCORE;
    if (!(minScore >= 0 && minScore <= 1)) throw new Error(`minScore must lie in [0, 1], got ${minScore}`);
    const candidateSeconds = options.candidateSeconds ?? DEFAULT_CANDIDATE_SECONDS;
    const switchSeconds = options.switchSeconds ?? DEFAULT_SWITCH_SECONDS;
    if (!(candidateSeconds >= 0)) throw new Error(`candidateSeconds must be >= 0, got ${candidateSeconds}`);
    if (!(switchSeconds >= 0)) throw new Error(`switchSeconds must be >= 0, got ${switchSeconds}`);
    const ratio = options.switchAreaRatio ?? DEFAULT_SWITCH_AREA_RATIO;
    if (!(ratio >= 1)) throw new Error(`switchAreaRatio must be >= 1, got ${ratio}`);
    this.policy = policy;
    this.minScore = minScore;
    this.candidateFrames = secondsToFrames(candidateSeconds, fps);
    this.switchFrames = secondsToFrames(switchSeconds, fps);
    this.switchAreaRatio = ratio;
  }

  /** The track of the current target, or null. */
  get targetTrack(): number | null {
    return this.target;
  }

  /**
   * The target of a frame (none or one face), given the frame's tracked faces and the tracker,
   * which tells which tracks are alive and since which frame each has been seen.
   */
  select(faces: readonly TrackedFace[], tracks: TrackHistory): TrackedFace[] {
    // Tracks that ended are forgotten (ids are never reused).
    for (const id of [...this.state.keys()]) if (tracks.info(id) === undefined) this.state.delete(id);
    if (this.target !== null && tracks.info(this.target) === undefined) this.target = null;

    const confident: TrackedFace[] = [];
    const candidates: TrackedFace[] = [];
    let allNew = faces.length > 0;
    for (const f of faces) {
      let st = this.state.get(f.track);
      if (st === undefined) this.state.set(f.track, (st = { confident: 0, candidate: false, beating: 0 }));
      else allNew = false;
      st.confident = f.score >= this.minScore ? st.confident + 1 : 0;
      if (st.confident >= this.candidateFrames) st.candidate = true;
      if (f.score >= this.minScore) {
        confident.push(f);
        if (st.candidate) candidates.push(f);
      }
    }
    // Tracks not in this frame (in a gap) break their streaks.
    const here = new Set(faces.map((f) => f.track));
    for (const [id, st] of this.state) {
      if (!here.has(id)) {
        st.confident = 0;
        st.beating = 0;
      }
    }

    // A cut: the target is not in the frame and every face in it is new (a new shot, or the one
    // face moved too far for the tracker): the target's track is over, as in the reference.
    if (this.target !== null && allNew && confident.length > 0 && !faces.some((f) => f.track === this.target)) this.target = null;

    if (this.target === null) {
      const pool = candidates.length > 0 ? candidates : confident;
      if (pool.length === 0) return [];
      const chosen = this.best(pool, tracks);
      this.take(chosen.track);
      return [chosen];
    }

    const current = faces.find((f) => f.track === this.target);
    if (current === undefined) {
      // The target is in a detection gap: no face this frame, and no one gains on it meanwhile.
      for (const st of this.state.values()) st.beating = 0;
      return [];
    }
    const qualified: TrackedFace[] = [];
    for (const f of faces) {
      if (f.track === current.track) continue;
      const st = this.state.get(f.track) as TrackState;
      if (candidates.includes(f) && this.beats(f, current, tracks)) {
        st.beating += 1;
        if (st.beating >= this.switchFrames) qualified.push(f);
      } else st.beating = 0;
    }
    if (qualified.length === 0) return [current];
    const chosen = this.best(qualified, tracks);
    this.take(chosen.track);
    return [chosen];
  }

  /** A new stream: no target, no tracks known. */
  reset(): void {
    this.state.clear();
    this.target = null;
  }

  private take(track: number): void {
    this.target = track;
    for (const st of this.state.values()) st.beating = 0;
  }

  private beats(challenger: TrackedFace, target: TrackedFace, tracks: TrackHistory): boolean {
    if (this.policy === 'largest') return boxArea(challenger.box) >= this.switchAreaRatio * boxArea(target.box);
    return since(challenger, tracks) < since(target, tracks);
  }

  private best(faces: readonly TrackedFace[], tracks: TrackHistory): TrackedFace {
    return this.policy === 'largest' ? best(faces, (f) => [boxArea(f.box)]) : best(faces, (f) => [-since(f, tracks), boxArea(f.box)]);
  }
}

/** The first frame of a face's track (seen longest: the earliest; a bridged gap does not count against it). */
function since(face: TrackedFace, tracks: TrackHistory): number {
  return tracks.info(face.track)?.firstFrame ?? Number.POSITIVE_INFINITY;
}
