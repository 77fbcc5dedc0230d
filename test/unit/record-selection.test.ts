// Which records the standalone report's table carries (record-selection.ts),
// checked against a second implementation written here (full sorts instead
// of bounded heaps, the sample's hash in BigInt arithmetic); and the report
// built with a small table limit: its records, token rows and counts.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mulberry32 } from '../../src/core/diagnostics/estimates';
import { buildReport } from '../../src/core/report-data';
import { FLAG_FAILED, FLAG_SUSPECT, sampleRank, selectRecords, type SelectionLimits } from '../../src/core/record-selection';
import { writeSynthetic } from '../e2e/synthetic';
import { fmix32Big } from '../support/fmix32-reference';

/** murmur3's fmix32 of (i xor golden ratio), in BigInt. */
function rankBig(i: number): number {
  return fmix32Big(BigInt(i) ^ 0x9e3779b9n);
}

/** The selection written out the long way: sort everything, take prefixes. */
function expected(lw: Float64Array[], tolerance: (number | null)[], flags: Uint8Array, L: SelectionLimits): Set<number> {
  const n = flags.length;
  const all = [...Array(n).keys()];
  const out = new Set<number>();
  for (const c of lw) {
    all
      .filter((i) => Number.isFinite(c[i]))
      .sort((a, b) => Math.abs(c[b]) - Math.abs(c[a]) || a - b)
      .slice(0, L.topPerTarget)
      .forEach((i) => out.add(i));
  }
  const worst = (i: number) => Math.max(...lw.map((c, k) => (tolerance[k] === null ? -1 : Number.isFinite(c[i]) ? (Math.abs(c[i]) > tolerance[k]! ? Math.abs(c[i]) : -1) : Infinity)));
  all
    .filter((i) => worst(i) >= 0)
    .sort((a, b) => (worst(b) === worst(a) ? a - b : worst(b) > worst(a) ? 1 : -1))
    .slice(0, L.violations)
    .forEach((i) => out.add(i));
  const byRank = (xs: number[]) => xs.sort((a, b) => rankBig(a) - rankBig(b));
  byRank(all.filter((i) => flags[i] & FLAG_SUSPECT)).slice(0, L.suspect).forEach((i) => out.add(i));
  byRank(all.filter((i) => flags[i] & FLAG_FAILED)).slice(0, L.failed).forEach((i) => out.add(i));
  const rest = byRank(all.filter((i) => !out.has(i))).slice(0, Math.max(0, L.total - out.size));
  rest.forEach((i) => out.add(i));
  return out;
}

describe('record table selection', () => {
  it('the sample rank is murmur3 fmix32 of i xor 0x9e3779b9', () => {
    for (const i of [0, 1, 2, 77, 123456, 999999]) assert.equal(sampleRank(i), rankBig(i));
  });

  for (const seed of [1, 2, 3]) {
    it(`largest |log w| per target, violations, suspect, failed and a uniform sample (seed ${seed})`, () => {
      const rnd = mulberry32(seed);
      const n = 3000;
      const heavy = () => (rnd() < 0.02 ? NaN : (rnd() - 0.5) * (rnd() < 0.05 ? 40 : 2));
      // Target 0 must equal the behavior (a few records off, some not finite); target 1 is another policy.
      const lw = [Float64Array.from({ length: n }, () => (rnd() < 0.04 ? heavy() : 0)), Float64Array.from({ length: n }, heavy)];
      // Ties in |log w| on purpose: the smaller index wins.
      lw[1][10] = lw[1][20] = 30;
      const flags = Uint8Array.from({ length: n }, () => (rnd() < 0.05 ? FLAG_SUSPECT : 0) | (rnd() < 0.03 ? FLAG_FAILED : 0));
      const L: SelectionLimits = { total: 400, topPerTarget: 50, violations: 60, suspect: 30, failed: 20 };
      const sel = selectRecords({ n, lw, identityTolerance: [1e-6, null], flags }, L);
      const want = expected(lw, [1e-6, null], flags, L);
      assert.deepEqual([...sel.rows], [...want].sort((a, b) => a - b));
      assert.equal(sel.all, false);
      assert.equal(sel.rows.length, 400);
      const kind = (k: string) => sel.kinds.find((x) => x.kind === k)!;
      assert.equal(kind('violations').total, Array.from({ length: n }, (_, i) => !(Math.abs(lw[0][i]) <= 1e-6)).filter(Boolean).length);
      assert.equal(kind('suspect').total, flags.filter((f) => f & FLAG_SUSPECT).length);
      assert.equal(kind('failed').included, 20);
    });
  }

  it('all records when they fit', () => {
    const lw = [Float64Array.from([1, NaN, 0])];
    const sel = selectRecords({ n: 3, lw, identityTolerance: [null], flags: new Uint8Array(3) });
    assert.deepEqual([...sel.rows], [0, 1, 2]);
    assert.equal(sel.all, true);
  });

  it('the report with a small table: records are the selection, token rows point into it, the sentence says what is left out', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-select-'));
    try {
      const files = writeSynthetic(dir, { n: 600, withScores: true, seed: 5, minTokens: 3, maxTokens: 6 });
      const L = { total: 100, topPerTarget: 20, violations: 15, suspect: 10, failed: 10 };
      const { data, columns } = await buildReport({ input: files.scores!, log: files.log, behavior: 'base', bootstrap: { b: 0 }, recordTable: L, tokenRecords: 30 });
      assert.equal(data.meta.n_records, 600);
      assert.equal(data.records.length, 100);
      assert.equal(data.record_table.included, 100);
      assert.equal(data.record_table.all, false);
      assert.match(data.record_table.selection, /^100 of 600 records: .* The other 500 are counted in every statistic but not listed/);
      // The same selection from the log-weights the records carry (rounded to 8 digits: recompute from the columns).
      const lw = columns.c.lw;
      const cloneTol = data.policies.map((p) => (p.identical.expected || p.identical.probable ? p.identical.tolerance : null));
      const want = expected(lw, cloneTol, new Uint8Array(600), L);
      assert.deepEqual(data.records.map((r) => r.line - 1), [...want].sort((a, b) => a - b));
      // Every clone violation (files.cloneViolations: 7 of them) is in the table.
      for (const i of files.cloneViolations.keys()) assert.ok(data.records.some((r) => r.line === i + 1), `violation at record ${i}`);
      // Token records point at rows of the table, with their own tokens.
      assert.equal(data.tokens.included, 30);
      for (const t of data.tokens.records) {
        const r = data.records[t.row];
        assert.ok(r, `token row ${t.row} in the table`);
        assert.equal(t.behavior.tokens.join(''), fs.readFileSync(files.log, 'utf8').split('\n')[r.line - 1] && JSON.parse(fs.readFileSync(files.log, 'utf8').split('\n')[r.line - 1]).response);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
