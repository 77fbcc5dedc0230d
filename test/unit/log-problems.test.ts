// src/core/log-problems.ts and textLines: the editor's view of a log's bad
// lines. The text path (unsaved edits) must say exactly what the file path
// (readLines from disk, the CLI's) says for the same bytes; reasons below are
// written out by hand from log-reader's messages.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readLines, textLines } from '../../src/core/jsonl-lines';
import { logFileProblems, logTextProblems } from '../../src/core/log-problems';

const GOOD = '{"prompt":"p","response":"r"}';

describe('core: log problems (the editor Problems of a log)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-log-problems-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names each bad line with the reason readLog gives, from disk and from text alike', async () => {
    const text = [GOOD, '{"prompt": "p", "response": ', '{"prompt": 1, "response": "x"}', '', '{"prompt": "p"}', '[1]', GOOD].join('\n') + '\n';
    const f = path.join(dir, 'a.jsonl');
    fs.writeFileSync(f, text);
    const disk = await logFileProblems(f);
    const mem = await logTextProblems(f, text);
    assert.deepEqual(mem, disk);
    assert.equal(disk.records, 2);
    assert.equal(disk.total, 4);
    assert.deepEqual(disk.issues.map((i) => i.line), [2, 3, 5, 6]);
    assert.match(disk.issues[0].reason, /^invalid JSON: /);
    assert.equal(disk.issues[1].reason, 'prompt must be a string, got number');
    assert.equal(disk.issues[1].field, 'prompt');
    assert.equal(disk.issues[2].reason, 'response missing');
    assert.equal(disk.issues[3].reason, 'a record must be a JSON object, got array');
    assert.ok(disk.issues.every((i) => i.file === f));
  });

  it('keeps the first `limit` problems and counts the rest', async () => {
    const lines = [];
    for (let i = 0; i < 1200; i++) lines.push(i % 2 ? GOOD : '{');
    const r = await logTextProblems('x.jsonl', lines.join('\n'), { limit: 500, yieldEvery: 100 });
    assert.equal(r.total, 600);
    assert.equal(r.records, 600);
    assert.equal(r.issues.length, 500);
    assert.equal(r.issues[499].line, 999);
    assert.equal(r.complete, true);
  });

  it('stops when a newer check makes it stale', async () => {
    const text = Array.from({ length: 5000 }, () => GOOD).join('\n');
    let asked = 0;
    const r = await logTextProblems('x.jsonl', text, { yieldEvery: 1000, cancelled: () => ++asked >= 2 });
    assert.equal(r.complete, false);
    assert.equal(r.records, 2000);
  });

  it('an empty buffer and one with no record say what the CLI says', async () => {
    assert.deepEqual((await logTextProblems('e.jsonl', '')).issues, [{ file: 'e.jsonl', line: 0, reason: 'the log is empty: no lines' }]);
    const none = await logTextProblems('n.jsonl', '{\n');
    assert.deepEqual(none.issues.map((i) => [i.line, i.reason.split(':')[0]]), [[1, 'invalid JSON'], [0, 'the log has no usable record']]);
  });

  it('textLines gives the numbers, byte counts, offsets and limits readLines gives for the same bytes (CRLF, BOM, multi-byte, no final newline)', async () => {
    const text = '\uFEFF{"a":"é"}\r\n\r\n' + 'ü'.repeat(40) + '\n{"z":1}\n  \nlast';
    const f = path.join(dir, 'b.jsonl');
    fs.writeFileSync(f, text);
    for (const maxLineBytes of [1024, 80, 79]) {
      const fromDisk = [];
      for await (const l of readLines(f, { maxLineBytes })) fromDisk.push(l);
      assert.deepEqual([...textLines(text, { maxLineBytes })], fromDisk, `maxLineBytes ${maxLineBytes}`);
    }
    // By hand: line 3 is 40 × 'ü' (2 bytes each) = 80 bytes: kept at 80, over the limit at 79.
    assert.equal([...textLines(text, { maxLineBytes: 79 })][2].text, undefined);
    assert.equal([...textLines(text, { maxLineBytes: 80 })][2].bytes, 80);
  });
});
