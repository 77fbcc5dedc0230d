// A JSONL fuzzer with a fixed seed. Each generated line is a valid record with at most one fault
// (invalid UTF-8, a lone surrogate, NUL, a BOM, CR, deep nesting, huge numbers, a wrong type in a
// field, prototype keys, broken JSON). What readLog must make of it is decided by `classify` below,
// written from the log format in DESIGN.md ("Data contracts") and the reader's documented rules,
// without the reader's code; the two are compared line by line.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readLog } from '../../src/core/log-reader';
import type { LogIssue, LogRecord } from '../../src/core/types';
// mulberry32, so that the same seed gives the same file everywhere.
import { seededRandom } from '../support/emulations/core';

const SEED = 0x5eed2026;
const LINES = 1500;


type Expected = { kind: 'blank' } | { kind: 'issue'; field?: string } | { kind: 'record'; id: string; prompt?: string; messages?: { role: string; content: string }[]; response: string; targets?: [string, number | null][] };

// ---------------------------------------------------------------------------------------------
// The classifier: what a line must become.

const ROLES = ['system', 'user', 'assistant', 'tool'];
const MAX_DEPTH = 512;

/** Whether a string is well-formed UTF-16 (no lone surrogate): encodeURIComponent throws URIError on one. */
function wellFormed(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false;
  }
}
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const finiteOrNull = (v: unknown) => v === null || (typeof v === 'number' && Number.isFinite(v));

/** For each top-level key of a JSON object's text, the nesting depth of its value (arrays/objects), scanned as text. */
function depthsByKey(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let depth = 0;
  let key: string | undefined;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let k = i + 1;
      while (text[k] !== '"') k += text[k] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        key = JSON.parse(text.slice(i, k + 1));
        expectKey = false;
        out.set(key!, 0);
      }
      i = k;
    } else if (c === '{' || c === '[') {
      depth++;
      if (depth === 1) expectKey = true;
      else if (key !== undefined) out.set(key, Math.max(out.get(key)!, depth - 1));
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return out;
}

function classify(bytes: Buffer, lineNo: number): Expected {
  let b = bytes;
  if (b.length && b[b.length - 1] === 0x0d) b = b.subarray(0, b.length - 1);
  if (lineNo === 1 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) b = b.subarray(3);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(b);
  } catch {
    return { kind: 'issue' };
  }
  if (text.includes('\u0000')) return { kind: 'issue' };
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  if (/^\s*$/.test(text)) return { kind: 'blank' };
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { kind: 'issue' };
  }
  if (!isObj(v)) return { kind: 'issue' };
  for (const [k, d] of depthsByKey(text)) if (d > MAX_DEPTH) return { kind: 'issue', field: k };
  const bad = (field: string): Expected => ({ kind: 'issue', field });
  const has = (k: string) => Object.hasOwn(v as object, k) && (v as Record<string, unknown>)[k] !== undefined;
  const r = v;
  let prompt: string | undefined;
  let messages: { role: string; content: string }[] | undefined;
  let response: string;
  if (has('messages')) {
    const m = r.messages;
    if (!Array.isArray(m) || m.length === 0) return bad('messages');
    messages = [];
    for (let i = 0; i < m.length; i++) {
      const e = m[i];
      if (!isObj(e)) return bad(`messages[${i}]`);
      const role = Object.hasOwn(e, 'role') ? e.role : undefined;
      const content = Object.hasOwn(e, 'content') ? e.content : undefined;
      if (typeof role !== 'string' || !ROLES.includes(role)) return bad(`messages[${i}].role`);
      if (typeof content !== 'string' || !wellFormed(content)) return bad(`messages[${i}].content`);
      messages.push({ role, content });
    }
    if (has('response')) {
      if (typeof r.response !== 'string' || !wellFormed(r.response)) return bad('response');
      response = r.response;
    } else if (messages[messages.length - 1].role === 'assistant') {
      response = messages.pop()!.content;
    } else return bad('response');
    if (messages.length === 0) return bad('messages');
    if (has('prompt')) return bad('prompt');
  } else {
    if (!has('prompt') || typeof r.prompt !== 'string' || !wellFormed(r.prompt)) return bad('prompt');
    prompt = r.prompt;
    if (!has('response') || typeof r.response !== 'string' || !wellFormed(r.response)) return bad('response');
    response = r.response;
  }
  let targets: [string, number | null][] | undefined;
  if (has('target_policy_logprobs') && r.target_policy_logprobs !== null) {
    const t = r.target_policy_logprobs;
    if (!isObj(t)) return bad('target_policy_logprobs');
    targets = [];
    for (const k of Object.keys(t)) {
      if (!finiteOrNull(t[k])) return bad(`target_policy_logprobs.${k}`);
      targets.push([k, t[k] as number | null]);
    }
  }
  const meta = has('metadata') ? r.metadata : undefined;
  if (meta !== undefined && meta !== null && !isObj(meta)) return bad('metadata');
  let id: string | undefined;
  for (const [field, val] of [
    ['prompt_id', has('prompt_id') ? r.prompt_id : undefined],
    ['metadata.prompt_id', isObj(meta) && Object.hasOwn(meta, 'prompt_id') ? meta.prompt_id : undefined],
  ] as const) {
    if (val === undefined || val === null) continue;
    if (typeof val === 'string') id = val;
    else if (typeof val === 'number' && Number.isFinite(val)) id = String(val);
    else return bad(field);
    break;
  }
  for (const f of ['base_policy_logprob', 'judge_score', 'oracle_label']) {
    if (has(f) && !finiteOrNull(r[f])) return bad(f);
  }
  return { kind: 'record', id: id ?? `line:${lineNo}`, prompt, messages, response, targets };
}

