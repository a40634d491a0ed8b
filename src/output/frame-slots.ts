/**
 * What the output writers share: the output name of an input, the optional per-frame fields, and
 * the choice of one result per frame when an analysis has several (target `all`).
 */
import type { AnalyzeResult, FrameResult } from '../pipeline/analyze';

/**
 * A frame's results as the writers read them: FrameResult, plus the fields that newer pipelines
 * add (voice activity, mouth opening); absent or null when the pipeline did not compute them.
 */
export type OutputFrame = FrameResult & {
  /** Voice-activity probability of the frame's audio (0–1). */
  readonly speech?: number | null;
  /** Mouth opening of the target face. */
  readonly mouthOpen?: number | null;
};

/**
 * The name of an input's outputs, without extension: the file's base name less its extension, or
 * for a stream address (scheme://…) the address less the scheme with runs of other characters
 * than letters, digits, `.`, `-` and `_` made `_`. Also the `<video>` of the ABAW format.
 */
export function outputStem(input: string): string {
  const scheme = /^[a-z]+:\/\//i;
  const base = scheme.test(input) ? input.replace(scheme, '').replace(/[^\w.-]+/g, '_') : baseName(input);
  return base.replace(/\.[^.]+$/, '') || 'stream';
}

/** The last path component, for POSIX and Windows separators alike. */
function baseName(file: string): string {
  const parts = file.split(/[\\/]/).filter((p) => p.length > 0);
  return parts.length > 0 ? parts[parts.length - 1] : '';
}

/** Area of a face box (0 without a face). */
function faceArea(r: FrameResult): number {
  if (r.face === null) return 0;
  const [x1, y1, x2, y2] = r.face.box;
  return Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
}

export interface FrameSlot {
  /** Frame index, 0-based. */
  readonly frame: number;
  /** Time of the frame, seconds. */
  readonly t: number;
  /** The chosen result of that frame; null when the chosen track is not in it. */
  readonly result: OutputFrame | null;
}

export interface SelectOptions {
  /** Take only this track's results; frames where it is absent get no result. */
  readonly track?: number;
}

/**
 * One result per frame, in frame order. An analysis has one result per frame, except with target
 * `all`, which has one per face and frame: then the frame's largest face (by box area; the first
 * on a tie) is taken — the same face target `largest` would follow — unless a track is named.
 * A frame where no face was found is still listed (its result has no face).
 */
export function selectPerFrame(result: Pick<AnalyzeResult, 'results'>, options: SelectOptions = {}): FrameSlot[] {
  const slots: FrameSlot[] = [];
  const rows = result.results as readonly OutputFrame[];
  let i = 0;
  while (i < rows.length) {
    const frame = rows[i].frame;
    let chosen: OutputFrame | null = null;
    let j = i;
    for (; j < rows.length && rows[j].frame === frame; j++) {
      const r = rows[j];
      if (options.track !== undefined) {
        if (r.face !== null && r.face.track === options.track) chosen = r;
      } else if (chosen === null || faceArea(r) > faceArea(chosen)) {
        chosen = r;
      }
    }
    slots.push({ frame, t: rows[i].t, result: chosen });
    i = j;
  }
  return slots;
}
