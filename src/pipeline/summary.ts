/**
 * A per-input summary of an analysis: over the frames that have votes, the mean probabilities of
 * each modality and of the fusion, the dominant basic emotion and the dominant compound expression.
 * Labs label whole clips and utterances; `cer eval --per-file` scores these summaries.
 *
 * Pure: no I/O. One result per frame is summarised; with target `all` (one result per face and
 * frame) that is the frame's largest face, as the ABAW and timeline writers choose it
 * (selectPerFrame), so the summary describes the person target `largest` would follow.
 */
import { argmax, BASIC_EMOTIONS, COMPOUND_NAMES, NUM_BASIC, NUM_COMPOUND, type BasicEmotion } from '../core';
import { selectPerFrame } from '../output/frame-slots';
import type { FrameResult } from './analyze';

export interface ModalitySummary {
  /** Frames with a vote (a non-null vector). */
  readonly frames: number;
  /** Mean of the votes, in the canonical order; null without any vote. */
  readonly mean: number[] | null;
}

export interface AnalysisSummary {
  readonly vs: ModalitySummary;
  readonly vd: ModalitySummary;
  readonly a: ModalitySummary;
  readonly fused: ModalitySummary;
  /** Mean compound scores over the frames with a label, in the canonical compound order. */
  readonly compound: ModalitySummary;
  /** The argmax of the fused mean (first on a tie); null when no frame has a fused vote. */
  readonly emotion: BasicEmotion | null;
  /** The argmax of the mean compound scores (first in canonical order on a tie); null without labels. */
  readonly label: string | null;
}

function meanOf(rows: ReadonlyArray<readonly number[] | null>, size: number): ModalitySummary {
  const sum = new Float64Array(size);
  let frames = 0;
  for (const row of rows) {
    if (row === null) continue;
    frames++;
    for (let i = 0; i < size; i++) sum[i] += row[i];
  }
  return { frames, mean: frames > 0 ? Array.from(sum, (s) => s / frames) : null };
}

/** The summary of one analysis's per-frame results (see the module's comment for target `all`). */
export function summarizeResults(results: readonly FrameResult[]): AnalysisSummary {
  const rows = selectPerFrame({ results: results as FrameResult[] })
    .map((slot) => slot.result)
    .filter((r): r is FrameResult => r !== null);
  const fused = meanOf(rows.map((r) => r.fused), NUM_BASIC);
  const compound = meanOf(
    rows.map((r) => (r.label !== null ? r.compound : null)),
    NUM_COMPOUND,
  );
  return {
    vs: meanOf(rows.map((r) => r.vs), NUM_BASIC),
    vd: meanOf(rows.map((r) => r.vd), NUM_BASIC),
    a: meanOf(rows.map((r) => r.a), NUM_BASIC),
    fused,
    compound,
    emotion: fused.mean === null ? null : BASIC_EMOTIONS[argmax(fused.mean)],
    label: compound.mean === null ? null : COMPOUND_NAMES[argmax(compound.mean)],
  };
}
