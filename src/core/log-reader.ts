import * as fs from 'node:fs';
import { csvRecord, csvRows } from './csv-records';
import { DEFAULT_PATHS, getPath, parsePath, type FieldMap, type FieldName, type Segment } from './field-map';
import { DEFAULT_MAX_LINE_BYTES, NotJsonlError, readLines, type RawLine } from './jsonl-lines';
import type { ChatMessage, LogIssue, LogRecord, Role } from './types';
import { sampleId } from './sample-id';

export type LogItem = { kind: 'record'; record: LogRecord } | { kind: 'issue'; issue: LogIssue };

const ROLES: ReadonlySet<string> = new Set(['system', 'user', 'assistant', 'tool']);

class FieldError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** JSON.parse turns a number too large for a double (1e400) into ±Infinity: no log-prob or score is that. */
function finite(field: string, v: number): void {
  if (!Number.isFinite(v)) throw new FieldError(field, `must be a finite number, got a number too large for a double (${v})`);
}

/** Text that will be tokenized must be well-formed Unicode: a \ud800 escape decodes to a lone surrogate, which no tokenizer can encode. */
function wellFormed(field: string, s: string): string {
  // With the u flag a paired surrogate is one code point; only a lone one is category Cs.
  const m = LONE_SURROGATE.exec(s);
  if (!m) return s;
  const hex = m[0].charCodeAt(0).toString(16);
  throw new FieldError(field, `holds a lone UTF-16 surrogate (\\u${hex} at character ${m.index}): not valid Unicode text, so it cannot be tokenized`);
}
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Sets an own, enumerable property even for keys like "__proto__", whose plain
 * assignment would change the object's prototype instead (and so drop the key).
 */
function setOwn<T>(o: Record<string, T>, k: string, v: T): void {
  // Only "__proto__" has a setter on a plain object; any other key (even "constructor") is made own by assignment, which is much cheaper.
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

/** Deeper than this a record is not something a logger wrote, and recursive code downstream (JSON.stringify, structured clone) would overflow its stack. */
export const MAX_NESTING = 512;

/** The first top-level field of `obj` that nests arrays/objects deeper than `limit`, walked without recursion. */
function tooDeep(obj: Record<string, unknown>, limit: number): string | undefined {
  for (const key of Object.keys(obj)) {
    const stack: [unknown, number][] = [[obj[key], 1]];
    while (stack.length) {
      const [v, d] = stack.pop()!;
      if (v === null || typeof v !== 'object') continue;
      if (d > limit) return key;
      for (const c of Array.isArray(v) ? v : Object.values(v)) if (c !== null && typeof c === 'object') stack.push([c, d + 1]);
    }
  }
  return undefined;
}

function parseMessages(v: unknown, field: string): ChatMessage[] {
  if (!Array.isArray(v)) throw new FieldError(field, `must be an array of {role, content}, got ${typeName(v)}`);
  if (v.length === 0) throw new FieldError(field, 'is empty');
  return v.map((m, i) => {
    const path = `${field}[${i}]`;
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      throw new FieldError(path, `must be an object {role, content}, got ${typeName(m)}`);
    }
    const { role, content } = m as Record<string, unknown>;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw new FieldError(`${path}.role`, `must be one of system, user, assistant, tool; got ${JSON.stringify(role)}`);
    }
    if (typeof content !== 'string') {
      // Multi-part content (images, tool calls) cannot be flattened into a completions prompt.
      throw new FieldError(`${path}.content`, `must be a string, got ${typeName(content)}`);
    }
    return { role: role as Role, content: wellFormed(`${path}.content`, content) };
  });
}

export interface RecordOptions {
  /** Our field names → dotted paths in the user's records (the config's `fields`, `--field`). */
  fields?: FieldMap;
  /** The record came from CSV: its cells are text, so numbers and lists written in them are parsed where a field needs one. */
  textCells?: boolean;
}

/** The default paths of each field, parsed once. */
const DEFAULT_SEGMENTS = Object.fromEntries(Object.entries(DEFAULT_PATHS).map(([k, ps]) => [k, ps.map((p) => [p, parsePath(p)] as const)])) as unknown as Record<FieldName, readonly (readonly [string, Segment[]])[]>;

/** Mapped paths, parsed once for all records. */
const MAPPED_SEGMENTS = new Map<string, Segment[]>();

/** Where each field of one record is read from: the mapped path, else the first default path the record holds. */
class FieldReader {
  constructor(readonly raw: Record<string, unknown>, private readonly opts: RecordOptions) {}

