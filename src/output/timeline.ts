/**
 * A timeline picture of the predicted compound expressions, like Figure 3 of the paper: one row
 * each for the static visual (VS), dynamic visual (VD) and acoustic (A) models and for their
 * fusion (AV); along each row, every frame is coloured by the compound expression (CE) predicted
 * for it. A model's own CE is the argmax of the rule-free pair sums of its 7 probabilities; the
 * AV row shows the analysis's label (its fusion and rule). A legend names the 7 CEs, the axis is
 * in seconds, the input's name is the title. With several faces (target `all`) the four rows come
 * first for the largest face of each frame, then once per track (up to MAX_TRACK_GROUPS, the
 * tracks seen longest), each group headed by its track.
 *
 * With `weighted`, a model's row is drawn as the authors' reference code draws it: the argmax of the
 * analysis's rule applied to P_m ⊙ w_m · v_m, the model's probabilities times its weights in the
 * analysis's fusion (paper §3.3: w_m its row of W, v_m its hierarchical weight, 1 unless
 * hierarchical; 1/M and 1 for the plain average). A model outside the fusion then has no row.
 *
 * Drawn as SVG and rendered to PNG by resvg (a Rust renderer in a prebuilt npm binary: no browser,
 * no downloads). Text needs one font on the machine: resvg reads the system's fonts (on Debian,
 * fonts-dejavu-core gives DejaVu Sans); `fontFiles` or the environment variable CER_FONT (a
 * .ttf/.otf path) adds one.
 */
import * as path from 'node:path';
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { argmax, COMPOUND_EXPRESSIONS, NUM_BASIC, NUM_COMPOUND } from '../core/emotions';
import type { FusionSpec } from '../core/fusion';
import { modelsOfFusion, resolveFusion } from '../core/fusion-settings';
import { compoundScores, type Rule } from '../core/rules';
import type { AnalyzeResult } from '../pipeline/analyze';
import { compoundIndex } from './abaw';
import { type FrameSlot, selectPerFrame } from './frame-slots';

export const TIMELINE_ROWS = ['VS', 'VD', 'A', 'AV'] as const;
export type TimelineRow = (typeof TIMELINE_ROWS)[number];

/** One colour per CE, canonical order (Okabe–Ito's colour-blind-safe palette, black left out). */
export const CE_COLOURS: readonly string[] = [
  '#E69F00', // Fearfully Surprised: orange
  '#F0E442', // Happily Surprised: yellow
  '#56B4E9', // Sadly Surprised: sky blue
  '#009E73', // Disgustedly Surprised: bluish green
  '#D55E00', // Angrily Surprised: vermillion
  '#CC79A7', // Sadly Fearful: reddish purple
  '#0072B2', // Sadly Angry: blue
];
/** The colour of a frame without a prediction (no face) in a row whose model ran. */
export const NO_PREDICTION_COLOUR = '#E4E7EB';

const ROW_TITLES: Readonly<Record<TimelineRow, string>> = {
  VS: 'static visual',
  VD: 'dynamic visual',
  A: 'acoustic',
  AV: 'fusion',
};

export interface TimelineOptions {
  /** Picture width in pixels at scale 1; default 1280. */
  readonly width?: number;
  /** Pixel density: 2 draws the same picture at twice the pixels; default 1. */
  readonly scale?: number;
  /** Follow this track (target `all`); default each frame's largest face. */
  readonly track?: number;
  /** Font files (.ttf/.otf) to use besides the system's; CER_FONT in the environment adds one. */
  readonly fontFiles?: readonly string[];
  /** Each model's row as the reference draws it: the rule on P_m ⊙ w_m · v_m (see the module comment). */
  readonly weighted?: boolean;
}

export interface TimelineData {
  readonly slots: FrameSlot[];
  /** Per row, per frame: the CE index, or null where the frame has no prediction. */
  readonly rows: Readonly<Record<TimelineRow, ReadonlyArray<number | null>>>;
  /** Per row: whether its model gave anything at all (a row without is drawn as "not used"). */
  readonly present: Readonly<Record<TimelineRow, boolean>>;
  /** Weighted rows only: the models' rows that have no weight in the analysis's fusion (drawn empty). */
  readonly unfused: readonly TimelineRow[];
}

