// Which records the standalone report's record table carries. A page that
// inlines a million rows is 150 MB and more, so past `total` records the table
// holds the records a user looks at, and says how many others there are:
//   - per target, the `topPerTarget` largest |log w| (the weights that decide an estimate);
//   - identity violations (of targets that must, or probably should, equal the
//     behavior): the `violations` largest |log w| among them, non-finite first;
//   - records with a suspect score, and records whose score failed: up to
//     `suspect` / `failed` of each, a uniform sample of them;
//   - a uniform sample of all the others up to `total`.
// "Uniform sample" is the records with the smallest hash of their index: the
// same records every time, no record favoured. Pure: arrays in, indices out.

import { fmix32 } from './fmix32';

export interface SelectionLimits {
  /** Records in the table at most, priority records aside (they are never dropped for the sample). */
  total: number;
  topPerTarget: number;
  violations: number;
  suspect: number;
  failed: number;
}

export const DEFAULT_SELECTION: SelectionLimits = { total: 50_000, topPerTarget: 2_000, violations: 10_000, suspect: 5_000, failed: 5_000 };

export interface SelectionInput {
  n: number;
  /** Log-weights per target, NaN where not finite or missing. */
  lw: ArrayLike<number>[];
  /** Per target, the identity tolerance where the target must (or probably should) equal the behavior; null otherwise. */
  identityTolerance: (number | null)[];
  /** Per record: bit 1 = some kept score is suspect, bit 2 = some policy's score failed. */
  flags: ArrayLike<number>;
}

export const FLAG_SUSPECT = 1;
export const FLAG_FAILED = 2;

export type SelectionKind = 'largest_lw' | 'violations' | 'suspect' | 'failed' | 'sample';

export interface RecordSelection {
  /** Selected record indices, ascending. */
  rows: Int32Array;
  /** Per kind: records of that kind in the input, and how many of them the table holds (a record may be of several kinds). */
  kinds: { kind: SelectionKind; total: number; included: number }[];
  /** Whether every record is in the table. */
  all: boolean;
}

/** A 32-bit mix of an index (murmur3's finaliser): the order of the uniform sample. */
export function sampleRank(i: number): number {
  return fmix32((i ^ 0x9e3779b9) >>> 0);
}

/**
 * The k indices with the largest key (ties: the smaller index), in no
 * particular order: a bounded min-heap, O(n log k) time and O(k) memory.
 */
export function topK(n: number, k: number, key: (i: number) => number, include: (i: number) => boolean = () => true): number[] {
  if (k <= 0) return [];
  const heap: number[] = [];
  const keys: number[] = [];
  // "a below b": a is the weaker of the two (smaller key, or equal key and larger index).
  const below = (x: number, y: number) => keys[x] < keys[y] || (keys[x] === keys[y] && heap[x] > heap[y]);
  const swap = (x: number, y: number) => {
    [heap[x], heap[y]] = [heap[y], heap[x]];
    [keys[x], keys[y]] = [keys[y], keys[x]];
  };
  const down = (at: number) => {
    for (;;) {
      const l = 2 * at + 1;
      const r = l + 1;
      let m = at;
      if (l < heap.length && below(l, m)) m = l;
      if (r < heap.length && below(r, m)) m = r;
      if (m === at) return;
      swap(at, m);
      at = m;
    }
  };
  for (let i = 0; i < n; i++) {
    if (!include(i)) continue;
    const v = key(i);
    if (Number.isNaN(v)) continue;
    if (heap.length < k) {
      heap.push(i);
      keys.push(v);
      for (let at = heap.length - 1; at > 0; ) {
        const p = (at - 1) >> 1;
        if (!below(at, p)) break;
        swap(at, p);
        at = p;
      }
    } else if (v > keys[0] || (v === keys[0] && i < heap[0])) {
      heap[0] = i;
      keys[0] = v;
      down(0);
    }
  }
  return heap;
}

/**
 * The k included indices of smallest sampleRank (all of them when fewer): the
 * ranks sorted once with a numeric sort, then a threshold (ranks are distinct:
 * the mix is a bijection of 32-bit integers).
 */
export function uniformPick(n: number, k: number, include: (i: number) => boolean): number[] {
  if (k <= 0) return [];
  const ranks = new Uint32Array(n);
  let m = 0;
  for (let i = 0; i < n; i++) if (include(i)) ranks[m++] = sampleRank(i);
  const out: number[] = [];
  if (m <= k) {
    for (let i = 0; i < n; i++) if (include(i)) out.push(i);
    return out;
  }
  const threshold = ranks.subarray(0, m).sort()[k - 1];
  for (let i = 0; i < n; i++) if (include(i) && sampleRank(i) <= threshold) out.push(i);
  return out;
}

