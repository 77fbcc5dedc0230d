// CSV with a header row (RFC 4180: comma-separated, fields in double quotes may
// hold commas, newlines and doubled quotes), read from the same physical lines
// as JSONL (jsonl-lines.ts), so the size limits, the UTF-8 checks and gzip work
// alike. A record that spans lines (a quoted newline) is numbered by the line
// it starts on. Written here rather than taken from a package: the whole format
// is the small state machine below, and the lines arrive already checked.

import type { RawLine } from './jsonl-lines';

/** One data row of a CSV file: its cells by header name, or why it could not be read. */
export type CsvRow = { line: number; cells: Record<string, string> } | { line: number; error: string };

/** The fields of one CSV record, or null while a quoted field is still open at the end of `text`. Scans with indexOf, not by character. */
export function splitCsvRecord(text: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === 0x22 /* " */) {
      // A quoted field: up to the quote that is not doubled; text after it up to the comma is kept (lenient, as readers are).
      let field = '';
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q === -1) return null;
        field += text.slice(from, q);
        if (text.charCodeAt(q + 1) === 0x22) {
          field += '"';
          from = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      const comma = text.indexOf(',', i);
      const end = comma === -1 ? text.length : comma;
      field += text.slice(i, end);
      out.push(field);
      if (comma === -1) return out;
      i = comma + 1;
    } else {
      const comma = text.indexOf(',', i);
      if (comma === -1) {
        out.push(text.slice(i));
        return out;
      }
      out.push(text.slice(i, comma));
      i = comma + 1;
    }
  }
}

/**
 * Rows of a CSV file, from its physical lines. The first record is the header;
 * each later record becomes an object of header → cell. An empty line between
 * records is skipped; a row whose field count differs from the header's, or a
 * quoted field still open at the end of the file, is an error naming its line.
 * `maxRecordBytes` bounds a record that spans lines, as maxLineBytes bounds one line.
 */
export async function* csvRows(lines: AsyncIterable<RawLine>, opts: { maxRecordBytes: number }): AsyncGenerator<CsvRow | { line: number; raw: RawLine }> {
  let header: string[] | undefined;
  let pending: { start: number; text: string; bytes: number } | undefined;
  for await (const l of lines) {
    // Over-long and non-text lines go back to the caller, which reports them as for JSONL.
    if (l.text === undefined || l.badUtf8At !== undefined || l.text.includes('\0')) {
      if (pending) {
        yield { line: pending.start, error: `a quoted field opened on line ${pending.start} runs into line ${l.line}, which is not usable text` };
        pending = undefined;
      }
      yield { line: l.line, raw: l };
      continue;
    }
    const text = pending ? `${pending.text}\n${l.text}` : l.text;
    const start = pending?.start ?? l.line;
    const bytes = (pending?.bytes ?? 0) + l.bytes + (pending ? 1 : 0);
    if (!pending && text.trim() === '') continue;
    const fields = splitCsvRecord(text);
    if (fields === null) {
      if (bytes > opts.maxRecordBytes) {
        yield { line: start, error: `a quoted field opened on line ${start} is still open after ${bytes} bytes (the maxLineBytes limit): a missing closing quote?` };
        pending = undefined;
      } else pending = { start, text, bytes };
      continue;
    }
    pending = undefined;
    if (!header) {
      header = fields.map((h) => h.trim());
      const dup = header.find((h, i) => header!.indexOf(h) !== i);
      if (dup !== undefined) {
        yield { line: start, error: `the header names the column "${dup}" twice` };
        return;
      }
      continue;
    }
    if (fields.length !== header.length) {
      yield { line: start, error: `this row has ${fields.length} field(s), the header (line 1) ${header.length}: an unquoted comma or a missing field?` };
      continue;
    }
    const cells: Record<string, string> = {};
    header.forEach((h, i) => Object.defineProperty(cells, h, { value: fields[i], enumerable: true, writable: true, configurable: true }));
    yield { line: start, cells };
  }
  if (pending) yield { line: pending.start, error: `a quoted field opened on line ${pending.start} is never closed (the file ends inside it)` };
}

/**
 * The record a CSV row stands for: empty cells are left out (absent, as a field
 * a JSON record does not have), and a header such as "target_policy_logprobs.premium"
 * nests, so the row reads like the JSON record it would be.
 */
export function csvRecord(cells: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [h, v] of Object.entries(cells)) {
    if (v === '') continue;
    const parts = h.split('.');
    let cur = out;
    let ok = true;
    for (let i = 0; i < parts.length - 1; i++) {
      const k = parts[i];
      const next = Object.hasOwn(cur, k) ? cur[k] : undefined;
      if (next === undefined) {
        const o: Record<string, unknown> = {};
        Object.defineProperty(cur, k, { value: o, enumerable: true, writable: true, configurable: true });
        cur = o;
      } else if (next !== null && typeof next === 'object') cur = next as Record<string, unknown>;
      else {
        ok = false;
        break;
      }
    }
    const target = ok ? cur : out;
    const key = ok ? parts[parts.length - 1] : h;
    Object.defineProperty(target, key, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
