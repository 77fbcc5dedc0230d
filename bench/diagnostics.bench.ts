// Diagnostics for 1,000,000 log-weights against one Float64Array sort of the
// same numbers, measured in the same run (goal: within 2× the sort).
import { computePolicyDiagnostics, weightDiagnostics } from '../src/core/diagnostics';
import { mulberry32 } from '../src/core/diagnostics/estimates';

const n = 1_000_000;
const rng = mulberry32(21);
const lw = Float64Array.from({ length: n }, () => {
  const u = rng() || 1e-12;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
});
const median = (f: () => void) => {
  const ts: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    f();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ts.sort((a, b) => a - b)[3];
};
const tSort = median(() => lw.slice().sort());
const tDiag = median(() => weightDiagnostics(lw));
const behavior = new Array<number>(n).fill(-1);
const target = Array.from(lw, (v) => v - 1);
const records = Array.from({ length: n }, (_, i) => `r${i}`);
const tFull = median(() => computePolicyDiagnostics({ name: 'big', records, behaviorLogprobs: behavior, targetLogprobs: target, expectedIdentical: false }));
console.log(`diagnostics on ${n.toLocaleString('en')} log-weights (median of 7)`);
console.log(`  one Float64Array sort      ${tSort.toFixed(1)} ms  (baseline)`);
console.log(`  weightDiagnostics          ${tDiag.toFixed(1)} ms  ×${(tDiag / tSort).toFixed(2)}`);
console.log(`  computePolicyDiagnostics   ${tFull.toFixed(1)} ms  ×${(tFull / tSort).toFixed(2)}  (goal ≤ ×2)`);
