/**
 * Classification metrics: macro F1, UAR (unweighted average recall), accuracy, confusion matrix.
 *
 * Conventions follow scikit-learn, which the reference uses: a class with no true and no predicted
 * frame counts 0 where it is averaged; by default the averaged classes are those that occur in the
 * truth or the predictions, and an explicit class list is used as given (the reference's
 * weight-search metric averages over classes 1..6 whether they occur or not).
 */

export interface ClassFigures {
  readonly index: number;
  readonly label: string;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Number of true frames of the class. */
  readonly support: number;
  /** Number of frames predicted as the class. */
  readonly predicted: number;
}

export interface Evaluation {
  readonly frames: number;
  /** Indices of the classes averaged in f1 and uar. */
  readonly classes: number[];
  readonly f1: number;
  readonly uar: number;
  readonly accuracy: number;
  readonly perClass: ClassFigures[];
  /** confusion[t][p]: frames of true class t predicted as p. */
  readonly confusion: number[][];
}

/** Row-major numClasses × numClasses counts, confusion[t * n + p]. */
export function confusionCounts(truth: ArrayLike<number>, pred: ArrayLike<number>, numClasses: number): Int32Array {
  if (truth.length !== pred.length) throw new Error(`truth has ${truth.length} frames, predictions ${pred.length}`);
  const counts = new Int32Array(numClasses * numClasses);
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i];
    const p = pred[i];
    if (!(t >= 0 && t < numClasses && Number.isInteger(t))) throw new Error(`truth label ${t} at frame ${i} is outside 0..${numClasses - 1}`);
    if (!(p >= 0 && p < numClasses && Number.isInteger(p))) throw new Error(`predicted label ${p} at frame ${i} is outside 0..${numClasses - 1}`);
    counts[t * numClasses + p]++;
  }
  return counts;
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}

/** Macro F1 over `classes` from counts, F1_c = 2TP / (2TP + FP + FN). Allocation-free. */
export function macroF1FromCounts(counts: Int32Array, numClasses: number, classes: ArrayLike<number>): number {
  let total = 0;
  for (let k = 0; k < classes.length; k++) {
    const c = classes[k];
    const tp = counts[c * numClasses + c];
    let rowSum = 0;
    let colSum = 0;
    for (let j = 0; j < numClasses; j++) {
      rowSum += counts[c * numClasses + j];
      colSum += counts[j * numClasses + c];
    }
    total += ratio(2 * tp, rowSum + colSum);
  }
  return classes.length > 0 ? total / classes.length : 0;
}

/** Mean recall over `classes` from counts. */
export function uarFromCounts(counts: Int32Array, numClasses: number, classes: ArrayLike<number>): number {
  let total = 0;
  for (let k = 0; k < classes.length; k++) {
    const c = classes[k];
    let rowSum = 0;
    for (let j = 0; j < numClasses; j++) rowSum += counts[c * numClasses + j];
    total += ratio(counts[c * numClasses + c], rowSum);
  }
  return classes.length > 0 ? total / classes.length : 0;
}

export function accuracyFromCounts(counts: Int32Array, numClasses: number): number {
  let correct = 0;
  let total = 0;
  for (let t = 0; t < numClasses; t++) {
    for (let p = 0; p < numClasses; p++) {
      total += counts[t * numClasses + p];
      if (t === p) correct += counts[t * numClasses + p];
    }
  }
  return ratio(correct, total);
}

/** Classes that occur in the truth or the predictions. */
export function classesPresent(counts: Int32Array, numClasses: number): number[] {
  const present: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    let n = 0;
    for (let j = 0; j < numClasses; j++) n += counts[c * numClasses + j] + counts[j * numClasses + c];
    if (n > 0) present.push(c);
  }
  return present;
}

export function evaluate(
  truth: ArrayLike<number>,
  pred: ArrayLike<number>,
  labels: readonly string[],
  classes?: readonly number[],
): Evaluation {
  const n = labels.length;
  const counts = confusionCounts(truth, pred, n);
  const averaged = classes ? [...classes] : classesPresent(counts, n);
  const confusion = Array.from({ length: n }, (_, t) => Array.from(counts.subarray(t * n, (t + 1) * n)));
  const perClass = labels.map((label, c): ClassFigures => {
    const tp = counts[c * n + c];
    let support = 0;
    let predicted = 0;
    for (let j = 0; j < n; j++) {
      support += counts[c * n + j];
      predicted += counts[j * n + c];
    }
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    return { index: c, label, precision, recall, f1: ratio(2 * tp, support + predicted), support, predicted };
  });
  return {
    frames: truth.length,
    classes: averaged,
    f1: macroF1FromCounts(counts, n, averaged),
    uar: uarFromCounts(counts, n, averaged),
    accuracy: accuracyFromCounts(counts, n),
    perClass,
    confusion,
  };
}
