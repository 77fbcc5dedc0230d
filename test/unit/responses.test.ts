import * as assert from 'node:assert/strict';
import { meanTokenEntropy, responseStats } from '../../src/core/diagnostics/responses';

describe('diagnostics: response length and entropy', () => {
  it('splits lengths at the median judge score (hand calculation)', () => {
    // Judges 0.2, 0.9, 0.5, 0.7 → sorted 0.2 0.5 0.7 0.9, median (0.5 + 0.7)/2 = 0.6.
    // High (≥ 0.6): lengths 40 (0.9) and 30 (0.7) → mean 35. Low: 10 (0.2), 20 (0.5) → mean 15.
    // Overall: (10 + 40 + 20 + 30 + 60) / 5 = 32 (the fifth record has no judge score).
    const s = responseStats([10, 40, 20, 30, 60], [0.2, 0.9, 0.5, 0.7, null]);
    assert.equal(s.n, 5);
    assert.equal(s.mean_length, 32);
    assert.equal(s.by_judge!.median_judge, 0.6);
    assert.deepEqual(s.by_judge!.high, { n: 2, mean_length: 35 });
    assert.deepEqual(s.by_judge!.low, { n: 2, mean_length: 15 });
    assert.equal(s.mean_entropy, null);
  });

  it('puts records at the median in the high half, odd count', () => {
    // Judges 1, 0, 0.5 → median 0.5; high: lengths 7 (1) and 5 (0.5) → 6; low: 3 (0).
    const s = responseStats([7, 3, 5], [1, 0, 0.5]);
    assert.deepEqual(s.by_judge, { median_judge: 0.5, high: { n: 2, mean_length: 6 }, low: { n: 1, mean_length: 3 } });
  });

  it('averages per-response mean entropies, skipping nulls and non-finite values', () => {
    // Response means: (1 + 2 + 3)/3 = 2 and (4)/1 = 4 → overall (2 + 4)/2 = 3.
    const e1 = meanTokenEntropy([null, 1, 2, 3]);
    const e2 = meanTokenEntropy([4, null]);
    assert.equal(e1, 2);
    assert.equal(e2, 4);
    const s = responseStats([1, 1, 1], [], [e1, e2, NaN]);
    assert.equal(s.mean_entropy, 3);
    assert.equal(s.n_entropy, 2);
    assert.equal(s.by_judge, null);
  });

  it('has nothing to say about no data', () => {
    const s = responseStats([], []);
    assert.equal(s.n, 0);
    assert.equal(s.mean_length, null);
    assert.equal(s.by_judge, null);
  });
});
