import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readLines, DEFAULT_MAX_LINE_BYTES, type RawLine } from '../../src/core/jsonl-lines';
import { readLog, formatIssue, type LogItem } from '../../src/core/log-reader';
import type { LogIssue, LogRecord } from '../../src/core/types';

let dir: string;
let n = 0;

/** Writes `content` to a fresh file in the temp dir and returns its path. */
function write(content: string | Buffer): string {
  const f = path.join(dir, `log-${++n}.jsonl`);
  fs.writeFileSync(f, content);
  return f;
}

async function collect(file: string, opts?: { maxLineBytes?: number }): Promise<{ records: LogRecord[]; issues: LogIssue[]; items: LogItem[] }> {
  const items: LogItem[] = [];
  for await (const it of readLog(file, opts)) items.push(it);
  return {
    items,
    records: items.flatMap((i) => (i.kind === 'record' ? [i.record] : [])),
    issues: items.flatMap((i) => (i.kind === 'issue' ? [i.issue] : [])),
  };
}

async function lines(file: string, opts?: { maxLineBytes?: number; start?: number }): Promise<RawLine[]> {
  const out: RawLine[] = [];
  for await (const l of readLines(file, opts)) out.push(l);
  return out;
}

const j = (v: unknown) => JSON.stringify(v);
const ok = (i: number) => j({ prompt: `p${i}`, response: `r${i}` });

/** Writes a file made of `parts` (strings or byte counts of filler 'x') without holding large lines in memory. */
function writeStreamed(parts: (string | { fill: number })[]): string {
  const f = path.join(dir, `big-${++n}.jsonl`);
  const fd = fs.openSync(f, 'w');
  const block = Buffer.alloc(1 << 20, 'x');
  try {
    for (const p of parts) {
      if (typeof p === 'string') fs.writeSync(fd, p);
      else {
        for (let left = p.fill; left > 0; left -= block.length) fs.writeSync(fd, block, 0, Math.min(left, block.length));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return f;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-log-reader-'));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('readLog: CJE shape', () => {
  it('reads every CJE field, takes metadata.prompt_id as id and keeps unknown fields in raw', async () => {
    const rec = {
      prompt: 'What is machine learning?',
      response: 'Machine learning is ...',
      base_policy_logprob: -41.2,
      target_policy_logprobs: { clone: -41.2, premium: -38.9, missing: null },
      judge_score: 0.82,
      oracle_label: null,
      metadata: { prompt_id: 'q17', source: 'arena' },
      extra_field: { nested: [1, 2, 3] },
    };
    const f = write(j(rec) + '\n');
    const { records, issues } = await collect(f);
    assert.deepEqual(issues, []);
    assert.equal(records.length, 1);
    const r = records[0];
    assert.equal(r.line, 1);
    assert.equal(r.id, 'q17');
    assert.equal(r.prompt, 'What is machine learning?');
    assert.equal(r.messages, undefined);
    assert.equal(r.response, 'Machine learning is ...');
    assert.equal(r.baseLogprob, -41.2);
    assert.deepEqual(r.targetLogprobs, { clone: -41.2, premium: -38.9, missing: null });
    assert.equal(r.judgeScore, 0.82);
    assert.equal(r.oracleLabel, null);
    // raw is the object exactly as on the line, unknown fields included.
    assert.deepEqual(r.raw, rec);
    assert.deepEqual(r.raw.extra_field, { nested: [1, 2, 3] });
  });

  it('prefers a top-level prompt_id, stringifies a numeric one, and falls back to line:N', async () => {
    const f = write(
      [
        j({ prompt_id: 'top', metadata: { prompt_id: 'meta' }, prompt: 'a', response: 'b' }),
        j({ prompt: 'a', response: 'b', metadata: { prompt_id: 42 } }),
        j({ prompt: 'a', response: 'b' }),
      ].join('\n') + '\n',
    );
    const { records, issues } = await collect(f);
    assert.deepEqual(issues, []);
    assert.deepEqual(records.map((r) => r.id), ['top', '42', 'line:3']);
    assert.deepEqual(records.map((r) => r.line), [1, 2, 3]);
  });
});

describe('readLog: chat shape', () => {
  it('reads messages + response and keeps a system message', async () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi?' },
    ];
    const f = write(j({ messages, response: 'Hello.', prompt_id: 'c1' }) + '\n');
    const { records, issues } = await collect(f);
    assert.deepEqual(issues, []);
    assert.equal(records.length, 1);
    assert.deepEqual(records[0].messages, messages);
    assert.equal(records[0].prompt, undefined);
    assert.equal(records[0].response, 'Hello.');
    assert.equal(records[0].id, 'c1');
  });

  it('takes a final assistant message as the response when there is no response field', async () => {
    const f = write(
      j({
        messages: [
          { role: 'system', content: 'S' },
          { role: 'user', content: 'U1' },
          { role: 'assistant', content: 'A1' },
          { role: 'user', content: 'U2' },
          { role: 'assistant', content: 'final answer' },
        ],
      }) + '\n',
    );
    const { records, issues } = await collect(f);
    assert.deepEqual(issues, []);
    assert.equal(records[0].response, 'final answer');
    // The earlier assistant turn stays part of the conversation; only the last one is the response.
    assert.deepEqual(records[0].messages, [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'U1' },
      { role: 'assistant', content: 'A1' },
      { role: 'user', content: 'U2' },
    ]);
  });

  it('reports messages that end with a user message and have no response', async () => {
    const f = write(j({ messages: [{ role: 'user', content: 'U' }] }) + '\n' + ok(2) + '\n');
    const { records, issues } = await collect(f);
    assert.equal(records.length, 1);
    assert.equal(records[0].line, 2);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].line, 1);
    assert.equal(issues[0].field, 'response');
  });
});

