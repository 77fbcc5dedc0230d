// Pages of all records, for the panel (the standalone page carries a selection,
// record-selection.ts). The host keeps what the report already computed per
// record in typed columns (line, judge, length, log-weights, suspect bits,
// offsets: about 80 bytes a record with two targets) plus where each record's line
// starts in the log (or the scores file); a page reads its records' ids back
// from those lines, so no record object and no id string is held between pages.
// Node only (reads files); no vscode.

import * as fs from 'node:fs';
import type { FieldMap } from './field-map';
import { normaliseRecords } from './log-reader';
import type { RecordPage, RecordPageFilter, RecordPageOrder, RecordPageRequest, RecordRow } from './report-types';

export { checkPageRequest, MAX_PAGE_SIZE } from './record-page-request';

export interface RecordColumnsInit {
  targets: string[];
  line: Int32Array;
  /** NaN where absent. */
  judge: Float64Array;
  /** -1 where unknown. */
  chars: Int32Array;
  /** Behavior's scored tokens, -1 where unknown. */
  ntok: Int32Array;
  blp: Float64Array;
  /** Per target, NaN where not finite or missing. */
  lw: Float64Array[];
  /** Bit k: policy k's kept score is suspect / approximate (0 = behavior, k + 1 = targets[k]). */
  sus: Uint32Array;
  apx: Uint32Array;
  /** Per target, the identity tolerance where it must (or probably should) equal the behavior. */
  identityTolerance: (number | null)[];
  /** Position in the report's `records` (-1: not there). */
  tableRow: Int32Array;
  files: { log: string | null; scores: string | null };
  /** Where each record's log line starts and its length (NaN / -1: not from the log). */
  logOffset: Float64Array;
  logBytes: Int32Array;
  /** For records the log does not have: the scores line that named them. */
  scoreOffset: Float64Array;
  scoreBytes: Int32Array;
  /** Which sampled response of its log line a record is (-1: the line's only record); absent: none is. */
  sampleIndex?: Int32Array;
  /** Where the log's records keep their fields (the report's mapping), to read an id back as the report read it. */
  fields?: FieldMap;
}

/** Rounds to 8 significant digits (the table's numbers); null where not finite. */
export function round8(x: number | null | undefined): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? Number(x.toPrecision(8)) : null;
}

function bits(m: number): number[] {
  const out: number[] = [];
  for (let k = 0; m; k++, m >>>= 1) if (m & 1) out.push(k);
  return out;
}

interface Stamp {
  size: number;
  mtimeMs: number;
}