const MODEL_ROWS = ['VS', 'VD', 'A'] as const;
type ModelRow = (typeof MODEL_ROWS)[number];
const VOTE_OF: Readonly<Record<ModelRow, 'vs' | 'vd' | 'a'>> = { VS: 'vs', VD: 'vd', A: 'a' };

/**
 * Per model row, w_m · v_m of the analysis's fusion (7 numbers), or null for a model outside it.
 * The models a fusion covers are the analysis's: a preset's rows, else VS, VD (and A for three rows of weights).
 */
export function rowWeights(fusion: FusionSpec): Readonly<Record<ModelRow, Float64Array | null>> {
  const resolved = resolveFusion(fusion, modelsOfFusion(fusion, ['vs', 'vd']));
  const out: Record<ModelRow, Float64Array | null> = { VS: null, VD: null, A: null };
  for (const row of MODEL_ROWS) {
    const m = resolved.models.indexOf(VOTE_OF[row]);
    if (m < 0) continue;
    out[row] = resolved.W.slice(m * NUM_BASIC, (m + 1) * NUM_BASIC).map((w) => w * resolved.v[m]);
  }
  return out;
}

/** The CE of each row at each frame. */
export function timelineData(
  result: Pick<AnalyzeResult, 'input' | 'results'> & Partial<Pick<AnalyzeResult, 'fusion' | 'rule'>>,
  options: Pick<TimelineOptions, 'track' | 'weighted'> = {},
): TimelineData {
  const slots = selectPerFrame(result, { track: options.track });
  let weights: Readonly<Record<ModelRow, Float64Array | null>> | null = null;
  let rule: Rule = 'none';
  if (options.weighted === true) {
    if (result.fusion === undefined || result.rule === undefined) throw new Error('timeline: weighted rows need the analysis\'s fusion and rule');
    weights = rowWeights(result.fusion);
    rule = result.rule;
  }
  const scaled = new Float64Array(NUM_BASIC);
  const modelCE = (row: ModelRow, values: readonly number[] | null | undefined): number | null => {
    if (!values) return null;
    if (weights === null) return argmax(compoundScores(values, 'none'), 0, NUM_COMPOUND);
    const w = weights[row];
    if (w === null) return null;
    for (let c = 0; c < NUM_BASIC; c++) scaled[c] = values[c] * w[c];
    return argmax(compoundScores(scaled, rule), 0, NUM_COMPOUND);
  };
  const rows: Record<TimelineRow, Array<number | null>> = {
    VS: slots.map((s) => modelCE('VS', s.result?.vs)),
    VD: slots.map((s) => modelCE('VD', s.result?.vd)),
    A: slots.map((s) => modelCE('A', s.result?.a)),
    AV: slots.map((s) => (s.result?.label ? compoundIndex(s.result.label) : null)),
  };
  const present = {} as Record<TimelineRow, boolean>;
  for (const row of TIMELINE_ROWS) present[row] = rows[row].some((k) => k !== null);
  const unfused = weights === null ? [] : MODEL_ROWS.filter((row) => weights[row] === null);
  return { slots, rows, present, unfused };
}

/** Most per-track row groups in one picture (the tracks seen in the most frames). */
export const MAX_TRACK_GROUPS = 6;

/** One group of the four rows: the largest face per frame (track null), or one track. */
export interface TimelineGroup {
  readonly track: number | null;
  /** Frames the track is seen in (for the largest-face group, frames with a face). */
  readonly frames: number;
  /** Top of the group's header line (null for the first group, which has none). */
  readonly headerTop: number | null;
  readonly rows: Readonly<Record<TimelineRow, { readonly top: number; readonly height: number }>>;
}

