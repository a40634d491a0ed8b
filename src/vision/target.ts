/**
 * Target-person policy (REFERENCE_BEHAVIOUR.md §4): which of a frame's tracked faces to analyse.
 * The reference leaves the choice to a person; these automatic policies replace that step.
 *
 * - `largest` (default): the face with the largest box area in this frame.
 * - `longest-seen`: the face whose track has been seen in the most frames so far; ties go to
 *   the larger box.
 * - `all`: every tracked face (one stream per track).
 *
 * Remaining ties go to the lower (older) track id, so the choice does not depend on the order
 * the detector lists its boxes in.
 */
import { boxArea } from './tracker';
import type { TrackedFace } from './types';

export const TARGET_POLICIES = ['largest', 'longest-seen', 'all'] as const;
export type TargetPolicy = (typeof TARGET_POLICIES)[number];
export const DEFAULT_TARGET_POLICY: TargetPolicy = 'largest';

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