describe('readLog: malformed lines', () => {
  // Each case: a bad line placed between good lines; the issue must name its line and field.
  const cases: { name: string; line: string; field: string | undefined; reason: RegExp }[] = [
    { name: 'bad JSON', line: '{"prompt": "a", "response": ', field: undefined, reason: /invalid JSON/ },
    { name: 'missing response', line: j({ prompt: 'a' }), field: 'response', reason: /response/ },
    { name: 'missing prompt and messages', line: j({ response: 'a' }), field: 'prompt', reason: /prompt/ },
    { name: 'prompt a number', line: j({ prompt: 5, response: 'a' }), field: 'prompt', reason: /number/ },
    { name: 'response an object', line: j({ prompt: 'a', response: { text: 'b' } }), field: 'response', reason: /object/ },
    { name: 'target_policy_logprobs.x a string', line: j({ prompt: 'a', response: 'b', target_policy_logprobs: { y: -1, x: '-3.2' } }), field: 'target_policy_logprobs.x', reason: /string/ },
    { name: 'base_policy_logprob a string', line: j({ prompt: 'a', response: 'b', base_policy_logprob: '-1' }), field: 'base_policy_logprob', reason: /string/ },
    { name: 'messages[1].role invalid', line: j({ messages: [{ role: 'user', content: 'a' }, { role: 'robot', content: 'b' }], response: 'c' }), field: 'messages[1].role', reason: /robot/ },
    { name: 'messages[0].content an array', line: j({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }] }], response: 'c' }), field: 'messages[0].content', reason: /array/ },
    { name: 'a JSON array', line: j([{ prompt: 'a', response: 'b' }]), field: undefined, reason: /object.*array/ },
    { name: 'a JSON number', line: '42', field: undefined, reason: /object.*number/ },
    { name: 'both prompt and messages', line: j({ prompt: 'a', messages: [{ role: 'user', content: 'a' }], response: 'b' }), field: 'prompt', reason: /both|either/ },
  ];
  for (const c of cases) {
    it(`${c.name}: one issue on line 3, the other lines still come through`, async () => {
      const f = write([ok(1), ok(2), c.line, ok(4), '', ok(6)].join('\n') + '\n');
      const { records, issues } = await collect(f);
      assert.equal(issues.length, 1, JSON.stringify(issues));
      const i = issues[0];
      assert.equal(i.file, f);
      assert.equal(i.line, 3);
      assert.equal(i.field, c.field);
      assert.match(i.reason, c.reason);
      assert.equal(formatIssue(i), `${f}:3: ${i.reason}`);
      // Blank line 5 is skipped silently; line numbers of the records are physical lines.
      assert.deepEqual(records.map((r) => [r.line, r.response]), [[1, 'r1'], [2, 'r2'], [4, 'r4'], [6, 'r6']]);
    });
  }

  it('several bad lines each get their own issue, in file order', async () => {
    const f = write(['nope', ok(2), j({ prompt: 1, response: 'x' }), j({ prompt: 'a', response: 'b', judge_score: 'high' })].join('\n'));
    const { records, issues } = await collect(f);
    assert.deepEqual(issues.map((i) => [i.line, i.field]), [[1, undefined], [3, 'prompt'], [4, 'judge_score']]);
    assert.deepEqual(records.map((r) => r.line), [2]);
  });
});

