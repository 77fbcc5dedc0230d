// Hostile and non-text input to the log reader: compressed, UTF-16 and binary files get one issue
// each, lines that never end are cut, and keys such as "__proto__" are read as plain keys.
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { readLines, NotJsonlError } from '../../src/core/jsonl-lines';
import { countLines } from '../../src/core/line-count';
import { readLog } from '../../src/core/log-reader';
import type { LogIssue, LogRecord } from '../../src/core/types';

let dir: string;
let n = 0;
function write(content: string | Buffer): string {
  const f = path.join(dir, `h-${++n}.jsonl`);
  fs.writeFileSync(f, content);
  return f;
}
async function collect(file: string, opts?: { maxLineBytes?: number }): Promise<{ records: LogRecord[]; issues: LogIssue[] }> {
  const records: LogRecord[] = [];
  const issues: LogIssue[] = [];
  for await (const it of readLog(file, opts)) it.kind === 'record' ? records.push(it.record) : issues.push(it.issue);
  return { records, issues };
}
const j = (v: unknown) => JSON.stringify(v);
const ok = (i: number) => j({ prompt: `p${i}`, response: `r${i}` });
const GOOD = Array.from({ length: 200 }, (_, i) => ok(i)).join('\n') + '\n';

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-hostile-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('readLog: files that are not UTF-8 JSONL text get one issue', function () {
  this.timeout(20000);
  const cases: { name: string; content: () => Buffer; reason: RegExp }[] = [
    { name: 'gzip-compressed JSONL', content: () => zlib.gzipSync(GOOD), reason: /^this is gzip-compressed data, not JSONL text \(decompress it first/ },
    { name: 'UTF-16LE with a byte-order mark', content: () => Buffer.from('\uFEFF' + GOOD, 'utf16le'), reason: /UTF-16 \(little-endian\)/ },
    { name: 'UTF-16BE with a byte-order mark', content: () => Buffer.from('\uFEFF' + GOOD, 'utf16le').swap16(), reason: /UTF-16 \(big-endian\)/ },
    { name: 'UTF-16LE without a byte-order mark (NUL-interleaved)', content: () => Buffer.from(GOOD, 'utf16le'), reason: /UTF-16 \(little-endian\) text without a byte-order mark/ },
    { name: 'a megabyte of NUL bytes', content: () => Buffer.alloc(1 << 20), reason: /binary data.*all NUL/ },
    { name: 'a megabyte of random bytes', content: () => crypto.randomBytes(1 << 20), reason: /^this is binary data, not JSONL text/ },
    { name: 'CR-only line endings', content: () => Buffer.from(GOOD.replace(/\n/g, '\r')), reason: /CR-only line endings/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exactly one issue at line 0 naming what it is, no records`, async () => {
      const f = write(c.content());
      const { records, issues } = await collect(f);
      assert.equal(records.length, 0);
      assert.equal(issues.length, 1, JSON.stringify(issues.slice(0, 3)));
      assert.equal(issues[0].file, f);
      assert.equal(issues[0].line, 0);
      assert.match(issues[0].reason, c.reason);
    });
  }

  it('/dev/zero and /dev/urandom: one issue each, at once', async () => {
    for (const dev of ['/dev/zero', '/dev/urandom']) {
      const { records, issues } = await collect(dev);
      assert.equal(records.length, 0);
      assert.deepEqual(issues.map((i) => [i.file, i.line]), [[dev, 0]]);
      assert.match(issues[0].reason, /not a regular file/);
    }
  });

  it('readLines on /dev/zero and /dev/urandom stops with NotJsonlError (scores files and reports read through it too)', async () => {
    for (const [dev, what] of [['/dev/zero', /all NUL/], ['/dev/urandom', /binary data/]] as const) {
      await assert.rejects(
        (async () => {
          for await (const _ of readLines(dev)) void _;
        })(),
        (e: unknown) => e instanceof NotJsonlError && e.file === dev && what.test(e.message),
      );
    }
  });

  it('countLines of /dev/zero returns (0) instead of reading forever', async () => {
    assert.equal(await countLines('/dev/zero'), 0);
  });

  it('a line that never ends is cut at maxRunBytes with one NotJsonlError naming the line', async () => {
    const f = write('{"prompt":"a","response":"b"}\n' + 'x'.repeat(300_000));
    const got: (string | undefined)[] = [];
    await assert.rejects(
      (async () => {
        for await (const l of readLines(f, { maxLineBytes: 1000, maxRunBytes: 100_000 })) got.push(l.text);
      })(),
      (e: unknown) => e instanceof NotJsonlError && e.line === 2 && /line 2 runs past 97.7 KiB without a newline/.test(e.message),
    );
    assert.deepEqual(got, ['{"prompt":"a","response":"b"}']);
  });
});

describe('readLog: bad lines inside a text file', function () {
  this.timeout(20000);

  it('an over-long line is reported once as "longer than N bytes"', async () => {
    const f = write(ok(1) + '\n' + 'y'.repeat(5000) + '\n' + ok(3) + '\n');
    const { records, issues } = await collect(f, { maxLineBytes: 1000 });
    assert.deepEqual(records.map((r) => r.line), [1, 3]);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].line, 2);
    assert.match(issues[0].reason, /longer than 1000 bytes/);
    assert.match(issues[0].reason, /4\.9 KiB/);
  });

  it('after 32 over-long lines in a row reading stops with one issue (a binary file that passed the first 64 KiB)', async () => {
    const lines = [ok(1), ...Array.from({ length: 40 }, () => 'z'.repeat(200)), ok(42)];
    const f = write(lines.join('\n') + '\n');
    const { records, issues } = await collect(f, { maxLineBytes: 100 });
    assert.deepEqual(records.map((r) => r.line), [1]);
    // Lines 2..33 each reported, then one "stopped" issue at line 34; nothing after it.
    assert.equal(issues.length, 33);
    assert.deepEqual(issues.slice(0, 32).map((i) => i.line), Array.from({ length: 32 }, (_, i) => i + 2));
    assert.equal(issues[32].line, 34);
    assert.match(issues[32].reason, /^stopped reading at line 34: the 32 lines before it/);
  });

  it('a line with invalid UTF-8 is an issue naming the byte; the lines around it score', async () => {
    // {"prompt":"ab + 0xC3 0x28 (a lead byte without its continuation): the bad sequence starts at byte 13.
    const bad = Buffer.concat([Buffer.from('{"prompt":"ab'), Buffer.from([0xc3, 0x28]), Buffer.from('","response":"r"}')]);
    const f = write(Buffer.concat([Buffer.from(ok(1) + '\n'), bad, Buffer.from('\n' + ok(3) + '\n')]));
    const { records, issues } = await collect(f);
    assert.deepEqual(records.map((r) => r.line), [1, 3]);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].line, 2);
    assert.equal(issues[0].reason, 'line is not valid UTF-8 (bad byte sequence at byte 13 of the line): a log must be UTF-8 text');
  });

  it('UTF-8-encoded surrogates (CESU-8, ED A0 80) are invalid UTF-8 too', async () => {
    const bad = Buffer.concat([Buffer.from('{"prompt":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","response":"r"}')]);
    const f = write(Buffer.concat([bad, Buffer.from('\n' + ok(2) + '\n')]));
    const { issues } = await collect(f);
    assert.equal(issues.length, 1);
    assert.match(issues[0].reason, /not valid UTF-8 \(bad byte sequence at byte 11 /);
  });

  it('a raw NUL byte in a line is an issue that says so', async () => {
    const f = write(Buffer.from(ok(1) + '\n{"prompt":"a\0","response":"b"}\n' + ok(3) + '\n'));
    const { records, issues } = await collect(f);
    assert.deepEqual(records.map((r) => r.line), [1, 3]);
    assert.equal(issues.length, 1);
    assert.match(issues[0].reason, /NUL byte \(at character 12\)/);
  });

  it('a byte-order mark at the start of a later line (concatenated files) is dropped and the record read', async () => {
    const f = write(Buffer.from(ok(1) + '\n\uFEFF' + j({ prompt: 'x', response: 'y' }) + '\n'));
    const { records, issues } = await collect(f);
    assert.deepEqual(issues, []);
    assert.deepEqual(records.map((r) => [r.line, r.prompt]), [[1, 'p1'], [2, 'x']]);
  });

  it('a lone surrogate escape in prompt, response or a message is a field issue; a pair is fine', async () => {
    const f = write(
      [
        '{"prompt":"a\\ud800b","response":"r"}',
        '{"prompt":"p","response":"x\\udc00"}',
        '{"messages":[{"role":"user","content":"\\ud83d"}],"response":"r"}',
        '{"prompt":"\\ud83d\\ude00","response":"r"}',
      ].join('\n') + '\n',
    );
    const { records, issues } = await collect(f);
    assert.deepEqual(issues.map((i) => [i.line, i.field]), [[1, 'prompt'], [2, 'response'], [3, 'messages[0].content']]);
    assert.match(issues[0].reason, /^prompt holds a lone UTF-16 surrogate \(\\ud800 at character 1\)/);
    assert.deepEqual(records.map((r) => r.prompt), ['😀']);
  });

  it('a number too large for a double (1e400 → Infinity) in a log-prob or score is a field issue', async () => {
    const f = write(
      [
        j({ prompt: 'a', response: 'b' }).replace('}', ',"base_policy_logprob":-1e400}'),
        j({ prompt: 'a', response: 'b' }).replace('}', ',"target_policy_logprobs":{"t":1e999}}'),
        j({ prompt: 'a', response: 'b' }).replace('}', ',"judge_score":1e400}'),
        j({ prompt: 'a', response: 'b' }).replace('}', ',"base_policy_logprob":-1e300}'),
      ].join('\n') + '\n',
    );
    const { records, issues } = await collect(f);
    assert.deepEqual(issues.map((i) => [i.line, i.field]), [[1, 'base_policy_logprob'], [2, 'target_policy_logprobs.t'], [3, 'judge_score']]);
    for (const i of issues) assert.match(i.reason, /finite/);
    assert.deepEqual(records.map((r) => r.baseLogprob), [-1e300]);
  });

  it('nesting deeper than 512 levels is a field issue; 500 levels is kept', async () => {
    const nest = (d: number) => '['.repeat(d) + ']'.repeat(d);
    const f = write([`{"prompt":"a","response":"b","metadata":{"x":${nest(100000)}}}`, `{"prompt":"a","response":"b","extra":${nest(500)}}`].join('\n') + '\n');
    const { records, issues } = await collect(f);
    assert.deepEqual(issues.map((i) => [i.line, i.field]), [[1, 'metadata']]);
    assert.deepEqual(records.map((r) => r.line), [2]);
  });
});

describe('readLog: "__proto__", "constructor" and "prototype" keys are plain keys', () => {
  const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'];

  it('in target_policy_logprobs they are policy names like any other, and the line still scores', async () => {
    const line = '{"prompt":"a","response":"b","target_policy_logprobs":{"__proto__":-1,"constructor":-2,"prototype":-3,"clone":-4}}';
    const { records, issues } = await collect(write(line + '\n'));
    assert.deepEqual(issues, []);
    const t = records[0].targetLogprobs!;
    assert.equal(Object.getPrototypeOf(t), Object.prototype);
    assert.deepEqual(Object.keys(t), ['__proto__', 'constructor', 'prototype', 'clone']);
    assert.deepEqual(Object.getOwnPropertyDescriptor(t, '__proto__')?.value, -1);
    assert.deepEqual(Object.entries(t), [['__proto__', -1], ['constructor', -2], ['prototype', -3], ['clone', -4]]);
  });

  it('"__proto__": null does not strip the map of its prototype', async () => {
    const { records, issues } = await collect(write('{"prompt":"a","response":"b","target_policy_logprobs":{"__proto__":null,"t":-1}}\n'));
    assert.deepEqual(issues, []);
    const t = records[0].targetLogprobs!;
    assert.equal(Object.getPrototypeOf(t), Object.prototype);
    assert.deepEqual(Object.entries(t), [['__proto__', null], ['t', -1]]);
  });

  it('a wrong-typed value under such a key is a field issue, not a silently dropped key', async () => {
    for (const k of PROTO_KEYS) {
      for (const v of ['"x"', '{"a":-1}', '[1]', 'true']) {
        const { records, issues } = await collect(write(`{"prompt":"a","response":"b","target_policy_logprobs":{"${k}":${v}}}\n`));
        assert.equal(records.length, 0, `${k}: ${v}`);
        // Line 0 is the file's "no usable record".
        assert.deepEqual(issues.map((i) => [i.line, i.field]), [[1, `target_policy_logprobs.${k}`], [0, undefined]], `${k}: ${v}`);
      }
    }
  });

  it('in every other object field they neither supply nor hide a field', async () => {
    for (const k of PROTO_KEYS) {
      const inner = (o: unknown) => `"${k}":${j(o)}`;
      const f = write(
        [
          // Top level: a prompt/response under the key is not the record's.
          `{${inner({ prompt: 'p', response: 'r' })}}`,
          // metadata: a prompt_id under the key is not the record's id.
          `{"prompt":"a","response":"b","metadata":{${inner({ prompt_id: 'evil' })}}}`,
          // a message: role/content under the key are not the message's.
          `{"messages":[{${inner({ role: 'user', content: 'x' })}}],"response":"b"}`,
          // alongside real fields, the key is kept in raw and the record reads normally.
          `{"prompt":"a","response":"b",${inner({ prompt: 'other' })},"metadata":{${inner(1)},"prompt_id":"m1"}}`,
          `{"prompt_id":"${k}","prompt":"a","response":"b"}`,
          `{"messages":[{"role":"user","content":"q",${inner('z')}}],"response":"b",${inner(2)}}`,
        ].join('\n') + '\n',
      );
      const { records, issues } = await collect(f);
      assert.deepEqual(issues.map((i) => [i.line, i.field]), [[1, 'prompt'], [3, 'messages[0].role']], k);
      assert.deepEqual(records.map((r) => [r.line, r.id, r.prompt ?? r.messages]), [
        [2, 'line:2', 'a'],
        [4, 'm1', 'a'],
        [5, k, 'a'],
        [6, 'line:6', [{ role: 'user', content: 'q' }]],
      ], k);
      assert.ok(Object.hasOwn(records[1].raw, k), k);
      assert.equal(Object.getPrototypeOf(records[1].raw), Object.prototype, k);
    }
  });
});
