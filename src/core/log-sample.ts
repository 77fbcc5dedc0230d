// The first records of a log, read synchronously from its first bytes, for
// checks that must not wait on a whole read: the lint rule that asks whether
// the config's `fields` paths exist in the log (CJE090), and cje score before
// it starts. JSONL, .jsonl.gz and CSV alike; lines that do not parse are skipped
// (the reader reports them with their line numbers).

import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { csvRecord, splitCsvRecord } from './csv-records';
import { logFormatOf } from './log-reader';

const SAMPLE_BYTES = 256 * 1024;

/** The last samples by file, kept while the file's size and mtime stay the same: the editor lints on every edit. */
const cache = new Map<string, { stamp: string; n: number; records: Record<string, unknown>[] }>();

/** Up to `n` parsed records from the start of `file`; [] when it cannot be read. */
export function sampleLogRecords(file: string, n = 20): Record<string, unknown>[] {
  let stamp: string;
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) return [];
    stamp = `${st.size}:${st.mtimeMs}`;
  } catch {
    return [];
  }
  const hit = cache.get(file);
  if (hit && hit.stamp === stamp && hit.n === n) return hit.records;
  const records = readSample(file, n);
  if (cache.size > 32) cache.clear();
  cache.set(file, { stamp, n, records });
  return records;
}

function readSample(file: string, n: number): Record<string, unknown>[] {
  const format = logFormatOf(file);
  let buf: Buffer;
  let whole = false;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      buf = Buffer.alloc(SAMPLE_BYTES);
      const got = fs.readSync(fd, buf, 0, SAMPLE_BYTES, 0);
      whole = got < SAMPLE_BYTES;
      buf = buf.subarray(0, got);
    } finally {
      fs.closeSync(fd);
    }
    // A cut gzip stream still gives the bytes before the cut with a sync flush.
    if (format.endsWith('.gz')) {
      buf = zlib.gunzipSync(buf, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
      whole = false;
    }
  } catch {
    return [];
  }
  let text = buf.toString('utf8').replace(/^\uFEFF/, '');
  // The last line may be cut by the sample's end.
  if (!whole) text = text.slice(0, Math.max(0, text.lastIndexOf('\n')));
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  const out: Record<string, unknown>[] = [];
  if (format.startsWith('csv')) {
    let header: string[] | undefined;
    let pending = '';
    for (const l of lines) {
      const t = pending ? `${pending}\n${l}` : l;
      if (!pending && !t.trim()) continue;
      const fields = splitCsvRecord(t);
      if (fields === null) {
        pending = t;
        continue;
      }
      pending = '';
      if (!header) {
        header = fields.map((h) => h.trim());
        continue;
      }
      if (fields.length !== header.length) continue;
      const cells: Record<string, string> = {};
      header.forEach((h, i) => Object.defineProperty(cells, h, { value: fields[i], enumerable: true, writable: true, configurable: true }));
      out.push(csvRecord(cells));
      if (out.length >= n) break;
    }
    return out;
  }
  for (const l of lines) {
    if (!l.trim()) continue;
    try {
      const v = JSON.parse(l);
      if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v);
    } catch {
      /* a bad line: the reader reports it */
    }
    if (out.length >= n) break;
  }
  return out;
}