/** Where things are in the picture, in pixels at scale 1. */
export interface TimelineLayout {
  readonly width: number;
  readonly height: number;
  readonly plotLeft: number;
  readonly plotRight: number;
  /** The time span of the plot, seconds (frame numbers for an input without a frame rate). */
  readonly t0: number;
  readonly t1: number;
  /** Each row's top and height (of the first group: `track`'s, or the largest face's). */
  readonly rows: Readonly<Record<TimelineRow, { readonly top: number; readonly height: number }>>;
  /** The row groups: one, or with several tracks (and no `track` asked for) one more per track. */
  readonly groups: readonly TimelineGroup[];
  /** Per frame: its segment's start and end x (whole pixels). */
  readonly frameX: ReadonlyArray<readonly [number, number]>;
  readonly axisY: number;
  readonly legendTop: number;
  /** True when the axis counts frames (no frame rate known), else seconds. */
  readonly inFrames: boolean;
}

const TOP = 78;
const ROW_HEIGHT = 40;
const ROW_GAP = 8;
const AV_GAP = 16;
const LEGEND_COLUMNS = 5;
const LEGEND_ROW = 24;
const GROUP_HEADER = 30;

/**
 * The tracks that get a row group of their own: with several tracks in the results (target `all`)
 * and no `track` asked for, the MAX_TRACK_GROUPS seen in the most frames, in track order.
 */
export function trackGroups(result: Pick<AnalyzeResult, 'results'>, options: Pick<TimelineOptions, 'track'> = {}): Array<{ track: number; frames: number }> {
  if (options.track !== undefined) return [];
  const frames = new Map<number, number>();
  for (const r of result.results) if (r.face !== null) frames.set(r.face.track, (frames.get(r.face.track) ?? 0) + 1);
  if (frames.size < 2) return [];
  return [...frames]
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, MAX_TRACK_GROUPS)
    .sort((a, b) => a[0] - b[0])
    .map(([track, n]) => ({ track, frames: n }));
}

/** Start and end time of each frame: up to the next frame; the last lasts one frame period. */
function frameSpans(result: Pick<AnalyzeResult, 'fps'>, slots: readonly FrameSlot[], inFrames: boolean): Array<[number, number]> {
  const at = (s: FrameSlot): number => (inFrames ? s.frame : s.t);
  const steps: number[] = [];
  for (let i = 1; i < slots.length; i++) {
    const d = at(slots[i]) - at(slots[i - 1]);
    if (d > 0) steps.push(d);
  }
  steps.sort((a, b) => a - b);
  const period = inFrames ? 1 : result.fps ? 1 / result.fps : steps.length > 0 ? steps[steps.length >> 1] : 1;
  return slots.map((s, i) => {
    const start = at(s);
    const next = i + 1 < slots.length ? at(slots[i + 1]) : start + period;
    return [start, next > start ? next : start + period];
  });
}