describe('readLog: file edge cases', () => {
  it('an empty file gives one issue and no records', async () => {
    const f = write('');
    const { records, issues } = await collect(f);
    assert.equal(records.length, 0);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].line, 0);
    assert.equal(issues[0].file, f);
  });

  it('a file of only blank lines gives one issue and no records', async () => {
    const f = write('\n\n   \n\t\r\n\n');
    const { records, issues } = await collect(f);
    assert.equal(records.length, 0);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].line, 0);
  });

  it('a file whose only line is bad gives the line issue plus a no-usable-record issue', async () => {
    const f = write('{oops}\n');
    const { records, issues } = await collect(f);
    assert.equal(records.length, 0);
    assert.deepEqual(issues.map((i) => i.line), [1, 0]);
  });

  it('a missing file gives exactly one issue at line 0', async () => {
    const f = path.join(dir, 'does-not-exist.jsonl');
    const { records, issues } = await collect(f);
    assert.equal(records.length, 0);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].line, 0);
    assert.equal(issues[0].file, f);
    assert.match(issues[0].reason, /ENOENT|no such file/i);
  });

  it('a UTF-8 BOM on line 1 is ignored', async () => {
    const f = write(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(j({ prompt: 'é', response: 'ü', prompt_id: 'bom' }) + '\n' + ok(2) + '\n')]));
    const { records, issues } = await collect(f);
    assert.deepEqual(issues, []);
    assert.equal(records.length, 2);
    assert.equal(records[0].id, 'bom');
    assert.equal(records[0].prompt, 'é');
    assert.ok(!('\uFEFF' + 'prompt' in records[0].raw));
  });

  it('CRLF line endings parse and leave no \\r in any string', async () => {
    const f = write([ok(1), j({ messages: [{ role: 'user', content: 'u' }], response: 'end' }), ok(3)].join('\r\n') + '\r\n');
    const { records, issues } = await collect(f);
    assert.deepEqual(issues, []);
    assert.deepEqual(records.map((r) => r.response), ['r1', 'end', 'r3']);
    assert.deepEqual(records.map((r) => r.line), [1, 2, 3]);
    for (const r of records) assert.ok(!JSON.stringify(r).includes('\\r'), JSON.stringify(r));
  });

  it('a last line without a newline is read', async () => {
    const f = write(ok(1) + '\n' + ok(2));
    const { records, issues } = await collect(f);
    assert.deepEqual(issues, []);
    assert.deepEqual(records.map((r) => r.response), ['r1', 'r2']);
  });

  it('a half-written last line is an issue that says so', async () => {
    const f = write(ok(1) + '\n' + '{"prompt": "a", "resp');
    const { records, issues } = await collect(f);
    assert.equal(records.length, 1);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].line, 2);
    assert.match(issues[0].reason, /no newline/);
  });
});

