// Columnar, typed view of ReportData.records for fast sorting and filtering.
import type { ReportData, TokenRecord } from './protocol';

export interface Model {
  data: ReportData;
  n: number;
  targets: string[];
  ids: string[];
  line: Int32Array;
  judge: Float64Array;
  chars: Float64Array;
  ntok: Float64Array;
  blp: Float64Array;
  /** Log-weights per target, NaN where missing. */
  lw: Float64Array[];
  /** Largest |log w| over targets (NaN where none). */
  maxAbs: Float64Array;
  /** 1 when the record breaks an identity check (expected or probable) of any target. */
  violates: Uint8Array;
  /** 0: every score of the record passed its checks; 1: one is suspect; 2: one is approximate (RecordRow.sus / apx). */
  suspect: Uint8Array;
  /** Whether any record has a suspect score. */
  anySuspect: boolean;
  /** Names of the policies (behavior first, then meta.targets) that RecordRow.sus / apx index. */
  susNames: string[];
  tokens: Map<number, TokenRecord>;
  /** Row index by log line. */
  byLine: Map<number, number>;
}

const nan = (x: number | null | undefined) => (typeof x === 'number' ? x : NaN);

export function buildModel(data: ReportData): Model {
  const rs = data.records;
  const n = rs.length;
  const targets = data.meta.targets;
  const line = new Int32Array(n);
  const judge = new Float64Array(n);
  const chars = new Float64Array(n);
  const ntok = new Float64Array(n);
  const blp = new Float64Array(n);
  const lw = targets.map(() => new Float64Array(n));
  const maxAbs = new Float64Array(n);
  const violates = new Uint8Array(n);
  const suspect = new Uint8Array(n);
  let anySuspect = false;
  const ids: string[] = new Array(n);
  const byLine = new Map<number, number>();
  const checks = data.policies.map((p) => (p.identical.expected || p.identical.probable ? p.identical.tolerance : -1));
  for (let i = 0; i < n; i++) {
    const r = rs[i];
    ids[i] = r.id;
    line[i] = r.line;
    byLine.set(r.line, i);
    judge[i] = nan(r.judge);
    chars[i] = nan(r.chars);
    ntok[i] = nan(r.ntok);
    blp[i] = nan(r.blp);
    let m = NaN;
    for (let k = 0; k < targets.length; k++) {
      const v = nan(r.lw[k]);
      lw[k][i] = v;
      const a = Math.abs(v);
      if (!(a <= m)) m = Number.isNaN(a) ? m : a;
      const tol = checks[k];
      if (tol !== undefined && tol >= 0 && !(a <= tol)) violates[i] = 1;
    }
    maxAbs[i] = m;
    if (r.apx?.length) suspect[i] = 2;
    else if (r.sus?.length) suspect[i] = 1;
    if (suspect[i]) anySuspect = true;
  }
  const tokens = new Map<number, TokenRecord>();
  for (const t of data.tokens.records) tokens.set(t.row, t);
  const susNames = [data.meta.behavior.name, ...targets];
  return { data, n, targets, ids, line, judge, chars, ntok, blp, lw, maxAbs, violates, suspect, anySuspect, susNames, tokens, byLine };
}

/** Which policies' scores of row `i` are suspect, as text ("" when none). */
export function suspectText(m: Model, i: number): string {
  const r = m.data.records[i];
  if (!r?.sus?.length) return '';
  const name = (k: number) => (k === 0 ? `${m.susNames[0]} (behavior)` : m.susNames[k] ?? `#${k}`);
  let t = `suspect score: ${r.sus.map(name).join(', ')}`;
  if (r.apx?.length) t += ` · approximate: ${r.apx.map(name).join(', ')}`;
  return t;
}
