/**
 * The checks every number a user or another node hands us goes through: a model's vote (7
 * probabilities), a fused score vector and a frame number. One implementation for `cer fuse`,
 * `cer fit-weights` and the fusion and rules nodes, so that they accept and refuse the same things.
 *
 * A vote: an array of exactly 7 finite numbers, each in [0, 1] (±1e-6 of rounding), whose sum is 1
 * within VOTE_SUM_TOLERANCE. A vote that sums to something else (but more than 0) is divided by its
 * sum — renormalised — and the caller warns; a vote of all zeros is refused.
 */
import { describe } from '../core/describe';
import { NUM_BASIC } from '../core/emotions';
import { MAX_FUSED_SCORE } from '../core/fusion';
import { InputError } from './errors';

/** Probabilities are checked to lie in [0, 1] with this much rounding allowed. */
export const PROBABILITY_SLACK = 1e-6;
/** A vote's 7 probabilities sum to 1 within this; beyond it they are renormalised (with a warning). */
export const VOTE_SUM_TOLERANCE = 1e-3;

/** A short, printable description of a value for an error message (kept here for the readers that import it). */

export interface CheckedVote {
  /** The 7 probabilities, renormalised when `sum` was off. */
  readonly probs: number[];
  /** The sum as given; renormalised is true when it was off by more than VOTE_SUM_TOLERANCE. */
  readonly sum: number;
  readonly renormalised: boolean;
}

/**
 * Checks one vote. `where` names it in the error ("probs.vs[3]", "vs vote for frame 3 (msg.payload.probs)").
 * Throws an InputError of one line naming `where` and, for a bad element, its index.
 */
export function checkVote(x: unknown, where: string): CheckedVote {
  if (!Array.isArray(x) || x.length !== NUM_BASIC) throw new InputError(`${where}: expected 7 probabilities, got ${describe(x)}`);
  let sum = 0;
  for (let c = 0; c < NUM_BASIC; c++) {
    const p: unknown = x[c];
    if (typeof p !== 'number' || !Number.isFinite(p) || p < -PROBABILITY_SLACK || p > 1 + PROBABILITY_SLACK) {
      throw new InputError(`${where}[${c}]: expected a probability in [0, 1], got ${describe(p)}`);
    }
    sum += p;
  }
  const values = x as number[];
  if (!(sum > PROBABILITY_SLACK)) throw new InputError(`${where}: the 7 probabilities are all 0; expected them to sum to 1`);
  if (Math.abs(sum - 1) <= VOTE_SUM_TOLERANCE) return { probs: values.slice(), sum, renormalised: false };
  return { probs: values.map((p) => p / sum), sum, renormalised: true };
}

/** The warning for votes that were renormalised (`count` of them, the first at `first` with sum `sum`). */
export function renormalisedWarning(where: string, count: number, first: string, sum: number): string {
  return `${where}: ${count} vote${count === 1 ? '' : 's'} did not sum to 1 (first: ${first}, sum ${Number(sum.toPrecision(6))}); renormalised`;
}

/**
 * Checks fused scores (the fusion node's output, or 7 numbers given to the rules node): 7 finite
 * numbers in [0, MAX_FUSED_SCORE]. Fused scores need not sum to 1 (each class is weighted apart).
 */
export function checkFusedScores(x: unknown, where: string): number[] {
  if (!Array.isArray(x) || x.length !== NUM_BASIC) throw new InputError(`${where}: expected 7 fused scores, got ${describe(x)}`);
  for (let c = 0; c < NUM_BASIC; c++) {
    const p: unknown = x[c];
    if (typeof p !== 'number' || !Number.isFinite(p) || p < -PROBABILITY_SLACK || p > MAX_FUSED_SCORE + PROBABILITY_SLACK) {
      throw new InputError(`${where}[${c}]: expected a score in [0, ${MAX_FUSED_SCORE}], got ${describe(p)}`);
    }
  }
  return (x as number[]).slice();
}

/** Checks a frame number: a whole number ≥ 0 that is exact in a double (a safe integer). */
export function checkFrameNumber(x: unknown, where: string): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
    throw new InputError(`${where}: expected a frame number (a whole number from 0 to ${Number.MAX_SAFE_INTEGER}), got ${describe(x)}`);
  }
  return x;
}