  /**
   * The field's value and the path it was found at: the mapped path, else the first
   * default path the record holds (so a mapped config still reads a log in CJE's
   * own shape, such as one written by cje export); undefined value when absent.
   */
  get(name: FieldName): { value: unknown; path: string } {
    const mapped = this.opts.fields?.[name];
    if (mapped !== undefined) {
      let segs = MAPPED_SEGMENTS.get(mapped);
      if (!segs) {
        if (MAPPED_SEGMENTS.size > 256) MAPPED_SEGMENTS.clear();
        MAPPED_SEGMENTS.set(mapped, (segs = parsePath(mapped)));
      }
      const v = getPath(this.raw, segs);
      if (v !== undefined) return { value: this.cell(v, mapped, name), path: mapped };
    }
    for (const [p, segs] of DEFAULT_SEGMENTS[name]) {
      const v = getPath(this.raw, segs);
      if (v !== undefined) return { value: this.cell(v, p, name), path: p };
    }
    return { value: undefined, path: mapped ?? DEFAULT_PATHS[name][0] };
  }

  /** A CSV cell holds text: a number or a JSON list/object written in it is read as one where the field needs that. */
  private cell(v: unknown, path: string, name: FieldName): unknown {
    if (!this.opts.textCells) return v;
    // Columns "target_policy_logprobs.NAME" nest into an object of cells, each a number written as text.
    if (name === 'target_policy_logprobs' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) setOwn(out, k, typeof x === 'string' ? numberCell(x, `${path}.${k}`) : x);
      return out;
    }
    if (typeof v !== 'string') return v;
    const t = v.trim();
    if (NUMERIC_FIELDS.has(name) && !t.startsWith('[')) return numberCell(v, path);
    if (LIST_FIELDS.has(name) && (t.startsWith('[') || t.startsWith('{'))) {
      try {
        return JSON.parse(t);
      } catch (e) {
        throw new FieldError(path, `holds text that starts like JSON but is not (${(e as Error).message})`);
      }
    }
    return v;
  }
}

/** A number written as text in a CSV cell; null for the usual spellings of a missing value. */
function numberCell(v: string, path: string): number | null {
  const t = v.trim();
  if (/^(?:null|NA|NaN|nan|None)$/.test(t)) return null;
  const n = Number(t);
  if (t !== '' && Number.isFinite(n)) return n;
  throw new FieldError(path, `must be a number, got the text ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`);
}

const NUMERIC_FIELDS: ReadonlySet<FieldName> = new Set(['judge_score', 'oracle_label', 'base_policy_logprob']);
const LIST_FIELDS: ReadonlySet<FieldName> = new Set(['messages', 'responses', 'response', 'target_policy_logprobs', 'judge_score', 'oracle_label', 'base_policy_logprob']);

function text(field: string, v: unknown): string {
  if (typeof v !== 'string') throw new FieldError(field, `must be a string, got ${typeName(v)}`);
  return wellFormed(field, v);
}

/** A number-or-null field, for one sample (`i`) of `m` when the record holds a list of them. */
function numberAt(field: string, v: unknown, i: number | undefined, m: number, perSampleOnly: boolean): number | null | undefined {
  if (v === undefined || v === null) return v as null | undefined;
  if (Array.isArray(v)) {
    if (i === undefined) throw new FieldError(field, `is a list, but the record has one response (a list is for a record with several sampled responses)`);
    if (v.length !== m) throw new FieldError(field, `holds ${v.length} value(s) for ${m} sampled responses: give one per response`);
    return numberAt(`${field}[${i}]`, v[i], undefined, 1, false);
  }
  if (perSampleOnly && i !== undefined) throw new FieldError(field, `is one number for ${m} sampled responses: give a list, one log-prob per response`);
  if (typeof v !== 'number') throw new FieldError(field, `must be a number or null, got ${typeName(v)}`);
  finite(field, v);
  return v;
}

/** {policy: logprob} for one sample: the record holds one such object, a list of them (one per sample), or {policy: [logprob per sample]}. */
function targetsAt(field: string, t: unknown, i: number | undefined, m: number): Record<string, number | null> | undefined {
  if (t === undefined || t === null) return undefined;
  if (Array.isArray(t)) {
    if (i === undefined) throw new FieldError(field, 'is a list, but the record has one response (a list is for a record with several sampled responses)');
    if (t.length !== m) throw new FieldError(field, `holds ${t.length} object(s) for ${m} sampled responses: give one per response`);
    return targetsAt(`${field}[${i}]`, t[i], undefined, 1);
  }
  if (typeof t !== 'object') throw new FieldError(field, `must be an object {policy: logprob}, got ${typeName(t)}`);
  const out: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(t as Record<string, unknown>)) {
    // A key such as "__proto__" or "constructor" is just a policy name the config does not have.
    setOwn(out, k, numberAt(`${field}.${k}`, v, i, m, i !== undefined) ?? null);
  }
  return out;
}

