import { strict as assert } from 'node:assert';
import { applyRule, compoundScores, RULE1_THRESHOLD } from '../../src/core';

// Canonical order: Ne An Di Fe Ha Sa Su.
describe('decision rules', () => {
  const p = [0.05, 0.1, 0.05, 0.2, 0.3, 0.1, 0.2];

  it('rule-free: pair-wise sums', () => {
    // FS = Fe+Su, HS = Ha+Su, SS = Sa+Su, DS = Di+Su, AS = An+Su, SF = Sa+Fe, SA = Sa+An
    const expected = [0.2 + 0.2, 0.3 + 0.2, 0.1 + 0.2, 0.05 + 0.2, 0.1 + 0.2, 0.1 + 0.2, 0.1 + 0.1];
    assert.deepEqual(Array.from(compoundScores(p, 'none')), expected);
  });

  it('Rule 1 keeps only p > 1/7: a score of exactly 1/7 is dropped', () => {
    assert.equal(RULE1_THRESHOLD, 1 / 7);
    const q = [0, 0, 0, 1 / 7, 0.4, 0, 0.3];
    const scores = compoundScores(q, 'rule1');
    assert.equal(scores[0], 0.3, 'Fearfully Surprised = 0 (Fe = 1/7 dropped) + 0.3');
    assert.equal(scores[5], 0, 'Sadly Fearful = 0 + 0 (Fe = 1/7 dropped)');
    const justAbove = [0, 0, 0, 1 / 7 + 1e-15, 0.4, 0, 0.3];
    assert.equal(compoundScores(justAbove, 'rule1')[0], 1 / 7 + 1e-15 + 0.3);
    // On p: Ne, An, Di, Sa (≤ 1/7) drop; Fe .2, Ha .3, Su .2 stay.
    assert.deepEqual(Array.from(compoundScores(p, 'rule1')), [0.4, 0.5, 0.2, 0.2, 0.2, 0.2, 0]);
  });

  it('Rule 2 weighs each pair with CW1, CW2', () => {
    const expected = [
      0.2 * (5 / 7) + 0.2 * (2 / 7),
      0.3 * (6 / 8) + 0.2 * (2 / 8),
      0.1 * (4 / 6) + 0.2 * (2 / 6),
      0.05 * (6 / 8) + 0.2 * (2 / 8),
      0.1 * (5 / 7) + 0.2 * (2 / 7),
      0.1 * (4 / 9) + 0.2 * (5 / 9),
      0.1 * (4 / 9) + 0.1 * (5 / 9),
    ];
    const got = compoundScores(p, 'rule2');
    expected.forEach((e, k) => assert.ok(Math.abs(got[k] - e) < 1e-15, `CE ${k}: ${got[k]} vs ${e}`));
  });

  it('argmax ties go to the first compound in the canonical order', () => {
    const uniform = new Float64Array(7).fill(1 / 7);
    assert.equal(applyRule(uniform, 'none').indices[0], 0, 'all equal: Fearfully Surprised');
    // Sadly Surprised (Sa+Su) and Sadly Angry (Sa+An) tie at 0.6 when An = Su; the first, index 2, wins.
    const tie = Float64Array.from([0, 0.2, 0, 0, 0, 0.4, 0.2]);
    const { compound, indices } = applyRule(tie, 'none');
    assert.equal(compound[2], compound[6]);
    assert.equal(indices[0], 2);
  });
});
