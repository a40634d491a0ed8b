/**
 * The ABAW compound-expression challenge format (docs/method.md §8): a header
 * `image_location,Fearfully_Surprised,…,Sadly_Angry`, then one line per video frame
 * `<video>/<frame 1-based, 5 digits>.jpg,<CE index 0-6>`.
 *
 * The challenge needs a label on every frame, and a frame where no face was found has none:
 * such a frame gets the label of the nearest labelled frame before it — the reference repeats
 * its previous outputs on a frame without a face (§6) — and frames before the first labelled
 * frame get that first frame's label. A result without any labelled frame cannot be written.
 *
 * With several faces per frame (target `all`), each frame's line is that of its largest face (the
 * face target `largest` follows), or of one named track; one file per track is had by calling
 * this once per track.
 */
import { COMPOUND_EXPRESSIONS, COMPOUND_NAMES } from '../core/emotions';
import { InputError } from '../io/errors';
import type { AnalyzeResult } from '../pipeline/analyze';
import { outputStem, selectPerFrame } from './frame-slots';

export const ABAW_HEADER = ['image_location', ...COMPOUND_EXPRESSIONS.map((c) => c.abawName)].join(',');

export interface AbawOptions {
  /** The `<video>` part of each line; default the input's base name without extension. */
  readonly video?: string;
  /** Write this track's labels (target `all`); default each frame's largest face. */
  readonly track?: number;
}

export interface AbawFrameLabel {
  /** Frame index, 0-based. */
  readonly frame: number;
  /** Compound-expression index, 0–6, canonical order. */
  readonly label: number;
  /** True when the frame had no label of its own and took a neighbour's. */
  readonly filled: boolean;
}

/** The CE index of a label name (canonical compound order). */
export function compoundIndex(label: string): number {
  const k = COMPOUND_NAMES.indexOf(label);
  if (k < 0) throw new InputError(`label "${label}" is not a compound expression (${COMPOUND_NAMES.join(', ')})`);
  return k;
}

/** One label per frame, in frame order, with frames that lack one filled as described above. */
export function abawLabels(result: Pick<AnalyzeResult, 'input' | 'results'>, options: AbawOptions = {}): AbawFrameLabel[] {
  const slots = selectPerFrame(result, { track: options.track });
  const own = slots.map((s) => (s.result !== null && s.result.label !== null ? compoundIndex(s.result.label) : -1));
  const first = own.find((k) => k >= 0);
  if (first === undefined) {
    const which = options.track !== undefined ? `track ${options.track} has` : 'it has';
    throw new InputError(`${result.input}: no frame has a compound-expression label (${which} no face with a prediction); the ABAW format needs one`);
  }
  let previous = first;
  return slots.map((s, i) => {
    if (own[i] >= 0) previous = own[i];
    return { frame: s.frame, label: previous, filled: own[i] < 0 };
  });
}

/** The frame's image name in the challenge format: `<video>/<frame 1-based, 5 digits>.jpg`. */
export function abawFrameName(video: string, frame: number): string {
  return `${video}/${String(frame + 1).padStart(5, '0')}.jpg`;
}

/** The file's text: the header, then one line per frame (LF line ends, a final newline). */
export function abawText(result: Pick<AnalyzeResult, 'input' | 'results'>, options: AbawOptions = {}): string {
  const video = options.video ?? outputStem(result.input);
  if (/[,\r\n]/.test(video)) throw new InputError(`ABAW video name "${video}" holds a comma or a line break`);
  const lines = [ABAW_HEADER];
  for (const f of abawLabels(result, options)) lines.push(`${abawFrameName(video, f.frame)},${f.label}`);
  return lines.join('\n') + '\n';
}
