import * as fs from 'node:fs';
import { DEFAULT_MAX_LINE_BYTES, readLines, type RawLine } from './jsonl-lines';
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
  return v;
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
    return { role: role as Role, content };
  });
}

/** Turns one parsed JSON value into a record, or throws a FieldError naming the culprit. */
export function normaliseRecord(value: unknown, line: number): LogRecord {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FieldError('', `a record must be a JSON object, got ${typeName(value)}`);
  }
  const raw = value as Record<string, unknown>;
  let prompt: string | undefined;
  let messages: ChatMessage[] | undefined;
  let response: string | undefined;

  if (raw.messages !== undefined) {
    messages = parseMessages(raw.messages);
    if (raw.response !== undefined) {
      if (typeof raw.response !== 'string') throw new FieldError('response', `must be a string, got ${typeName(raw.response)}`);
      response = raw.response;
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
    prompt = raw.prompt;
    if (raw.response === undefined) throw new FieldError('response', 'missing');
    if (typeof raw.response !== 'string') throw new FieldError('response', `must be a string, got ${typeName(raw.response)}`);
    response = raw.response;
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
      targetLogprobs[k] = v as number | null;
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
    if (!(await fs.promises.stat(file)).isFile()) throw new Error('not a file');
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
  for await (const l of source) {
    lines++;
    if (l.text === undefined) {
      yield { kind: 'issue', issue: { file, line: l.line, reason: `line is ${sizeText(l.bytes)}, over the ${sizeText(max)} limit per record (maxLineBytes)` } };
      continue;
    }
    if (l.text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(l.text);
    } catch (e) {
      const tail = l.unterminated ? ' (the last line has no newline: a half-written line?)' : '';
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
  if (lines === 0) yield { kind: 'issue', issue: { file, line: 0, reason: 'the log is empty: no lines' } };
  else if (records === 0) yield { kind: 'issue', issue: { file, line: 0, reason: 'the log has no usable record' } };
}

function sizeText(bytes: number): string {
  if (bytes >= 1048576) return `${+(bytes / 1048576).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} bytes`;
}

/** file:line: reason — the one format every issue is printed in. */
export function formatIssue(i: LogIssue): string {
  return `${i.file}:${i.line}: ${i.reason}`;
}
