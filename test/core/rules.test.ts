import { strict as assert } from 'node:assert';
import { applyRule, compoundScores, isRule, RULE1_THRESHOLD, RULES } from '../../src/core';

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

  it('Rule 1 + Rule 2: the 1/7 mask first, then the CW1, CW2 weights', () => {
    assert.ok(isRule('rule1+rule2') && RULES.includes('rule1+rule2'));
    // On p: Ne .05, An .1, Di .05, Sa .1 are ≤ 1/7 and drop to 0; Fe .2, Ha .3, Su .2 stay.
    const expected = [
      0.2 * (5 / 7) + 0.2 * (2 / 7), // FS = Fe·5/7 + Su·2/7
      0.3 * (6 / 8) + 0.2 * (2 / 8), // HS = Ha·6/8 + Su·2/8
      0 * (4 / 6) + 0.2 * (2 / 6), // SS: Sa dropped
      0 * (6 / 8) + 0.2 * (2 / 8), // DS: Di dropped
      0 * (5 / 7) + 0.2 * (2 / 7), // AS: An dropped
      0 * (4 / 9) + 0.2 * (5 / 9), // SF: Sa dropped, Fe·5/9
      0, // SA: Sa and An dropped
    ];
    const got = compoundScores(p, 'rule1+rule2');
    expected.forEach((e, k) => assert.ok(Math.abs(got[k] - e) < 1e-15, `CE ${k}: ${got[k]} vs ${e}`));
    // Where the mask drops one of a pair: Sa .14 ≤ 1/7 < An .3, Su .35.
    const q = [0.06, 0.3, 0.05, 0.05, 0.05, 0.14, 0.35];
    const r2 = compoundScores(q, 'rule2');
    const both = compoundScores(q, 'rule1+rule2');
    assert.ok(Math.abs(r2[2] - (0.14 * (4 / 6) + 0.35 * (2 / 6))) < 1e-15);
    assert.ok(Math.abs(both[2] - 0.35 * (2 / 6)) < 1e-15, 'Sa = 0.14 ≤ 1/7 is dropped before weighting');
    assert.ok(Math.abs(both[6] - 0.3 * (5 / 9)) < 1e-15, 'SA keeps An only');
    // A vector on which the label changes: Rule 2 alone ranks SA = .14·4/9 + .14·5/9 = .14 first
    // (HS = .15·6/8 + .01·2/8 = .115, AS = .14·5/7 + .01·2/7 = .1029, the rest lower); with the mask
    // only Ha .15 > 1/7 is left, so HS = .15·6/8 = .1125 and every other pair is 0.
    const r = [0.54, 0.14, 0.01, 0.01, 0.15, 0.14, 0.01];
    const before = applyRule(Float64Array.from(r), 'rule2').indices[0];
    const after = applyRule(Float64Array.from(r), 'rule1+rule2').indices[0];
    assert.equal(before, 6, 'Rule 2 alone: Sadly Angry');
    assert.equal(after, 1, 'Rule 1 + Rule 2: Happily Surprised');
    assert.equal(applyRule(Float64Array.from(r), 'rule1+rule2').compound[1], 0.15 * (6 / 8));
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