export function selectRecords(input: SelectionInput, limits: SelectionLimits = DEFAULT_SELECTION): RecordSelection {
  const { n, lw, identityTolerance, flags } = input;
  const violates = (i: number) => {
    for (let k = 0; k < lw.length; k++) {
      const tol = identityTolerance[k];
      if (tol !== null && tol !== undefined && !(Math.abs(lw[k][i]) <= tol)) return true;
    }
    return false;
  };
  const count = (f: (i: number) => boolean) => {
    let c = 0;
    for (let i = 0; i < n; i++) if (f(i)) c++;
    return c;
  };
  const isSuspect = (i: number) => (flags[i] & FLAG_SUSPECT) !== 0;
  const isFailed = (i: number) => (flags[i] & FLAG_FAILED) !== 0;
  const totals = {
    largest_lw: count((i) => lw.some((c) => Number.isFinite(c[i]))),
    violations: count(violates),
    suspect: count(isSuspect),
    failed: count(isFailed),
  };
  if (n <= limits.total) {
    const rows = new Int32Array(n);
    for (let i = 0; i < n; i++) rows[i] = i;
    const kinds = (['largest_lw', 'violations', 'suspect', 'failed'] as const).map((kind) => ({ kind, total: totals[kind], included: totals[kind] }));
    return { rows, kinds: [...kinds, { kind: 'sample', total: 0, included: 0 }], all: true };
  }
  const chosen = new Uint8Array(n);
  const take = (ix: number[]) => {
    for (const i of ix) chosen[i] = 1;
    return ix.length;
  };
  const included: Record<SelectionKind, number> = { largest_lw: 0, violations: 0, suspect: 0, failed: 0, sample: 0 };
  const largest = new Set<number>();
  for (const c of lw) for (const i of topK(n, limits.topPerTarget, (j) => Math.abs(c[j]))) largest.add(i);
  included.largest_lw = take([...largest]);
  // A violation that is not finite (a score missing or failed) ranks above every finite one.
  const worst = (i: number) => {
    let m = -1;
    for (let k = 0; k < lw.length; k++) {
      const tol = identityTolerance[k];
      if (tol === null || tol === undefined) continue;
      const a = Math.abs(lw[k][i]);
      const v = Number.isNaN(a) ? Infinity : a;
      if (v > tol && v > m) m = v;
    }
    return m;
  };
  included.violations = take(topK(n, limits.violations, worst, violates));
  const uniform = (k: number, f: (i: number) => boolean) => uniformPick(n, k, f);
  included.suspect = take(uniform(limits.suspect, isSuspect));
  included.failed = take(uniform(limits.failed, isFailed));
  let sofar = 0;
  for (let i = 0; i < n; i++) sofar += chosen[i];
  included.sample = take(uniform(Math.max(0, limits.total - sofar), (i) => !chosen[i]));
  const rows = new Int32Array(sofar + included.sample);
  let k = 0;
  for (let i = 0; i < n; i++) if (chosen[i]) rows[k++] = i;
  return {
    rows,
    kinds: [
      { kind: 'largest_lw', total: totals.largest_lw, included: included.largest_lw },
      { kind: 'violations', total: totals.violations, included: included.violations },
      { kind: 'suspect', total: totals.suspect, included: included.suspect },
      { kind: 'failed', total: totals.failed, included: included.failed },
      { kind: 'sample', total: n - sofar, included: included.sample },
    ],
    all: false,
  };
}

/** The sentence the table shows above itself. */
export function selectionSentence(sel: RecordSelection, n: number, limits: SelectionLimits = DEFAULT_SELECTION): string {
  if (sel.all) return `All ${n.toLocaleString('en-US')} records.`;
  const of = (k: SelectionKind) => sel.kinds.find((x) => x.kind === k)!;
  const parts = [`the ${limits.topPerTarget.toLocaleString('en-US')} largest |log w| of each target`];
  const v = of('violations');
  if (v.total) parts.push(`${v.included.toLocaleString('en-US')} of ${v.total.toLocaleString('en-US')} identity violations (largest |log w| first)`);
  const s = of('suspect');
  if (s.total) parts.push(`${s.included.toLocaleString('en-US')} of ${s.total.toLocaleString('en-US')} records with a suspect score`);
  const f = of('failed');
  if (f.total) parts.push(`${f.included.toLocaleString('en-US')} of ${f.total.toLocaleString('en-US')} with a failed score`);
  const u = of('sample');
  parts.push(`a uniform sample of ${u.included.toLocaleString('en-US')} of the other ${u.total.toLocaleString('en-US')}`);
  const rest = n - sel.rows.length;
  return `${sel.rows.length.toLocaleString('en-US')} of ${n.toLocaleString('en-US')} records: ${parts.join('; ')}. The other ${rest.toLocaleString('en-US')} are counted in every statistic but not listed (the VS Code panel pages through all of them).`;
}
