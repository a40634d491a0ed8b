import { strict as assert } from 'node:assert';
import {
  BASIC_EMOTIONS,
  COMPOUND_EXPRESSIONS,
  LabelRemap,
  REFERENCE_VISUAL_ORDER,
} from '../../src/core';

describe('classes and label orders', () => {
  it('uses the canonical basic order of the paper', () => {
    assert.deepEqual([...BASIC_EMOTIONS], ['Neutral', 'Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Surprise']);
  });

  it('has the seven compound expressions with the constituents and Rule 2 weights of Table 1', () => {
    // Table 1 of the paper: CE, E1, CW1, E2, CW2.
    const table1: Array<[string, string, number, string, number]> = [
      ['Fearfully Surprised', 'Fear', 5 / 7, 'Surprise', 2 / 7],
      ['Happily Surprised', 'Happiness', 6 / 8, 'Surprise', 2 / 8],
      ['Sadly Surprised', 'Sadness', 4 / 6, 'Surprise', 2 / 6],
      ['Disgustedly Surprised', 'Disgust', 6 / 8, 'Surprise', 2 / 8],
      ['Angrily Surprised', 'Anger', 5 / 7, 'Surprise', 2 / 7],
      ['Sadly Fearful', 'Sadness', 4 / 9, 'Fear', 5 / 9],
      ['Sadly Angry', 'Sadness', 4 / 9, 'Anger', 5 / 9],
    ];
    assert.equal(COMPOUND_EXPRESSIONS.length, 7);
    table1.forEach(([name, e1, cw1, e2, cw2], k) => {
      const ce = COMPOUND_EXPRESSIONS[k];
      assert.equal(ce.name, name);
      assert.equal(ce.e1, e1);
      assert.equal(ce.e2, e2);
      assert.equal(BASIC_EMOTIONS[ce.i1], e1);
      assert.equal(BASIC_EMOTIONS[ce.i2], e2);
      assert.equal(ce.cw1, cw1, `${name} CW1`);
      assert.equal(ce.cw2, cw2, `${name} CW2`);
      assert.equal(ce.abawName, name.replace(' ', '_'));
    });
  });

  it('remaps probabilities from the reference visual order by name', () => {
    assert.deepEqual([...REFERENCE_VISUAL_ORDER], ['Neutral', 'Happiness', 'Sadness', 'Surprise', 'Fear', 'Disgust', 'Anger']);
    const remap = new LabelRemap(REFERENCE_VISUAL_ORDER, 'probabilities');
    // Ne .10, Ha .20, Sa .30, Su .05, Fe .15, Di .12, An .08 in the reference order ...
    const out = remap.toCanonical([0.1, 0.2, 0.3, 0.05, 0.15, 0.12, 0.08]);
    // ... is Ne .10, An .08, Di .12, Fe .15, Ha .20, Sa .30, Su .05 canonically.
    assert.deepEqual(Array.from(out), [0.1, 0.08, 0.12, 0.15, 0.2, 0.3, 0.05]);
  });

  it('remaps logits from another spelling and applies softmax', () => {
    const remap = new LabelRemap(['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'], 'logits');
    // happy has logit ln 3, the rest 0: softmax gives 3/9 for Happiness and 1/9 for the others.
    const out = remap.toCanonical([0, 0, 0, Math.log(3), 0, 0, 0]);
    const expected = [1 / 9, 1 / 9, 1 / 9, 1 / 9, 3 / 9, 1 / 9, 1 / 9];
    expected.forEach((p, c) => assert.ok(Math.abs(out[c] - p) < 1e-15, `class ${c}: ${out[c]} vs ${p}`));
  });

  it("drops an acoustic model's Other logit before softmax", () => {
    const remap = new LabelRemap([...BASIC_EMOTIONS, 'Other'], 'logits');
    // Other's huge logit must not take any probability: the 7 logits 0,ln2,0,0,0,0,0 give 2/8 and 1/8s.
    const out = remap.toCanonical([0, Math.log(2), 0, 0, 0, 0, 0, 50]);
    const expected = [1 / 8, 2 / 8, 1 / 8, 1 / 8, 1 / 8, 1 / 8, 1 / 8];
    expected.forEach((p, c) => assert.ok(Math.abs(out[c] - p) < 1e-15));
    assert.equal(remap.otherIndex, 7);
  });

  it('names unknown, missing and repeated labels', () => {
    assert.throws(() => new LabelRemap(['Neutral', 'Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness', 'Contempt'], 'logits'), /unknown emotion label "Contempt" at position 6/);
    assert.throws(() => new LabelRemap(['Neutral', 'Anger', 'Disgust', 'Fear', 'Happiness', 'Sadness'], 'logits'), /lack Surprise/);
    assert.throws(() => new LabelRemap(['Neutral', 'Anger', 'Angry', 'Fear', 'Happiness', 'Sadness', 'Surprise'], 'logits'), /"Angry" at position 2 repeats Anger/);
    const remap = new LabelRemap(BASIC_EMOTIONS, 'probabilities');
    assert.throws(() => remap.toCanonical([0.5, 0.5]), /has 2 values, its labels declare 7/);
  });
});