describe('readLog: long lines', function () {
  this.timeout(120000);

  it('a 10 MB line is over the default 8 MiB limit: issue naming line and limit, later lines still parse', async () => {
    assert.equal(DEFAULT_MAX_LINE_BYTES, 8 * 1024 * 1024);
    const big = 10 * 1000 * 1000;
    const prefix = '{"prompt":"p","response":"';
    const suffix = '"}';
    const f = writeStreamed([ok(1) + '\n', prefix, { fill: big }, suffix + '\n', ok(3) + '\n', 'bad\n', ok(5) + '\n']);
    const { records, issues } = await collect(f);
    assert.deepEqual(records.map((r) => r.line), [1, 3, 5]);
    assert.equal(issues.length, 2);
    assert.equal(issues[0].line, 2);
    assert.match(issues[0].reason, /8 MiB/);
    assert.match(issues[0].reason, /maxLineBytes/);
    // Line numbers after the skipped line are still physical line numbers.
    assert.equal(issues[1].line, 4);
    assert.match(issues[1].reason, /invalid JSON/);
  });

  it('the same 10 MB line parses with maxLineBytes 16 MiB', async () => {
    const big = 10 * 1000 * 1000;
    const f = writeStreamed([ok(1) + '\n', '{"prompt":"p","response":"', { fill: big }, '"}\n', ok(3) + '\n']);
    const { records, issues } = await collect(f, { maxLineBytes: 16 * 1024 * 1024 });
    assert.deepEqual(issues, []);
    assert.deepEqual(records.map((r) => r.line), [1, 2, 3]);
    assert.equal(records[1].response.length, big);
    assert.ok(/^x+$/.test(records[1].response));
  });

  it('memory stays bounded while skipping a 100 MB line', async () => {
    const big = 100 * 1024 * 1024;
    const f = writeStreamed([ok(1) + '\n', '{"prompt":"p","response":"', { fill: big }, '"}\n', ok(3) + '\n']);
    (globalThis as { gc?: () => void }).gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 2);
    let got: Awaited<ReturnType<typeof collect>>;
    try {
      got = await collect(f);
    } finally {
      clearInterval(timer);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    assert.deepEqual(got.records.map((r) => r.line), [1, 3]);
    assert.equal(got.issues.length, 1);
    assert.equal(got.issues[0].line, 2);
    // Bound: 64 MiB. Holding the line at all costs >= 100 MiB (the line is 100 MiB of bytes;
    // a kept line is copied, concatenated and decoded: measured at ~290 MiB with maxLineBytes
    // raised to 256 MiB), so any implementation that buffers it fails this. A streaming skip
    // holds one 64 KiB read chunk plus at most maxLineBytes (8 MiB) of the line before it
    // overflows; the rest is V8's lazy collection of the ~1600 short-lived 64 KiB chunk
    // buffers (external memory is only collected past a threshold), measured at 30-36 MiB.
    const growth = peak - base;
    assert.ok(growth < 64 * 1024 * 1024, `rss grew by ${(growth / 1048576).toFixed(1)} MiB`);
  });
});

