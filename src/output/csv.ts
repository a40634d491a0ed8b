/**
 * The per-frame table (CSV, RFC 4180): one row per result (one per frame, or one per face and
 * frame with target `all`), one column per number.
 *
 * Columns: frame, t, track, face_x1, face_y1, face_x2, face_y2, face_score,
 * vs_<Emotion> ×7, vd_<Emotion> ×7, a_<Emotion> ×7, fused_<Emotion> ×7 (canonical basic order:
 * Neutral, Anger, Disgust, Fear, Happiness, Sadness, Surprise), compound_<CE> ×7 (canonical
 * compound order, names as in the ABAW header: Fearfully_Surprised, …), label, then speech and
 * mouth_open when any result has them.
 *
 * An empty cell is a null (no face, model not run, no prediction); numbers are written in full
 * precision (JavaScript's shortest round-trip form, so parsing a cell gives back the exact
 * number); a cell is quoted only when it holds a comma, a double quote or a line break. Lines end
 * with CRLF, as RFC 4180 has it.
 */
import { BASIC_EMOTIONS, COMPOUND_EXPRESSIONS } from '../core/emotions';
import type { AnalyzeResult } from '../pipeline/analyze';
import type { OutputFrame } from './frame-slots';

type Cell = number | string | null | undefined;

const VECTORS = ['vs', 'vd', 'a', 'fused'] as const;

/** The columns of an analysis's table, in order. */
export function csvColumns(result: Pick<AnalyzeResult, 'results'>): string[] {
  const rows = result.results as readonly OutputFrame[];
  const columns = ['frame', 't', 'track', 'face_x1', 'face_y1', 'face_x2', 'face_y2', 'face_score'];
  for (const v of VECTORS) for (const e of BASIC_EMOTIONS) columns.push(`${v}_${e}`);
  for (const c of COMPOUND_EXPRESSIONS) columns.push(`compound_${c.abawName}`);
  columns.push('label');
  if (rows.some((r) => r.speech !== undefined)) columns.push('speech');
  if (rows.some((r) => r.mouthOpen !== undefined)) columns.push('mouth_open');
  return columns;
}

/** One cell: empty for null (and for NaN/±Infinity, as JSON writes null), quoted where needed. */
export function csvCell(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function vectorCells(values: readonly number[] | null, width: number): Cell[] {
  if (values === null) return new Array<Cell>(width).fill(null);
  if (values.length !== width) throw new Error(`expected ${width} values, got ${values.length}`);
  return [...values];
}

/** The cells of one result, in the order of csvColumns. */
function rowCells(r: OutputFrame, withSpeech: boolean, withMouth: boolean): Cell[] {
  const face = r.face;
  const cells: Cell[] = [r.frame, r.t, face?.track, ...(face ? face.box : [null, null, null, null]), face?.score];
  for (const v of VECTORS) cells.push(...vectorCells(r[v], BASIC_EMOTIONS.length));
  cells.push(...vectorCells(r.compound, COMPOUND_EXPRESSIONS.length));
  cells.push(r.label);
  if (withSpeech) cells.push(r.speech);
  if (withMouth) cells.push(r.mouthOpen);
  return cells;
}

/** The whole table as text: a header line, then one line per result. */
export function csvText(result: Pick<AnalyzeResult, 'results'>): string {
  const rows = result.results as readonly OutputFrame[];
  const columns = csvColumns(result);
  const withSpeech = columns.includes('speech');
  const withMouth = columns.includes('mouth_open');
  const lines = [columns.map(csvCell).join(',')];
  for (const r of rows) {
    try {
      lines.push(rowCells(r, withSpeech, withMouth).map(csvCell).join(','));
    } catch (err) {
      throw new Error(`frame ${r.frame}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return lines.join('\r\n') + '\r\n';
}
