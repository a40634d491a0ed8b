/**
 * From fused basic-emotion scores to compound expressions (paper §3.4, docs/method.md §2).
 */
import { argmax, COMPOUND_EXPRESSIONS, NUM_BASIC, NUM_COMPOUND } from './emotions';

/** `rule1+rule2`: Rule 1's mask first, then Rule 2's weighted sum (both on, as the reference's searches can run them). */
export const RULES = ['none', 'rule1', 'rule2', 'rule1+rule2'] as const;
export type Rule = (typeof RULES)[number];

/** Rule 1 keeps only scores strictly above 1/C, C = 7 (the reference's `p > 1/7`). */
export const RULE1_THRESHOLD = 1 / NUM_BASIC;

const I1 = Int32Array.from(COMPOUND_EXPRESSIONS, (c) => c.i1);
const I2 = Int32Array.from(COMPOUND_EXPRESSIONS, (c) => c.i2);
const CW1 = Float64Array.from(COMPOUND_EXPRESSIONS, (c) => c.cw1);
const CW2 = Float64Array.from(COMPOUND_EXPRESSIONS, (c) => c.cw2);

export function isRule(name: string): name is Rule {
  return (RULES as readonly string[]).includes(name);
}

/**
 * The 7 compound scores of one frame, in the canonical compound order.
 * `p` is read at `p[offset + c]`, the result written at `out[outOffset + k]`.
 */
export function compoundScoresInto(
  p: ArrayLike<number>,
  rule: Rule,
  out: Float64Array | number[],
  offset = 0,
  outOffset = 0,
): void {
  const mask = rule === 'rule1' || rule === 'rule1+rule2';
  const weigh = rule === 'rule2' || rule === 'rule1+rule2';
  for (let k = 0; k < NUM_COMPOUND; k++) {
    let a = p[offset + I1[k]];
    let b = p[offset + I2[k]];
    if (mask) {
      if (!(a > RULE1_THRESHOLD)) a = 0;
      if (!(b > RULE1_THRESHOLD)) b = 0;
    }
    if (weigh) {
      out[outOffset + k] = a * CW1[k] + b * CW2[k];
    } else {
      out[outOffset + k] = a + b;
    }
  }
}

export function compoundScores(p: ArrayLike<number>, rule: Rule): Float64Array {
  const out = new Float64Array(NUM_COMPOUND);
  compoundScoresInto(p, rule, out);
  return out;
}

/** Compound scores and predicted compound index for many frames (frames × 7 in, frames × 7 out). */
export function applyRule(fused: Float64Array, rule: Rule): { compound: Float64Array; indices: Int32Array } {
  const frames = fused.length / NUM_BASIC;
  const compound = new Float64Array(frames * NUM_COMPOUND);
  const indices = new Int32Array(frames);
  for (let f = 0; f < frames; f++) {
    compoundScoresInto(fused, rule, compound, f * NUM_BASIC, f * NUM_COMPOUND);
    indices[f] = argmax(compound, f * NUM_COMPOUND, NUM_COMPOUND);
  }
  return { compound, indices };
}