/**
 * Turns one parsed JSON value into its records: one, or one per sampled
 * response when the record holds a list of them (`responses`, or `response`
 * mapped to a list), all on the same line, ids `${id}#${i}`. Throws a
 * FieldError naming the culprit.
 */
export function normaliseRecords(value: unknown, line: number, opts: RecordOptions = {}): LogRecord[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FieldError('', `a record must be a JSON object, got ${typeName(value)}`);
  }
  const raw = value as Record<string, unknown>;
  const deep = tooDeep(raw, MAX_NESTING);
  if (deep !== undefined) throw new FieldError(deep, `nests arrays/objects deeper than ${MAX_NESTING} levels`);
  const f = new FieldReader(raw, opts);
  let prompt: string | undefined;
  let messages: ChatMessage[] | undefined;
  let responses: string[];
  /** Set for a record with several sampled responses (even a list of one). */
  let multi = false;

  const resp = f.get('response');
  const many = f.get('responses');
  const readResponses = (): string[] | undefined => {
    if (many.value !== undefined) {
      if (resp.value !== undefined) throw new FieldError(many.path, `give either "${resp.path}" or "${many.path}", not both`);
      if (!Array.isArray(many.value)) throw new FieldError(many.path, `must be a list of the sampled responses (strings), got ${typeName(many.value)}`);
      multi = true;
      return many.value.map((r, i) => text(`${many.path}[${i}]`, r));
    }
    if (Array.isArray(resp.value)) {
      multi = true;
      return resp.value.map((r, i) => text(`${resp.path}[${i}]`, r));
    }
    if (resp.value !== undefined) return [text(resp.path, resp.value)];
    return undefined;
  };

  const msgs = f.get('messages');
  const pr = f.get('prompt');
  if (msgs.value !== undefined) {
    messages = parseMessages(msgs.value, msgs.path);
    const given = readResponses();
    if (given) responses = given;
    else if (messages[messages.length - 1].role === 'assistant') {
      responses = [messages[messages.length - 1].content];
      messages = messages.slice(0, -1);
    } else {
      throw new FieldError(resp.path, `missing: give "${resp.path}" or end "${msgs.path}" with an assistant message`);
    }
    if (messages.length === 0) throw new FieldError(msgs.path, 'has no message before the response');
    if (pr.value !== undefined) throw new FieldError(pr.path, `give either "${pr.path}" or "${msgs.path}", not both`);
  } else {
    if (pr.value === undefined) {
      throw new FieldError(pr.path, `missing: a record needs "${pr.path}" or "${msgs.path}"${opts.fields ? '' : ' (a `fields` mapping in the config, or --field prompt=PATH, names where your records keep it)'}`);
    }
    prompt = text(pr.path, pr.value);
    const given = readResponses();
    if (!given) throw new FieldError(resp.path, 'missing');
    responses = given;
  }
  if (multi && responses.length === 0) throw new FieldError(many.value !== undefined ? many.path : resp.path, 'is an empty list: no response to score');

  const m = responses.length;
  const tg = f.get('target_policy_logprobs');
  // Checked in this order (targets, metadata, id, then the numbers) so that the field an issue names is the first bad one.
  const targets = multi ? responses.map((_, k) => targetsAt(tg.path, tg.value, k, m)) : [targetsAt(tg.path, tg.value, undefined, 1)];

  const meta = raw.metadata;
  if (meta !== undefined && meta !== null && (typeof meta !== 'object' || Array.isArray(meta))) {
    throw new FieldError('metadata', `must be an object, got ${typeName(meta)}`);
  }
  const idf = f.get('id');
  let id: string | undefined;
  if (idf.value !== undefined && idf.value !== null) {
    const v = idf.value;
    if (typeof v !== 'string' && typeof v !== 'number') throw new FieldError(idf.path, `must be a string or number, got ${typeName(v)}`);
    if (typeof v === 'number') finite(idf.path, v);
    id = String(v);
  }
  const recordId = id ?? `line:${line}`;

  const bl = f.get('base_policy_logprob');
  const js = f.get('judge_score');
  const ol = f.get('oracle_label');
  if (!multi) {
    return [
      {
        line,
        id: recordId,
        prompt,
        messages,
        response: responses[0],
        baseLogprob: numberAt(bl.path, bl.value, undefined, 1, true),
        targetLogprobs: targets[0],
        judgeScore: numberAt(js.path, js.value, undefined, 1, false),
        oracleLabel: numberAt(ol.path, ol.value, undefined, 1, false),
        raw,
      },
    ];
  }
  const base = responses.map((_, k) => numberAt(bl.path, bl.value, k, m, true));
  const judge = responses.map((_, k) => numberAt(js.path, js.value, k, m, false));
  const oracle = responses.map((_, k) => numberAt(ol.path, ol.value, k, m, false));
  return responses.map((response, k) => ({
    line,
    id: sampleId(recordId, k),
    group: recordId,
    sample: k,
    prompt,
    messages,
    response,
    baseLogprob: base[k],
    targetLogprobs: targets[k],
    judgeScore: judge[k],
    oracleLabel: oracle[k],
    raw,
  }));
}