// ---------------------------------------------------------------------------------------------
// The generator: a valid record, then at most one fault.

function generate(seed: number, count: number): Buffer[] {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const words = ['what', 'is', 'machine', 'learning', 'é', '😀', '日本', 'a"b', 'back\\slash', 'tab\t', 'line\nbreak', '  ', '\u2028'];
  const sentence = () => Array.from({ length: 1 + Math.floor(rand() * 6) }, () => pick(words)).join(' ');
  const WRONG: unknown[] = [1, -2.5, 'str', true, false, null, [], {}, [1, 'a'], { a: 1 }];
  const PROTO = ['__proto__', 'constructor', 'prototype'];
  const nest = (d: number) => '['.repeat(d) + ']'.repeat(d);

  const base = (i: number): Record<string, unknown> => {
    if (rand() < 0.4) {
      const msgs: unknown[] = [{ role: 'user', content: sentence() }];
      if (rand() < 0.3) msgs.unshift({ role: 'system', content: sentence() });
      const rec: Record<string, unknown> = { messages: msgs };
      if (rand() < 0.5) rec.response = sentence();
      else msgs.push({ role: 'assistant', content: sentence() });
      if (rand() < 0.5) rec.prompt_id = `c${i}`;
      return rec;
    }
    const rec: Record<string, unknown> = { prompt: sentence(), response: sentence() };
    if (rand() < 0.5) rec.prompt_id = rand() < 0.5 ? `q${i}` : i;
    if (rand() < 0.5) rec.base_policy_logprob = -rand() * 50;
    if (rand() < 0.5) rec.target_policy_logprobs = { clone: -rand() * 50, premium: rand() < 0.2 ? null : -rand() * 50 };
    if (rand() < 0.3) rec.judge_score = rand();
    if (rand() < 0.2) rec.oracle_label = rand() < 0.5 ? null : 1;
    if (rand() < 0.4) rec.metadata = rand() < 0.5 ? { prompt_id: `m${i}`, source: 'arena' } : { source: 'x' };
    return rec;
  };
  /** Raw JSON text of the record with `snippet` spliced in as an extra member (or replacing a value). */
  const withMember = (rec: Record<string, unknown>, member: string) => JSON.stringify(rec).replace(/^\{/, `{${member},`);
  const FIELDS = ['prompt', 'response', 'messages', 'prompt_id', 'base_policy_logprob', 'target_policy_logprobs', 'judge_score', 'oracle_label', 'metadata'];

  const faults: ((i: number) => Buffer | string)[] = [
    // no fault
    (i) => JSON.stringify(base(i)),
    (i) => JSON.stringify(base(i)),
    (i) => JSON.stringify(base(i)) + '\r',
    // invalid UTF-8 inside a string: a stray continuation byte, an overlong form, a cut sequence, CESU surrogates, > U+10FFFF
    (i) => {
      const t = JSON.stringify(base(i));
      const at = t.indexOf('":"') + 3;
      const junk = pick([[0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0x81], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf8], [0xff]]);
      return Buffer.concat([Buffer.from(t.slice(0, at)), Buffer.from(junk), Buffer.from(t.slice(at))]);
    },
    // lone surrogate escapes (and a proper pair) in a random string field
    (i) => {
      const rec = base(i);
      const esc = pick(['\\ud800', '\\udfff', '\\ud83d', '\\ude00x', '\\ud83d\\ude00']);
      const target = pick(['prompt', 'response', 'content', 'source', 'prompt_id']);
      const t = JSON.stringify(rec);
      const m = new RegExp(`"${target}":"`).exec(t);
      return m ? t.slice(0, m.index + m[0].length) + esc + t.slice(m.index + m[0].length) : t;
    },
    // NUL: raw (not text) or escaped (text)
    (i) => {
      const t = JSON.stringify(base(i));
      const at = t.indexOf('":"') + 3;
      return t.slice(0, at) + pick(['\u0000', '\\u0000']) + t.slice(at);
    },
    // a byte-order mark at the start of the line or between tokens
    (i) => {
      const t = JSON.stringify(base(i));
      return rand() < 0.5 ? '\uFEFF' + t : t.replace(',', ',\uFEFF');
    },
    // CR: two records on one CR-separated line, or CR as whitespace between tokens
    (i) => (rand() < 0.5 ? JSON.stringify(base(i)) + '\r' + JSON.stringify(base(i)) : JSON.stringify(base(i)).replace(',', ',\r')),
    // deep nesting under a top-level key
    (i) => withMember(base(i), `"${pick(['metadata', 'extra', 'x'])}":${nest(pick([3, 511, 512, 513, 4000]))}`),
    (i) => {
      const rec = base(i);
      return JSON.stringify({ ...rec, metadata: { deep: 1 } }).replace('{"deep":1}', `{"deep":${nest(pick([100, 511, 600]))}}`);
    },
    // huge numbers in a numeric field (JSON.parse gives Infinity) or an id
    (i) => withMember(base(i), `"${pick(['base_policy_logprob', 'judge_score', 'oracle_label', 'prompt_id'])}":${pick(['1e400', '-1e400', '1e308', '-0', '12345678901234567890', '5e-324'])}`),
    (i) => withMember(base(i), `"target_policy_logprobs":{"clone":${pick(['-1e999', '-1.5', '0'])}}`),
    // a wrong type in any field
    (i) => {
      const rec = base(i);
      const f = pick(FIELDS);
      // A duplicated key keeps its last value in JSON.parse: the wrong one comes last.
      return withMember(rec, '"_":0').replace('"_":0', '') .replace(/\}$/, `,${JSON.stringify(f)}:${JSON.stringify(pick(WRONG))}}`).replace('{,', '{');
    },
    (i) => JSON.stringify({ ...base(i), messages: [{ role: pick(['user', 'robot', 1, null]), content: pick(['ok', 2, null, ['a']]) }] }),
    (i) => JSON.stringify({ ...base(i), target_policy_logprobs: { clone: pick(WRONG) } }),
    // prototype keys in every object field
    (i) => {
      const k = pick(PROTO);
      const v = JSON.stringify(pick([-1, null, 'x', { prompt: 'p', response: 'r', role: 'user', content: 'c', prompt_id: 'evil' }, [1]]));
      const where = pick(['top', 'target_policy_logprobs', 'metadata', 'message']);
      const rec = base(i);
      if (where === 'top') return withMember(rec, `"${k}":${v}`);
      if (where === 'message' && Array.isArray(rec.messages)) return JSON.stringify(rec).replace('"messages":[{', `"messages":[{"${k}":${v},`);
      if (where === 'metadata') return JSON.stringify({ ...rec, metadata: {} }).replace('"metadata":{', `"metadata":{"${k}":${v}`);
      return JSON.stringify({ ...rec, target_policy_logprobs: {} }).replace('"target_policy_logprobs":{', `"target_policy_logprobs":{"${k}":${v}`);
    },
    // a prompt_id that is a prototype key
    (i) => JSON.stringify({ ...base(i), prompt_id: pick(PROTO) }),
    // broken JSON and non-objects
    (i) => JSON.stringify(base(i)).slice(0, -1 - Math.floor(rand() * 5)),
    () => pick(['[]', '42', '"str"', 'null', 'true', '{', '}', '{"prompt":"a",}']),
    // blank lines
    () => pick(['', '   ', '\t', '\r']),
  ];
  return Array.from({ length: count }, (_, i) => {
    const out = pick(faults)(i + 1);
    return typeof out === 'string' ? Buffer.from(out, 'utf8') : out;
  });
}

