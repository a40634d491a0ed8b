/**
 * The classes of the method and their orders (docs/method.md §1).
 */

export const BASIC_EMOTIONS = ['Neutral', 'Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Surprise'] as const;
export type BasicEmotion = (typeof BASIC_EMOTIONS)[number];
export const BASIC_SHORT = ['Ne', 'An', 'Di', 'Fe', 'Ha', 'Sa', 'Su'] as const;
export const NUM_BASIC = 7;

/** The 8-class acoustic model's extra class; dropped before softmax. */
export const OTHER_LABEL = 'Other';

/** Label order of the reference's visual models (VS and VD). */
export const REFERENCE_VISUAL_ORDER: readonly BasicEmotion[] = [
  'Neutral',
  'Happiness',
  'Sadness',
  'Surprise',
  'Fear',
  'Disgust',
  'Anger',
];

export interface CompoundExpression {
  readonly name: string;
  /** Column name in the ABAW submission header. */
  readonly abawName: string;
  readonly e1: BasicEmotion;
  readonly e2: BasicEmotion;
  /** Canonical indices of e1 and e2. */
  readonly i1: number;
  readonly i2: number;
  /** Rule 2 weights: frequency score of each emotion over their sum. */
  readonly cw1: number;
  readonly cw2: number;
}

/** Per-emotion frequency scores behind Rule 2 (counts of each emotion over the CE pairs + 1). */
export const RULE2_FREQUENCY_SCORES: Readonly<Partial<Record<BasicEmotion, number>>> = {
  Anger: 5,
  Disgust: 6,
  Fear: 5,
  Happiness: 6,
  Sadness: 4,
  Surprise: 2,
};

const COMPOUND_PAIRS: ReadonlyArray<readonly [string, BasicEmotion, BasicEmotion]> = [
  ['Fearfully Surprised', 'Fear', 'Surprise'],
  ['Happily Surprised', 'Happiness', 'Surprise'],
  ['Sadly Surprised', 'Sadness', 'Surprise'],
  ['Disgustedly Surprised', 'Disgust', 'Surprise'],
  ['Angrily Surprised', 'Anger', 'Surprise'],
  ['Sadly Fearful', 'Sadness', 'Fear'],
  ['Sadly Angry', 'Sadness', 'Anger'],
];

function frequencyScore(e: BasicEmotion): number {
  const s = RULE2_FREQUENCY_SCORES[e];
  if (s === undefined) throw new Error(`no Rule 2 frequency score for ${e}`);
  return s;
}

export const COMPOUND_EXPRESSIONS: readonly CompoundExpression[] = COMPOUND_PAIRS.map(([name, e1, e2]) => {
  const s1 = frequencyScore(e1);
  const s2 = frequencyScore(e2);
  return {
    name,
    abawName: name.replace(/ /g, '_'),
    e1,
    e2,
    i1: BASIC_EMOTIONS.indexOf(e1),
    i2: BASIC_EMOTIONS.indexOf(e2),
    cw1: s1 / (s1 + s2),
    cw2: s2 / (s1 + s2),
  };
});
export const COMPOUND_NAMES: readonly string[] = COMPOUND_EXPRESSIONS.map((c) => c.name);
export const NUM_COMPOUND = 7;

/** Spellings that other emotion models use for the canonical classes (matched case-insensitively). */
const LABEL_SYNONYMS: Readonly<Record<string, BasicEmotion | typeof OTHER_LABEL>> = {
  neutral: 'Neutral',
  ne: 'Neutral',
  anger: 'Anger',
  angry: 'Anger',
  an: 'Anger',
  disgust: 'Disgust',
  disgusted: 'Disgust',
  di: 'Disgust',
  fear: 'Fear',
  fearful: 'Fear',
  fe: 'Fear',
  happiness: 'Happiness',
  happy: 'Happiness',
  ha: 'Happiness',
  sadness: 'Sadness',
  sad: 'Sadness',
  sa: 'Sadness',
  surprise: 'Surprise',
  surprised: 'Surprise',
  su: 'Surprise',
  other: 'Other',
  ot: 'Other',
  // EMO-DB's seventh class, outside the basic emotions: the bundled acoustic model's Other.
  boredom: 'Other',
  bored: 'Other',
};

