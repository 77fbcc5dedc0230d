// The bootstrap past 65,536 records counts its draws per record instead of
// summing them as they come (a cache-friendly order of the same sums): its
// intervals equal a naive resampling loop driven by mulberry32(seed).
import * as assert from 'node:assert/strict';
import { mulberry32, offPolicyEstimates } from '../../src/core/diagnostics/estimates';

describe('bootstrap at many records', () => {
  it('70,000 records, B = 5: replicates as a naive loop makes them (type-7 quantiles at 0.1 and 0.9)', () => {
    const n = 70_000;
    const g = mulberry32(9);
    const lw = Array.from({ length: n }, () => (g() - 0.5) * 3);
    const y = Array.from({ length: n }, () => g());
    const B = 5;
    const r = offPolicyEstimates(lw, y, { b: B, seed: 7, level: 0.8 });
    const rng = mulberry32(7);
    const max = Math.max(...lw);
    const w = lw.map((l) => Math.exp(l - max));
    const ips: number[] = [];
    const sn: number[] = [];
    for (let b = 0; b < B; b++) {
      let a = 0;
      let c = 0;
      for (let j = 0; j < n; j++) {
        const i = Math.floor(rng() * n);
        a += w[i] * y[i];
        c += w[i];
      }
      ips.push((a / n) * Math.exp(max));
      sn.push(a / c);
    }
    ips.sort((p, q) => p - q);
    sn.sort((p, q) => p - q);
    // h = (B − 1)·p: 0.4 and 3.6.
    const q7 = (v: number[], h: number) => v[Math.floor(h)] + (h - Math.floor(h)) * (v[Math.floor(h) + 1] - v[Math.floor(h)]);
    const close = (x: number, e: number) => assert.ok(Math.abs(x - e) <= 1e-9 * Math.abs(e), `${x} vs ${e}`);
    close(r.ips_ci!.lower, q7(ips, 0.4));
    close(r.ips_ci!.upper, q7(ips, 3.6));
    close(r.snips_ci!.lower, q7(sn, 0.4));
    close(r.snips_ci!.upper, q7(sn, 3.6));
  });
});