export function timelineLayout(result: Pick<AnalyzeResult, 'input' | 'results' | 'fps'>, options: TimelineOptions = {}): TimelineLayout {
  const width = Math.max(480, Math.round(options.width ?? 1280));
  const slots = selectPerFrame(result, { track: options.track });
  const inFrames = result.fps === null;
  const spans = frameSpans(result, slots, inFrames);
  const plotLeft = 104;
  const plotRight = width - 28;
  const t0 = Math.min(0, spans.length > 0 ? spans[0][0] : 0);
  const t1 = spans.length > 0 ? Math.max(spans[spans.length - 1][1], t0 + 1e-9) : 1;
  const x = (t: number): number => Math.round(plotLeft + ((t - t0) / (t1 - t0)) * (plotRight - plotLeft));
  let top = TOP;
  const groupRows = (): Record<TimelineRow, { top: number; height: number }> => {
    const rows = {} as Record<TimelineRow, { top: number; height: number }>;
    for (const row of TIMELINE_ROWS) {
      if (row === 'AV') top += AV_GAP - ROW_GAP;
      rows[row] = { top, height: ROW_HEIGHT };
      top += ROW_HEIGHT + ROW_GAP;
    }
    return rows;
  };
  const withFace = slots.filter((s) => s.result?.face).length;
  const groups: TimelineGroup[] = [{ track: options.track ?? null, frames: withFace, headerTop: null, rows: groupRows() }];
  for (const g of trackGroups(result, options)) {
    top += GROUP_HEADER - ROW_GAP;
    const headerTop = top - GROUP_HEADER + ROW_GAP + 6;
    groups.push({ track: g.track, frames: g.frames, headerTop, rows: groupRows() });
  }
  const rows = groups[0].rows;
  const axisY = top - ROW_GAP + 6;
  const legendTop = axisY + 60;
  const legendRows = Math.ceil((NUM_COMPOUND + 2) / LEGEND_COLUMNS);
  return {
    width,
    height: legendTop + legendRows * LEGEND_ROW + 10,
    plotLeft,
    plotRight,
    t0,
    t1,
    rows,
    groups,
    frameX: spans.map(([a, b]) => [x(a), x(b)] as const),
    axisY,
    legendTop,
    inFrames,
  };
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A readable number: at most `digits` decimals, no trailing zeros. */
function short(x: number, digits = 2): string {
  return String(Number(x.toFixed(digits)));
}

function tickStep(span: number, inFrames: boolean): number {
  const steps = inFrames
    ? [1, 2, 5, 10, 20, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000]
    : [0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
  return steps.find((s) => span / s <= 10) ?? steps[steps.length - 1] * Math.ceil(span / (10 * steps[steps.length - 1]));
}

function tickLabel(t: number, step: number, minutes: boolean): string {
  if (!minutes) return short(t, step < 1 ? 2 : 0);
  const m = Math.floor(t / 60);
  const s = Math.round(t - m * 60);
  return `${m}:${String(s).padStart(2, '0')}`;
}

function displayName(input: string): string {
  return /^[a-z]+:\/\//i.test(input) ? input : path.basename(input);
}

function subtitle(result: TimelineInput, options: TimelineOptions, multiFace: boolean): string {
  const parts: string[] = [];
  if (result.duration !== null && result.duration > 0) parts.push(`${short(result.duration)} s`);
  parts.push(`${result.frames} frame${result.frames === 1 ? '' : 's'}${result.fps ? ` at ${short(result.fps)} fps` : ''}`);
  parts.push(`VS ${result.models.vs}`, `VD ${result.models.vd}`, `A ${result.models.a ?? 'none'}`);
  parts.push(`fusion ${result.fusion.strategy}${result.fusion.preset ? ` ${result.fusion.preset}` : ''}`, `rule ${result.rule}`);
  if (options.weighted === true) parts.push('rows P·w·v');
  if (options.track !== undefined) parts.push(`track ${options.track}`);
  else if (multiFace) parts.push(trackGroups(result).length > 1 ? 'largest face per frame, then each track' : 'largest face per frame');
  return parts.join('  ·  ');
}

type TimelineInput = Pick<AnalyzeResult, 'input' | 'results' | 'fps' | 'frames' | 'duration' | 'models' | 'fusion' | 'rule'>;

const FONT_FAMILY = "'DejaVu Sans', 'Liberation Sans', Arial, Helvetica, sans-serif";

/** The timeline as an SVG document. */
export function timelineSvg(result: TimelineInput, options: TimelineOptions = {}): string {
  const L = timelineLayout(result, options);
  const data = timelineData(result, options);
  const multiFace = result.results.length > data.slots.length;
  const out: string[] = [];
  const W = L.width;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${L.height}" viewBox="0 0 ${W} ${L.height}" font-family="${FONT_FAMILY}">`,
    '<defs><pattern id="unused" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      '<rect width="8" height="8" fill="#F4F5F7"/><rect width="3" height="8" fill="#E1E4E8"/></pattern></defs>',
    `<rect width="${W}" height="${L.height}" fill="#FFFFFF"/>`,
    `<text x="${L.plotLeft}" y="34" font-size="20" font-weight="bold" fill="#1F2328">${xml(displayName(result.input))}</text>`,
    `<text x="${L.plotLeft}" y="57" font-size="12.5" fill="#59636E">${xml(subtitle(result, options, multiFace))}</text>`,
  );

  const aModel = result.models.a !== null;
  for (const group of L.groups) {
    drawGroup(out, L, group, group === L.groups[0] ? data : timelineData(result, { track: group.track ?? undefined, weighted: options.weighted }), aModel);
  }
  axisAndLegend(out, L);
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** One group's four rows (and, in a picture of several, its header). */
function drawGroup(out: string[], L: TimelineLayout, group: TimelineGroup, data: TimelineData, aModel: boolean): void {
  const plotWidth = L.plotRight - L.plotLeft;
  if (group.headerTop !== null) {
    out.push(
      `<line x1="${L.plotLeft}" y1="${group.headerTop - 6.5}" x2="${L.plotRight}" y2="${group.headerTop - 6.5}" stroke="#D0D7DE" stroke-width="1"/>`,
      `<text x="${L.plotLeft}" y="${group.headerTop + 12}" font-size="13" font-weight="bold" fill="#1F2328">track ${group.track}` +
        `<tspan font-weight="normal" fill="#59636E">\u00a0\u00a0·\u00a0\u00a0seen in ${group.frames} frame${group.frames === 1 ? '' : 's'}</tspan></text>`,
    );
  }
  for (const row of TIMELINE_ROWS) {
    const { top, height } = group.rows[row];
    const mid = top + height / 2;
    out.push(
      `<text x="${L.plotLeft - 12}" y="${mid - 1}" font-size="15" font-weight="bold" text-anchor="end" fill="#1F2328">${row}</text>`,
      `<text x="${L.plotLeft - 12}" y="${mid + 13}" font-size="9.5" text-anchor="end" fill="#6E7781">${ROW_TITLES[row]}</text>`,
    );
    if (!data.present[row]) {
      out.push(
        `<rect x="${L.plotLeft}" y="${top}" width="${plotWidth}" height="${height}" fill="url(#unused)"/>`,
        `<text x="${L.plotLeft + plotWidth / 2}" y="${mid + 4.5}" font-size="13" font-style="italic" text-anchor="middle" fill="#6E7781">` +
          `${emptyRowText(row, data, aModel)}</text>`,
      );
      continue;
    }
    out.push(`<rect x="${L.plotLeft}" y="${top}" width="${plotWidth}" height="${height}" fill="${NO_PREDICTION_COLOUR}"/>`);
    // Runs of frames with the same CE make one rectangle each, edges on whole pixels.
    out.push('<g shape-rendering="crispEdges">');
    const ces = data.rows[row];
    let i = 0;
    while (i < ces.length) {
      let j = i + 1;
      while (j < ces.length && ces[j] === ces[i]) j++;
      const k = ces[i];
      const x0 = L.frameX[i][0];
      const x1 = L.frameX[j - 1][1];
      if (k !== null && x1 > x0) out.push(`<rect x="${x0}" y="${top}" width="${x1 - x0}" height="${height}" fill="${CE_COLOURS[k]}"/>`);
      i = j;
    }
    out.push('</g>');
  }
  // A hairline frame around the rows.
  for (const row of TIMELINE_ROWS) {
    const { top, height } = group.rows[row];
    out.push(`<rect x="${L.plotLeft - 0.5}" y="${top - 0.5}" width="${plotWidth + 1}" height="${height + 1}" fill="none" stroke="#AFB8C1" stroke-width="1"/>`);
  }
}

/** What an empty row says. */
function emptyRowText(row: TimelineRow, data: TimelineData, aModel: boolean): string {
  if (row === 'AV') return 'no prediction';
  if ((data.unfused as readonly string[]).includes(row)) return `the ${ROW_TITLES[row]} model has no weight in this fusion`;
  if (row === 'A' && aModel) return 'no acoustic vote: no speech in this input';
  return `no ${ROW_TITLES[row]} model in this analysis`;
}

/** The time axis under the last group, and the legend. */
function axisAndLegend(out: string[], L: TimelineLayout): void {
  const plotWidth = L.plotRight - L.plotLeft;
  // Time axis.
  const span = L.t1 - L.t0;
  const step = tickStep(span, L.inFrames);
  const minutes = !L.inFrames && step >= 60;
  out.push(`<line x1="${L.plotLeft}" y1="${L.axisY + 0.5}" x2="${L.plotRight}" y2="${L.axisY + 0.5}" stroke="#59636E" stroke-width="1"/>`);
  const first = Math.ceil(L.t0 / step - 1e-9);
  for (let n = first; n * step <= L.t1 + 1e-9; n++) {
    const t = n * step;
    const x = Math.round(L.plotLeft + ((t - L.t0) / span) * plotWidth) + 0.5;
    out.push(
      `<line x1="${x}" y1="${L.axisY}" x2="${x}" y2="${L.axisY + 6}" stroke="#59636E" stroke-width="1"/>`,
      `<text x="${x}" y="${L.axisY + 21}" font-size="12" text-anchor="middle" fill="#1F2328">${tickLabel(t, step, minutes)}</text>`,
    );
  }
  const axisTitle = L.inFrames ? 'frame' : minutes ? 'time (min:s)' : 'time (s)';
  out.push(`<text x="${L.plotLeft + plotWidth / 2}" y="${L.axisY + 40}" font-size="12.5" text-anchor="middle" fill="#59636E">${axisTitle}</text>`);

  // Legend: the 7 CEs, then the two kinds of empty.
  const entries: Array<{ fill: string; label: string }> = COMPOUND_EXPRESSIONS.map((c, k) => ({ fill: CE_COLOURS[k], label: c.name }));
  entries.push({ fill: NO_PREDICTION_COLOUR, label: 'no face / no prediction' }, { fill: 'url(#unused)', label: 'model not used' });
  const columnWidth = plotWidth / LEGEND_COLUMNS;
  entries.forEach((e, n) => {
    const x = L.plotLeft + (n % LEGEND_COLUMNS) * columnWidth;
    const y = L.legendTop + Math.floor(n / LEGEND_COLUMNS) * LEGEND_ROW;
    out.push(
      `<rect x="${x + 0.5}" y="${y + 0.5}" width="15" height="15" fill="${e.fill}" stroke="#8C959F" stroke-width="1"/>`,
      `<text x="${x + 23}" y="${y + 12.5}" font-size="13" fill="#1F2328">${xml(e.label)}</text>`,
    );
  });
}

/** resvg's font options: the system's fonts, plus the given files and CER_FONT. */
function fontOptions(options: TimelineOptions): NonNullable<ResvgRenderOptions['font']> {
  const files = [...(options.fontFiles ?? [])];
  const env = process.env.CER_FONT;
  if (env) files.push(env);
  return { loadSystemFonts: true, fontFiles: files, sansSerifFamily: 'DejaVu Sans', defaultFontFamily: 'DejaVu Sans' };
}

const fontChecked = new Set<string>();

/** Fails when no font renders text (resvg would silently leave every label out). */
function requireFont(font: NonNullable<ResvgRenderOptions['font']>): void {
  const key = JSON.stringify(font);
  if (fontChecked.has(key)) return;
  const probe = `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"><text x="4" y="20" font-family="${FONT_FAMILY}" font-size="14">Ag</text></svg>`;
  if (new Resvg(probe, { font, logLevel: 'off' }).innerBBox() === undefined) {
    throw new Error(
      'timeline: no font to draw text with: install one (Debian: apt-get install fonts-dejavu-core) or name a .ttf/.otf file in CER_FONT',
    );
  }
  fontChecked.add(key);
}

/** The timeline as PNG bytes. */
export function timelinePng(result: TimelineInput, options: TimelineOptions = {}): Buffer {
  const font = fontOptions(options);
  requireFont(font);
  const scale = options.scale ?? 1;
  if (!(scale > 0 && scale <= 8)) throw new Error(`timeline: scale must be in (0, 8], got ${scale}`);
  const svg = timelineSvg(result, options);
  const rendered = new Resvg(svg, {
    font,
    fitTo: scale === 1 ? { mode: 'original' } : { mode: 'zoom', value: scale },
    background: '#FFFFFF',
    logLevel: 'off',
  }).render();
  return rendered.asPng();
}