/** The canonical name of a model's label, or undefined when it is not an emotion we know. */
export function canonicalLabel(label: string): BasicEmotion | typeof OTHER_LABEL | undefined {
  return LABEL_SYNONYMS[label.trim().toLowerCase()];
}

export function softmaxInto(logits: ArrayLike<number>, out: Float64Array | number[]): void {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i] - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < logits.length; i++) out[i] /= sum;
}

export function softmax(logits: ArrayLike<number>): Float64Array {
  const out = new Float64Array(logits.length);
  softmaxInto(logits, out);
  return out;
}

/** What a model's output vector holds. */
export type OutputKind = 'logits' | 'probabilities';

/**
 * Maps one model's output vector, in the model's own label order, to the 7 canonical
 * probabilities. Built once per model from its declared labels.
 */
export class LabelRemap {
  /** For each canonical index, the position of that class in the model's output. */
  readonly sourceIndex: Int32Array;
  /** Position of an `Other` class in the model's output, or -1. */
  readonly otherIndex: number;
  readonly width: number;

  constructor(
    readonly labels: readonly string[],
    readonly kind: OutputKind,
  ) {
    this.width = labels.length;
    this.sourceIndex = new Int32Array(NUM_BASIC).fill(-1);
    let other = -1;
    labels.forEach((label, position) => {
      const canonical = canonicalLabel(label);
      if (canonical === undefined) {
        throw new Error(
          `unknown emotion label "${label}" at position ${position}; expected one of ${BASIC_EMOTIONS.join(', ')} or ${OTHER_LABEL}`,
        );
      }
      if (canonical === OTHER_LABEL) {
        if (other >= 0) throw new Error(`label "${label}" at position ${position} repeats ${OTHER_LABEL}`);
        other = position;
        return;
      }
      const c = BASIC_EMOTIONS.indexOf(canonical);
      if (this.sourceIndex[c] >= 0) {
        throw new Error(`label "${label}" at position ${position} repeats ${canonical} (already at position ${this.sourceIndex[c]})`);
      }
      this.sourceIndex[c] = position;
    });
    const missing = BASIC_EMOTIONS.filter((_, c) => this.sourceIndex[c] < 0);
    if (missing.length > 0) throw new Error(`labels [${labels.join(', ')}] lack ${missing.join(', ')}`);
    this.otherIndex = other;
  }

  /**
   * Canonical probabilities from one output vector. Logits: `Other` is dropped, then softmax.
   * Probabilities: reordered; with an `Other` class the remaining 7 are renormalised to sum to one.
   */
  toCanonical(values: ArrayLike<number>, out: Float64Array = new Float64Array(NUM_BASIC)): Float64Array {
    if (values.length !== this.width) {
      throw new Error(`model output has ${values.length} values, its labels declare ${this.width}`);
    }
    for (let c = 0; c < NUM_BASIC; c++) out[c] = values[this.sourceIndex[c]];
    if (this.kind === 'logits') {
      softmaxInto(out, out);
    } else if (this.otherIndex >= 0) {
      let sum = 0;
      for (let c = 0; c < NUM_BASIC; c++) sum += out[c];
      if (sum > 0) for (let c = 0; c < NUM_BASIC; c++) out[c] /= sum;
    }
    return out;
  }
}

/** Index of the largest value; ties go to the first. */
export function argmax(values: ArrayLike<number>, offset = 0, length = values.length - offset): number {
  let best = 0;
  let bestValue = values[offset];
  for (let i = 1; i < length; i++) {
    const v = values[offset + i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}