function stamp(file: string | null): Stamp | null {
  if (!file) return null;
  try {
    const st = fs.statSync(file);
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

export class RecordColumns {
  readonly n: number;
  readonly targets: string[];
  /** Record orders already computed (a sort of a million records takes a moment), by order and filter. */
  private readonly orders = new Map<string, Int32Array>();
  private readonly stamps: { log: Stamp | null; scores: Stamp | null };

  constructor(readonly c: RecordColumnsInit) {
    this.n = c.line.length;
    this.targets = c.targets;
    this.stamps = { log: stamp(c.files.log), scores: stamp(c.files.scores) };
  }

  /** The table row of record i, with its id (read from its line, or given). */
  row(i: number, id: string): RecordRow {
    const c = this.c;
    const row: RecordRow = {
      id,
      line: c.line[i],
      judge: Number.isNaN(c.judge[i]) ? null : c.judge[i],
      chars: c.chars[i] >= 0 ? c.chars[i] : null,
      ntok: c.ntok[i] >= 0 ? c.ntok[i] : null,
      blp: round8(c.blp[i]),
      lw: c.lw.map((w) => round8(w[i])),
    };
    const sus = bits(c.sus[i]);
    const apx = bits(c.apx[i]);
    if (sus.length) row.sus = sus;
    if (apx.length) row.apx = apx;
    return row;
  }

  violates(i: number): boolean {
    const c = this.c;
    for (let k = 0; k < c.lw.length; k++) {
      const tol = c.identityTolerance[k];
      if (tol !== null && !(Math.abs(c.lw[k][i]) <= tol)) return true;
    }
    return false;
  }

  /** The records of a filter in an order. */
  indices(order: RecordPageOrder, filter: RecordPageFilter): Int32Array {
    const key = JSON.stringify([order, filter]);
    const hit = this.orders.get(key);
    if (hit) return hit;
    const c = this.c;
    const keep = filter === 'all' ? () => true : filter === 'violations' ? (i: number) => this.violates(i) : (i: number) => c.sus[i] !== 0;
    let m = 0;
    const all = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) if (keep(i)) all[m++] = i;
    const ix = all.slice(0, m);
    if (order.by === 'abs_lw') {
      const w = c.lw[order.target];
      const abs = new Float64Array(this.n);
      for (let i = 0; i < this.n; i++) abs[i] = Number.isNaN(w[i]) ? -1 : Math.abs(w[i]);
      ix.sort((a, b) => abs[b] - abs[a] || a - b);
    }
    if (this.orders.size >= 8) this.orders.clear();
    this.orders.set(key, ix);
    return ix;
  }

  /** What changed since the report was built, if anything. */
  private staleness(): string | undefined {
    const changed: string[] = [];
    for (const k of ['log', 'scores'] as const) {
      const was = this.stamps[k];
      const now = stamp(this.c.files[k]);
      if (was && (!now || now.size !== was.size || now.mtimeMs !== was.mtimeMs)) changed.push(this.c.files[k]!);
    }
    return changed.length ? `${changed.join(' and ')} changed since the report was built: reload the report` : undefined;
  }

  /** One page of records, ids read from their lines. */
  page(req: RecordPageRequest): RecordPage {
    const ix = this.indices(req.order, req.filter);
    const from = req.page * req.pageSize;
    const slice = ix.subarray(Math.min(from, ix.length), Math.min(from + req.pageSize, ix.length));
    const c = this.c;
    const fds: { log?: number; scores?: number } = {};
    const fd = (k: 'log' | 'scores') => (fds[k] ??= fs.openSync(c.files[k]!, 'r'));
    const rows: RecordRow[] = [];
    try {
      for (const i of slice) rows.push(this.row(i, this.idOf(i, fd)));
    } finally {
      for (const f of Object.values(fds)) fs.closeSync(f);
    }
    const out: RecordPage = {
      request: req,
      matching: ix.length,
      pages: Math.max(1, Math.ceil(ix.length / req.pageSize)),
      rows,
      tableRows: Array.from(slice, (i) => c.tableRow[i]),
    };
    const stale = this.staleness();
    if (stale) out.stale = stale;
    return out;
  }

  private idOf(i: number, fd: (k: 'log' | 'scores') => number): string {
    const c = this.c;
    const line = c.line[i];
    try {
      if (c.files.log && c.logBytes[i] >= 0) {
        const text = readLineAt(fd('log'), c.logOffset[i], c.logBytes[i]);
        if (text !== undefined) {
          const recs = normaliseRecords(JSON.parse(text), line, { fields: c.fields });
          const k = c.sampleIndex?.[i] ?? -1;
          return (k >= 0 ? recs[k] : recs[0])?.id ?? `line:${line}`;
        }
      } else if (c.files.scores && c.scoreBytes[i] >= 0) {
        const text = readLineAt(fd('scores'), c.scoreOffset[i], c.scoreBytes[i]);
        const v = text === undefined ? undefined : (JSON.parse(text) as { record?: unknown });
        if (typeof v?.record === 'string') return v.record;
      }
    } catch {
      /* the file changed under us: the page says so (stale) */
    }
    return `line:${line}`;
  }
}

/** One line of a file read back by its offset and length; undefined when it is no longer there (the file changed). */
export function readLineAt(fd: number, offset: number, bytes: number): string | undefined {
  if (!Number.isFinite(offset) || bytes < 0) return undefined;
  const buf = Buffer.alloc(bytes);
  if (fs.readSync(fd, buf, 0, bytes, offset) !== bytes) return undefined;
  // The first line's bytes include a BOM if the file has one (readLines strips it from the text only); a CRLF's CR too.
  return buf.toString('utf8').replace(/^\uFEFF/, '').replace(/\r$/, '');
}
