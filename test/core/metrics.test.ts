import { strict as assert } from 'node:assert';
import { BASIC_EMOTIONS, confusionCounts, evaluate, macroF1FromCounts } from '../../src/core';

describe('metrics', () => {
  // truth 0 0 1 1 2, predicted 0 1 1 1 0.
  const truth = [0, 0, 1, 1, 2];
  const pred = [0, 1, 1, 1, 0];

  it('macro F1, UAR, accuracy and the confusion matrix by hand', () => {
    const e = evaluate(truth, pred, ['a', 'b', 'c']);
    // F1: class a 2·1/(2·1+1+1) = 0.5, class b 2·2/(2·2+1+0) = 0.8, class c 0.
    assert.ok(Math.abs(e.f1 - (0.5 + 0.8 + 0) / 3) < 1e-15);
    // Recall: a 1/2, b 2/2, c 0/1.
    assert.ok(Math.abs(e.uar - 0.5) < 1e-15);
    assert.equal(e.accuracy, 3 / 5);
    assert.deepEqual(e.confusion, [
      [1, 1, 0],
      [0, 2, 0],
      [1, 0, 0],
    ]);
    assert.deepEqual(e.perClass.map((c) => [c.precision, c.recall, c.support]), [
      [0.5, 0.5, 2],
      [2 / 3, 1, 2],
      [0, 0, 1],
    ]);
  });

  it('averages over the classes that occur unless told which', () => {
    const e = evaluate(truth, pred, BASIC_EMOTIONS);
    assert.deepEqual(e.classes, [0, 1, 2]);
    const all = evaluate(truth, pred, BASIC_EMOTIONS, [0, 1, 2, 3, 4, 5, 6]);
    assert.ok(Math.abs(all.f1 - 1.3 / 7) < 1e-15);
  });

  it("the reference's search metric leaves Neutral out", () => {
    const counts = confusionCounts(truth, pred, 7);
    // Classes 1..6: An 0.8, Di 0, others 0 (absent) → 0.8 / 6.
    assert.ok(Math.abs(macroF1FromCounts(counts, 7, [1, 2, 3, 4, 5, 6]) - 0.8 / 6) < 1e-15);
  });

  it('names a label outside the classes', () => {
    assert.throws(() => confusionCounts([0, 9], [0, 1], 7), /truth label 9 at frame 1/);
  });
});