/** How a log file is read: by its name (.csv, .gz); anything else is JSONL, whose first bytes are checked for what it really is. */
export type LogFormat = 'jsonl' | 'jsonl.gz' | 'csv' | 'csv.gz';

export function logFormatOf(file: string): LogFormat {
  const f = file.toLowerCase();
  if (f.endsWith('.csv.gz')) return 'csv.gz';
  if (f.endsWith('.csv')) return 'csv';
  if (f.endsWith('.gz')) return 'jsonl.gz';
  return 'jsonl';
}

export interface ReadLogOptions extends Pick<RecordOptions, 'fields'> {
  maxLineBytes?: number;
}

/**
 * Streams a log: JSONL, JSONL compressed with gzip (.jsonl.gz, decompressed as
 * it streams) or CSV with a header (.csv, .csv.gz). Yields every usable record
 * (several for a record with sampled responses) and, for every unusable line,
 * an issue naming the file, line and field, so that one bad line never stops
 * the others.
 */
export async function* readLog(file: string, opts: ReadLogOptions = {}): AsyncGenerator<LogItem> {
  const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    // A device or pipe (/dev/zero, /dev/urandom) may never end, and a folder has no lines.
    if (!(await fs.promises.stat(file)).isFile()) throw new Error('not a regular file (a folder, device or pipe)');
  } catch (e) {
    yield { kind: 'issue', issue: { file, line: 0, reason: `cannot read the log: ${(e as Error).message}` } };
    return;
  }
  const format = logFormatOf(file);
  const lines = readLines(file, { maxLineBytes: max, gzip: format.endsWith('.gz') });
  if (format.startsWith('csv')) yield* readCsvLines(file, lines, opts);
  else yield* readLogLines(file, lines, opts);
}

/** readLogLines for CSV: each data row is a record, its cells read as text (numbers and JSON lists parsed where a field needs them). */
export async function* readCsvLines(file: string, source: AsyncIterable<RawLine>, opts: ReadLogOptions = {}): AsyncGenerator<LogItem> {
  const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let records = 0;
  let rows = 0;
  let badRun = 0;
  try {
    for await (const r of csvRows(source, { maxRecordBytes: max })) {
      if (badRun >= MAX_BAD_RUN) {
        yield stoppedReading(file, r.line, 'CSV');
        return;
      }
      if ('raw' in r) {
        badRun++;
        const l = r.raw;
        yield { kind: 'issue', issue: { file, line: l.line, reason: notTextReason(l, max) ?? 'line holds a NUL byte: binary data, not CSV text' } };
        continue;
      }
      badRun = 0;
      rows++;
      if ('error' in r) {
        yield { kind: 'issue', issue: { file, line: r.line, reason: r.error } };
        continue;
      }
      const got = recordsOf(file, csvRecord(r.cells), r.line, { fields: opts.fields, textCells: true });
      if ('issue' in got) yield got;
      else {
        for (const record of got.records) yield { kind: 'record', record };
        records++;
      }
    }
  } catch (e) {
    if (!(e instanceof NotJsonlError)) throw e;
    yield { kind: 'issue', issue: { file, line: e.line, reason: e.what.replace('not JSONL text', 'not CSV text') } };
    return;
  }
  if (rows === 0) yield { kind: 'issue', issue: { file, line: 0, reason: 'the CSV file has no data rows (a header line, then one line per record)' } };
  else if (records === 0) yield { kind: 'issue', issue: { file, line: 0, reason: 'the log has no usable record' } };
}