describe('readLines', () => {
  /** Independent reference: split the raw bytes on LF and compute each line's offset. */
  function reference(buf: Buffer): { offset: number; bytes: number }[] {
    const out: { offset: number; bytes: number }[] = [];
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
      if (buf[i] === 0x0a) {
        out.push({ offset: start, bytes: i - start });
        start = i + 1;
      }
    }
    if (start < buf.length) out.push({ offset: start, bytes: buf.length - start });
    return out;
  }

  it('gives the right offset, bytes and text of every line (LF, multibyte, blank lines)', async () => {
    const content = 'héllo\n\n😀 emoji\nlast';
    const buf = Buffer.from(content, 'utf8');
    const f = write(buf);
    const got = await lines(f);
    const ref = reference(buf);
    assert.deepEqual(got.map((l) => ({ offset: l.offset, bytes: l.bytes })), ref);
    assert.deepEqual(got.map((l) => l.text), ['héllo', '', '😀 emoji', 'last']);
    assert.deepEqual(got.map((l) => l.line), [1, 2, 3, 4]);
    assert.deepEqual(got.map((l) => l.unterminated), [false, false, false, true]);
    // The bytes at [offset, offset+bytes) are exactly the line.
    for (const l of got) assert.equal(buf.subarray(l.offset, l.offset + l.bytes).toString('utf8'), l.text);
  });

  it('with CRLF: text has no \\r, offset + bytes + 1 is the next line start (bytes counts the \\r)', async () => {
    const buf = Buffer.from('ab\r\ncdé\r\n\r\nxyz\r\n', 'utf8');
    const f = write(buf);
    const got = await lines(f);
    assert.deepEqual(got.map((l) => l.text), ['ab', 'cdé', '', 'xyz']);
    assert.deepEqual(got.map((l) => ({ offset: l.offset, bytes: l.bytes })), reference(buf));
    for (let i = 0; i + 1 < got.length; i++) assert.equal(got[i].offset + got[i].bytes + 1, got[i + 1].offset);
    const last = got[got.length - 1];
    // Truncating at the end of the last line keeps the whole file.
    assert.equal(last.offset + last.bytes + 1, buf.length);
    assert.equal(last.unterminated, false);
  });

  it('with a BOM: the first line offset is 0 and its bytes include the BOM, text excludes it', async () => {
    const buf = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}\r\n{"b":2}\n', 'utf8')]);
    const f = write(buf);
    const got = await lines(f);
    assert.deepEqual(got.map((l) => l.text), ['{"a":1}', '{"b":2}']);
    assert.deepEqual(got.map((l) => ({ offset: l.offset, bytes: l.bytes })), reference(buf));
    assert.equal(got[0].offset, 0);
    assert.equal(got[0].bytes, 3 + 7 + 1);
    assert.equal(got[1].offset, 12);
  });

  it('a BOM is stripped only at the start of the file, not on later lines', async () => {
    const buf = Buffer.concat([Buffer.from('a\n'), Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('b\n')]);
    const got = await lines(write(buf));
    assert.deepEqual(got.map((l) => l.text), ['a', '\uFEFFb']);
  });

  it('a line over maxLineBytes has no text but right bytes/offset, and the next line is intact', async () => {
    const buf = Buffer.from('short\n' + 'y'.repeat(300_000) + '\nafter\n', 'utf8');
    const got = await lines(write(buf), { maxLineBytes: 1000 });
    assert.deepEqual(got.map((l) => l.text), ['short', undefined, 'after']);
    assert.deepEqual(got.map((l) => ({ offset: l.offset, bytes: l.bytes })), reference(buf));
    assert.deepEqual(got.map((l) => l.line), [1, 2, 3]);
  });

  it('a line of exactly maxLineBytes is kept; one byte more is not', async () => {
    const got = await lines(write('a'.repeat(100) + '\n' + 'b'.repeat(101) + '\n'), { maxLineBytes: 100 });
    assert.equal(got[0].text, 'a'.repeat(100));
    assert.equal(got[1].text, undefined);
    assert.equal(got[1].bytes, 101);
  });

  it('lines spanning many 64 KiB read chunks keep right offsets and text', async () => {
    const parts: string[] = [];
    for (let i = 0; i < 50; i++) parts.push(`${i}:` + 'é'.repeat(1000 + i * 997));
    const buf = Buffer.from(parts.join('\n') + '\n', 'utf8');
    const got = await lines(write(buf));
    assert.deepEqual(got.map((l) => l.text), parts);
    assert.deepEqual(got.map((l) => ({ offset: l.offset, bytes: l.bytes })), reference(buf));
  });

  it('start: reads from a byte offset with absolute offsets', async () => {
    const buf = Buffer.from('one\ntwo\nthree\n');
    const got = await lines(write(buf), { start: 4 });
    assert.deepEqual(got.map((l) => l.text), ['two', 'three']);
    assert.deepEqual(got.map((l) => l.offset), [4, 8]);
  });
});