describe(`readLog against an independent classifier on ${LINES} fuzzed lines (seed ${SEED.toString(16)})`, function () {
  this.timeout(60000);
  let dir: string;
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-fuzz-'))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every line is the record or the issue (with its field) the classifier expects, and nothing else is reported', async () => {
    const lines = generate(SEED, LINES);
    // No generated line may hold an LF: the line structure is the test's.
    for (const l of lines) assert.equal(l.indexOf(0x0a), -1);
    const file = path.join(dir, 'fuzz.jsonl');
    fs.writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));

    const records = new Map<number, LogRecord>();
    const issues = new Map<number, LogIssue[]>();
    for await (const it of readLog(file)) {
      if (it.kind === 'record') records.set(it.record.line, it.record);
      else issues.set(it.issue.line, [...(issues.get(it.issue.line) ?? []), it.issue]);
    }
    const tally: Record<string, number> = { record: 0, issue: 0, blank: 0 };
    const mismatches: string[] = [];
    lines.forEach((bytes, k) => {
      const n = k + 1;
      const want = classify(bytes, n);
      tally[want.kind]++;
      const rec = records.get(n);
      const iss = issues.get(n) ?? [];
      const show = JSON.stringify(bytes.toString('latin1').slice(0, 160));
      if (want.kind === 'blank') {
        if (rec || iss.length) mismatches.push(`line ${n}: want nothing, got ${rec ? 'a record' : JSON.stringify(iss)} for ${show}`);
      } else if (want.kind === 'issue') {
        if (rec || iss.length !== 1) mismatches.push(`line ${n}: want one issue (${want.field}), got ${rec ? 'a record' : JSON.stringify(iss)} for ${show}`);
        else if (iss[0].field !== want.field) mismatches.push(`line ${n}: want field ${want.field}, got ${iss[0].field} (${iss[0].reason}) for ${show}`);
      } else if (!rec || iss.length) {
        mismatches.push(`line ${n}: want a record, got ${JSON.stringify(iss)} for ${show}`);
      } else {
        const got = { id: rec.id, prompt: rec.prompt, messages: rec.messages, response: rec.response, targets: rec.targetLogprobs ? Object.entries(rec.targetLogprobs) : undefined };
        const exp = { id: want.id, prompt: want.prompt, messages: want.messages, response: want.response, targets: want.targets };
        try {
          assert.deepStrictEqual(got, exp);
        } catch {
          mismatches.push(`line ${n}: record differs: got ${JSON.stringify(got)}, want ${JSON.stringify(exp)} for ${show}`);
        }
      }
    });
    assert.deepEqual(mismatches.slice(0, 20), [], `${mismatches.length} mismatching line(s)`);
    // Nothing at lines that do not exist, and no file-level issue: the file has usable records.
    assert.deepEqual([...issues.keys()].filter((l) => l < 1 || l > LINES), []);
    // The fuzz reaches every outcome in quantity.
    assert.ok(tally.record > 300 && tally.issue > 300 && tally.blank > 30, JSON.stringify(tally));
  });
});