/**
 * The checks of readLog over lines from any source (a file, or an editor's
 * unsaved text through textLines), so that the editor's Problems and the CLI
 * say the same thing about the same line. `file` only names the issues.
 */
export async function* readLogLines(file: string, source: AsyncIterable<RawLine> | Iterable<RawLine>, opts: ReadLogOptions = {}): AsyncGenerator<LogItem> {
  const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let records = 0;
  let lines = 0;
  // Lines in a row that were over-long or not text: past MAX_BAD_RUN the file is not a log, and one issue says so.
  let badRun = 0;
  const notText = (line: number, why: string): LogItem => {
    badRun++;
    return { kind: 'issue', issue: { file, line, reason: why } };
  };
  try {
    for await (const l of source) {
      lines++;
      if (badRun >= MAX_BAD_RUN) {
        yield stoppedReading(file, l.line, 'JSONL');
        return;
      }
      const why = notTextReason(l, max);
      // (l.text is undefined only with a reason: the second test narrows the type.)
      if (why !== undefined || l.text === undefined) {
        yield notText(l.line, why!);
        continue;
      }
      const nul = l.text.indexOf('\0');
      if (nul !== -1) {
        yield notText(l.line, `line holds a NUL byte (at character ${nul}): binary data, not JSON text`);
        continue;
      }
      badRun = 0;
      // A byte-order mark at the start of a later line is left by concatenating files that each had one: an encoding mark, not content.
      const text = l.text.charCodeAt(0) === 0xfeff ? l.text.slice(1) : l.text;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        const tail = l.unterminated ? ' (the last line has no newline: a half-written line?)' : /\r(?!$)/.test(text) ? ' (the line holds a bare CR: lines must end in LF or CRLF)' : '';
        yield { kind: 'issue', issue: { file, line: l.line, reason: `invalid JSON: ${(e as Error).message}${tail}` } };
        continue;
      }
      const got = recordsOf(file, value, l.line, { fields: opts.fields });
      if ('issue' in got) yield got;
      else {
        for (const record of got.records) yield { kind: 'record', record };
        records++;
      }
    }
  } catch (e) {
    if (!(e instanceof NotJsonlError)) throw e;
    yield { kind: 'issue', issue: { file, line: e.line, reason: e.what } };
    return;
  }
  if (lines === 0) yield { kind: 'issue', issue: { file, line: 0, reason: 'the log is empty: no lines' } };
  else if (records === 0) yield { kind: 'issue', issue: { file, line: 0, reason: 'the log has no usable record' } };
}

/** Why a line cannot be read as text: over the line limit, or not UTF-8 (undefined: it is text). */
function notTextReason(l: RawLine, max: number): string | undefined {
  if (l.text === undefined) return `line is longer than ${max} bytes (${sizeText(max)}, the maxLineBytes limit; --max-line-bytes raises it): ${sizeText(l.bytes)}, skipped`;
  if (l.badUtf8At !== undefined) return `line is not valid UTF-8 (bad byte sequence at byte ${l.badUtf8At} of the line): a log must be UTF-8 text`;
  return undefined;
}

function stoppedReading(file: string, line: number, format: 'JSONL' | 'CSV'): LogItem {
  return { kind: 'issue', issue: { file, line, reason: `stopped reading at line ${line}: the ${MAX_BAD_RUN} lines before it were all over the line limit or not text; this does not look like a ${format} log` } };
}

/** The records of one parsed line, or the issue naming the field that spoils it. */
function recordsOf(file: string, value: unknown, line: number, opts: RecordOptions): { records: LogRecord[] } | Extract<LogItem, { kind: 'issue' }> {
  try {
    return { records: normaliseRecords(value, line, opts) };
  } catch (e) {
    if (!(e instanceof FieldError)) throw e;
    return { kind: 'issue', issue: { file, line, field: e.field || undefined, reason: e.field ? `${e.field} ${e.message}` : e.message } };
  }
}

/** Consecutive over-long or non-text lines after which reading stops. */
export const MAX_BAD_RUN = 32;

function sizeText(bytes: number): string {
  if (bytes >= 1048576) return `${+(bytes / 1048576).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** file:line: reason — the one format every issue is printed in. */
export function formatIssue(i: LogIssue): string {
  return `${i.file}:${i.line}: ${i.reason}`;
}
