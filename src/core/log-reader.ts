import * as fs from 'node:fs';
import { DEFAULT_MAX_LINE_BYTES, NotJsonlError, readLines, type RawLine } from './jsonl-lines';
import type { ChatMessage, LogIssue, LogRecord, Role } from './types';

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

function optionalNumber(obj: Record<string, unknown>, field: string): number | null | undefined {
  const v = obj[field];
  if (v === undefined || v === null) return v as null | undefined;
  if (typeof v !== 'number') throw new FieldError(field, `must be a number or null, got ${typeName(v)}`);
  finite(field, v);
  return v;
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
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
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

function parseMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v)) throw new FieldError('messages', `must be an array of {role, content}, got ${typeName(v)}`);
  if (v.length === 0) throw new FieldError('messages', 'is empty');
  return v.map((m, i) => {
    const path = `messages[${i}]`;
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

/** Turns one parsed JSON value into a record, or throws a FieldError naming the culprit. */
export function normaliseRecord(value: unknown, line: number): LogRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FieldError('', `a record must be a JSON object, got ${typeName(value)}`);
  }
  const raw = value as Record<string, unknown>;
  const deep = tooDeep(raw, MAX_NESTING);
  if (deep !== undefined) throw new FieldError(deep, `nests arrays/objects deeper than ${MAX_NESTING} levels`);
  let prompt: string | undefined;
  let messages: ChatMessage[] | undefined;
  let response: string | undefined;

  if (raw.messages !== undefined) {
    messages = parseMessages(raw.messages);
    if (raw.response !== undefined) {
      if (typeof raw.response !== 'string') throw new FieldError('response', `must be a string, got ${typeName(raw.response)}`);
      response = wellFormed('response', raw.response);
    } else if (messages[messages.length - 1].role === 'assistant') {
      response = messages[messages.length - 1].content;
      messages = messages.slice(0, -1);
    } else {
      throw new FieldError('response', 'missing: give "response" or end "messages" with an assistant message');
    }
    if (messages.length === 0) throw new FieldError('messages', 'has no message before the response');
    if (raw.prompt !== undefined) throw new FieldError('prompt', 'give either "prompt" or "messages", not both');
  } else {
    if (raw.prompt === undefined) throw new FieldError('prompt', 'missing: a record needs "prompt" or "messages"');
    if (typeof raw.prompt !== 'string') throw new FieldError('prompt', `must be a string, got ${typeName(raw.prompt)}`);
    prompt = wellFormed('prompt', raw.prompt);
    if (raw.response === undefined) throw new FieldError('response', 'missing');
    if (typeof raw.response !== 'string') throw new FieldError('response', `must be a string, got ${typeName(raw.response)}`);
    response = wellFormed('response', raw.response);
  }

  let targetLogprobs: Record<string, number | null> | undefined;
  const t = raw.target_policy_logprobs;
  if (t !== undefined && t !== null) {
    if (typeof t !== 'object' || Array.isArray(t)) {
      throw new FieldError('target_policy_logprobs', `must be an object {policy: logprob}, got ${typeName(t)}`);
    }
    targetLogprobs = {};
    for (const [k, v] of Object.entries(t as Record<string, unknown>)) {
      if (v !== null && typeof v !== 'number') {
        throw new FieldError(`target_policy_logprobs.${k}`, `must be a number or null, got ${typeName(v)}`);
      }
      if (v !== null) finite(`target_policy_logprobs.${k}`, v);
      // A key such as "__proto__" or "constructor" is just a policy name the config does not have.
      setOwn(targetLogprobs, k, v as number | null);
    }
  }

  const meta = raw.metadata;
  if (meta !== undefined && meta !== null && (typeof meta !== 'object' || Array.isArray(meta))) {
    throw new FieldError('metadata', `must be an object, got ${typeName(meta)}`);
  }
  let id: string | undefined;
  for (const [field, v] of [
    ['prompt_id', raw.prompt_id],
    ['metadata.prompt_id', (meta as Record<string, unknown> | undefined)?.prompt_id],
  ] as const) {
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string' && typeof v !== 'number') throw new FieldError(field, `must be a string or number, got ${typeName(v)}`);
    if (typeof v === 'number') finite(field, v);
    id = String(v);
    break;
  }

  return {
    line,
    id: id ?? `line:${line}`,
    prompt,
    messages,
    response: response!,
    baseLogprob: optionalNumber(raw, 'base_policy_logprob'),
    targetLogprobs,
    judgeScore: optionalNumber(raw, 'judge_score'),
    oracleLabel: optionalNumber(raw, 'oracle_label'),
    raw,
  };
}

/**
 * Streams a JSONL log: yields every usable record and, for every unusable
 * line, an issue naming the file, line and field, so that one bad line never
 * stops the others.
 */
export async function* readLog(file: string, opts: { maxLineBytes?: number } = {}): AsyncGenerator<LogItem> {
  const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  try {
    await fs.promises.access(file, fs.constants.R_OK);
    // A device or pipe (/dev/zero, /dev/urandom) may never end, and a folder has no lines.
    if (!(await fs.promises.stat(file)).isFile()) throw new Error('not a regular file (a folder, device or pipe)');
  } catch (e) {
    yield { kind: 'issue', issue: { file, line: 0, reason: `cannot read the log: ${(e as Error).message}` } };
    return;
  }
  yield* readLogLines(file, readLines(file, { maxLineBytes: max }), { maxLineBytes: max });
}

/**
 * The checks of readLog over lines from any source (a file, or an editor's
 * unsaved text through textLines), so that the editor's Problems and the CLI
 * say the same thing about the same line. `file` only names the issues.
 */
export async function* readLogLines(file: string, source: AsyncIterable<RawLine> | Iterable<RawLine>, opts: { maxLineBytes?: number } = {}): AsyncGenerator<LogItem> {
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
        yield {
          kind: 'issue',
          issue: { file, line: l.line, reason: `stopped reading at line ${l.line}: the ${MAX_BAD_RUN} lines before it were all over the line limit or not text; this does not look like a JSONL log` },
        };
        return;
      }
      if (l.text === undefined) {
        yield notText(l.line, `line is longer than ${max} bytes (${sizeText(max)}, the maxLineBytes limit; --max-line-bytes raises it): ${sizeText(l.bytes)}, skipped`);
        continue;
      }
      if (l.badUtf8At !== undefined) {
        yield notText(l.line, `line is not valid UTF-8 (bad byte sequence at byte ${l.badUtf8At} of the line): a log must be UTF-8 text`);
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
      try {
        yield { kind: 'record', record: normaliseRecord(value, l.line) };
        records++;
      } catch (e) {
        if (!(e instanceof FieldError)) throw e;
        yield { kind: 'issue', issue: { file, line: l.line, field: e.field || undefined, reason: e.field ? `${e.field} ${e.message}` : e.message } };
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
