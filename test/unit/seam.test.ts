// The seam effect (src/core/diagnostics/seam.ts) against a hand calculation.
import * as assert from 'node:assert/strict';
import { seamEffect } from '../../src/core/diagnostics/seam';

describe('diagnostics: seam effect', () => {
  it('Δ = joined − separate per record; mean, median and max |Δ|; the largest first (hand calculation)', () => {
    const joined = [-10, -5.5, null, -3, -7.25, -2];
    const separate = [-10.5, -5.5, -4, -3.125, -7, NaN];
    // Δ: r0 −10 − (−10.5) = +0.5, r1 0, r2 excluded (joined null), r3 −3 − (−3.125) = +0.125,
    //    r4 −7.25 − (−7) = −0.25, r5 excluded (separate NaN).
    const e = seamEffect(joined, separate, { tolerance: 1e-6, topN: 2 });
    assert.equal(e.n, 4);
    assert.equal(e.excluded, 2);
    assert.equal(e.mean, 0.09375); // (0.5 + 0 + 0.125 − 0.25) / 4 = 0.375 / 4
    assert.equal(e.mean_abs, 0.21875); // (0.5 + 0 + 0.125 + 0.25) / 4 = 0.875 / 4
    assert.equal(e.median_abs, 0.1875); // |Δ| sorted 0, 0.125, 0.25, 0.5: (0.125 + 0.25) / 2
    assert.equal(e.max_abs, 0.5);
    assert.equal(e.differ, 3); // every |Δ| but r1's exceeds 1e-6
    assert.deepEqual(Array.from(e.deltas), [0.5, 0, NaN, 0.125, -0.25, NaN]);
    assert.deepEqual(e.top, [
      { index: 0, delta: 0.5 },
      { index: 4, delta: -0.25 },
    ]);
    // All of them: Δ = 0 is never listed.
    assert.deepEqual(seamEffect(joined, separate, { topN: 10 }).top.map((t) => t.index), [0, 4, 3]);
  });

  it('odd n: the middle |Δ|; ties in |Δ| keep record order; the tolerance decides what differs', () => {
    // Δ = 0.5, −0.5, 1e-7, −1 → |Δ| sorted 1e-7, 0.5, 0.5, 1 (n = 4); drop the last for n = 3.
    const e = seamEffect([-1, -2, -3, -5], [-1.5, -1.5, -3.0000001, -4]);
    assert.equal(e.n, 4);
    assert.equal(e.differ, 3); // 1e-7 ≤ the default 1e-6
    assert.deepEqual(e.top.map((t) => t.index), [3, 0, 1, 2]);
    const odd = seamEffect([-1, -2, -5], [-1.5, -1.5, -4]);
    assert.equal(odd.median_abs, 0.5); // of 0.5, 0.5, 1
    assert.equal(odd.mean, (0.5 - 0.5 - 1) / 3);
    assert.equal(seamEffect([-1, -2], [-1.5, -1.5], { tolerance: 0.5 }).differ, 0);
  });

  it('no pair with both sides finite: NaN statistics, nothing listed; unequal lengths throw', () => {
    const e = seamEffect([null, -1], [-2, Infinity]);
    assert.equal(e.n, 0);
    assert.equal(e.excluded, 2);
    assert.ok(Number.isNaN(e.mean) && Number.isNaN(e.mean_abs) && Number.isNaN(e.median_abs) && Number.isNaN(e.max_abs));
    assert.deepEqual(e.top, []);
    assert.throws(() => seamEffect([1], []), RangeError);
  });
});
