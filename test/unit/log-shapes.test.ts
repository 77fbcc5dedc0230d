// Log shapes the reader takes in: a `fields` mapping onto the user's own
// records, the common id fields, records with several sampled responses, JSONL
// compressed with gzip and CSV with a header; and what it says about each bad
// input (file, line, field). Expected records are written out by hand here.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { EVERY, getPath, missingMappedPaths, parseFieldFlags, parsePath } from '../../src/core/field-map';
import { splitCsvRecord } from '../../src/core/csv-records';
import { readLog } from '../../src/core/log-reader';
import { lintConfig } from '../../src/core/lint';
import { parseConfig } from '../../src/core/config';
import { buildReportData } from '../../src/core/report-data';
import type { FieldMap } from '../../src/core/field-map';
import type { LogIssue, LogRecord } from '../../src/core/types';

let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-shapes-'))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string | Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, content);
  return f;
}

async function read(f: string, fields?: FieldMap): Promise<{ records: LogRecord[]; issues: LogIssue[] }> {
  const records: LogRecord[] = [];
  const issues: LogIssue[] = [];
  for await (const it of readLog(f, { fields })) it.kind === 'record' ? records.push(it.record) : issues.push(it.issue);
  return { records, issues };
}

/** The parts of a record these tests compare. */
const view = (r: LogRecord) => ({
  line: r.line,
  id: r.id,
  ...(r.group !== undefined ? { group: r.group, sample: r.sample } : {}),
  prompt: r.prompt,
  response: r.response,
  judge: r.judgeScore,
  base: r.baseLogprob,
  targets: r.targetLogprobs,
});

describe('field paths', () => {
  it('parses keys, [N] and .N, and refuses what is not a path', () => {
    assert.deepEqual(parsePath('output.samples[2].text'), ['output', 'samples', 2, 'text']);
    assert.deepEqual(parsePath('a.0.b'), ['a', '0', 'b']);
    assert.deepEqual(parsePath('m[0][1]'), ['m', 0, 1]);
    assert.deepEqual(parsePath('choices[].text'), ['choices', EVERY, 'text']);
    for (const bad of ['', '.a', 'a..b', 'a[', 'a[x]', ' a']) assert.throws(() => parsePath(bad), /not a dotted path/, bad);
  });

  it('looks up own keys only, digits indexing lists', () => {
    const v = JSON.parse('{"a": {"b": [{"c": 1}, {"c": 2}]}, "__proto__": {"x": 3}}');
    assert.equal(getPath(v, parsePath('a.b[1].c')), 2);
    assert.equal(getPath(v, parsePath('a.b.0.c')), 1);
    assert.equal(getPath(v, parsePath('a.b[5].c')), undefined);
    assert.equal(getPath(v, parsePath('__proto__.x')), 3);
    assert.equal(getPath({}, parsePath('constructor')), undefined);
  });

  it('[] maps over a list, null where an item lacks the rest of the path', () => {
    const v = { choices: [{ text: 'a', lp: -1 }, { lp: -2 }, { text: 'c' }] };
    assert.deepEqual(getPath(v, parsePath('choices[].text')), ['a', null, 'c']);
    assert.deepEqual(getPath(v, parsePath('choices[].lp')), [-1, -2, null]);
    assert.equal(getPath({ choices: 'x' }, parsePath('choices[].text')), undefined);
    assert.deepEqual(missingMappedPaths({ responses: 'choices[].score' }, [v]), [{ field: 'responses', path: 'choices[].score', looked: 1 }]);
    assert.deepEqual(missingMappedPaths({ responses: 'choices[].text' }, [v]), []);
  });

  it('--field NAME=PATH: names checked, bad values named', () => {
    assert.deepEqual(parseFieldFlags(['response=out.text', 'id=uid']), { response: 'out.text', id: 'uid' });
    assert.throws(() => parseFieldFlags(['answer=x']), /--field answer=x: "answer" is not a field cje reads/);
    assert.throws(() => parseFieldFlags(['response']), /expected NAME=PATH/);
    assert.throws(() => parseFieldFlags(['response=a..b']), /--field response=a\.\.b: "a\.\.b" is not a dotted path/);
  });

  it('the config schema takes `fields` with our names only and dotted paths', () => {
    const pol = { provider: 'local', model: './m', template: 'raw' };
    const ok = parseConfig(JSON.stringify({ behavior: 'b', fields: { id: 'meta.qid', responses: 'gens[].text', judge_score: 'scores[0]' }, policies: { b: pol } }));
    assert.deepEqual(ok.problems, []);
    assert.deepEqual(ok.config!.fields, { id: 'meta.qid', responses: 'gens[].text', judge_score: 'scores[0]' });
    const bad = parseConfig(JSON.stringify({ behavior: 'b', fields: { answer: 'x', prompt: 'a..b' }, policies: { b: pol } }));
    assert.deepEqual(bad.problems.map((p) => p.path).sort(), ['fields.answer', 'fields.prompt']);
  });
});

describe('readLog: a fields mapping and the common ids', () => {
  it('reads every field from its mapped path, nested and indexed', async () => {
    const f = file('mapped.jsonl', [
      JSON.stringify({ meta: { qid: 'a1' }, input: { text: 'P1' }, output: [{ text: 'R1' }], eval: { score: 0.5, human: 1 }, lp: { b: -3, t: { x: -2.5 } } }),
      JSON.stringify({ meta: { qid: 7 }, input: { text: 'P2' }, output: [{ text: 'R2' }] }),
    ].join('\n') + '\n');
    const fields: FieldMap = { id: 'meta.qid', prompt: 'input.text', response: 'output[0].text', judge_score: 'eval.score', oracle_label: 'eval.human', base_policy_logprob: 'lp.b', target_policy_logprobs: 'lp.t' };
    const { records, issues } = await read(f, fields);
    assert.deepEqual(issues, []);
    assert.deepEqual(records.map(view), [
      { line: 1, id: 'a1', prompt: 'P1', response: 'R1', judge: 0.5, base: -3, targets: { x: -2.5 } },
      { line: 2, id: '7', prompt: 'P2', response: 'R2', judge: undefined, base: undefined, targets: undefined },
    ]);
    assert.equal(records[0].oracleLabel, 1);
  });

  it('a mapped path that is absent falls back to the default fields; with neither, the error names the mapped path and line', async () => {
    const f = file('fallback.jsonl', [JSON.stringify({ prompt: 'P', response: 'R' }), JSON.stringify({ prompt: 'P' })].join('\n') + '\n');
    const { records, issues } = await read(f, { response: 'output.text' });
    assert.deepEqual(records.map((r) => r.response), ['R']);
    assert.deepEqual(issues, [{ file: f, line: 2, field: 'output.text', reason: 'output.text missing' }]);
  });

  it('ids without a mapping: prompt_id, metadata.prompt_id, id, question_id, uid, sample_id, in that order, else line:N', async () => {
    const base = { prompt: 'p', response: 'r' };
    const recs = [
      { ...base, prompt_id: 'P', metadata: { prompt_id: 'M' }, id: 'I', question_id: 'Q', uid: 'U', sample_id: 'S' },
      { ...base, metadata: { prompt_id: 'M' }, id: 'I', question_id: 'Q', uid: 'U', sample_id: 'S' },
      { ...base, id: 'I', question_id: 'Q', uid: 'U', sample_id: 'S' },
      { ...base, question_id: 81, uid: 'U', sample_id: 'S' },
      { ...base, uid: 'U', sample_id: 'S' },
      { ...base, sample_id: 'S' },
      { ...base },
    ];
    const { records } = await read(file('ids.jsonl', recs.map((r) => JSON.stringify(r)).join('\n') + '\n'));
    assert.deepEqual(records.map((r) => r.id), ['P', 'M', 'I', '81', 'U', 'S', 'line:7']);
  });

  it('an id of the wrong type is an issue naming the field it came from', async () => {
    const f = file('badid.jsonl', JSON.stringify({ prompt: 'p', response: 'r', uid: { a: 1 } }) + '\n');
    const { issues } = await read(f);
    assert.deepEqual(issues[0], { file: f, line: 1, field: 'uid', reason: 'uid must be a string or number, got object' });
  });

  it('judge_score and oracle_label are also read from metadata (where cje-eval keeps them)', async () => {
    const { records } = await read(file('meta.jsonl', JSON.stringify({ prompt: 'p', response: 'r', metadata: { judge_score: 0.25, oracle_label: 0.5 } }) + '\n'));
    assert.equal(records[0].judgeScore, 0.25);
    assert.equal(records[0].oracleLabel, 0.5);
  });
});

describe('readLog: records with several sampled responses', () => {
  it('each sample is an item on the record\'s line: id RECORD#i, group, sample; per-sample lists picked by index', async () => {
    const f = file('multi.jsonl', [
      JSON.stringify({ question_id: 'q1', prompt: 'P', responses: ['a', 'b', 'c'], judge_score: [0.1, 0.2, 0.3], base_policy_logprob: [-1, -2, -3], target_policy_logprobs: { t: [-1.5, null, -3.5] } }),
      JSON.stringify({ prompt: 'Q', responses: ['x'], judge_score: 0.9, target_policy_logprobs: [{ t: -4 }] }),
    ].join('\n') + '\n');
    const { records, issues } = await read(f);
    assert.deepEqual(issues, []);
    assert.deepEqual(records.map(view), [
      { line: 1, id: 'q1#0', group: 'q1', sample: 0, prompt: 'P', response: 'a', judge: 0.1, base: -1, targets: { t: -1.5 } },
      { line: 1, id: 'q1#1', group: 'q1', sample: 1, prompt: 'P', response: 'b', judge: 0.2, base: -2, targets: { t: null } },
      { line: 1, id: 'q1#2', group: 'q1', sample: 2, prompt: 'P', response: 'c', judge: 0.3, base: -3, targets: { t: -3.5 } },
      { line: 2, id: 'line:2#0', group: 'line:2', sample: 0, prompt: 'Q', response: 'x', judge: 0.9, base: undefined, targets: { t: -4 } },
    ]);
  });

  it('a mapped response path holding a list is several samples too', async () => {
    const { records } = await read(file('mapped-multi.jsonl', JSON.stringify({ qid: 'z', few_shot: 'F', gens: ['g0', 'g1'] }) + '\n'), { id: 'qid', prompt: 'few_shot', response: 'gens' });
    assert.deepEqual(records.map((r) => [r.id, r.group, r.sample, r.response]), [['z#0', 'z', 0, 'g0'], ['z#1', 'z', 1, 'g1']]);
  });

  it('a list of objects read through []: each item\'s text, log-prob and score', async () => {
    const f = file('every.jsonl', [
      JSON.stringify({ id: 'k', prompt: 'P', choices: [{ text: 'a', lp: -1, s: 0.5 }, { text: 'b', lp: -2, s: 0.25 }] }),
      JSON.stringify({ id: 'm', prompt: 'P', choices: [{ text: 'a', lp: -1 }, { lp: -2 }] }),
    ].join('\n') + '\n');
    const { records, issues } = await read(f, { responses: 'choices[].text', base_policy_logprob: 'choices[].lp', judge_score: 'choices[].s' });
    assert.deepEqual(records.map(view), [
      { line: 1, id: 'k#0', group: 'k', sample: 0, prompt: 'P', response: 'a', judge: 0.5, base: -1, targets: undefined },
      { line: 1, id: 'k#1', group: 'k', sample: 1, prompt: 'P', response: 'b', judge: 0.25, base: -2, targets: undefined },
    ]);
    assert.deepEqual(issues, [{ file: f, line: 2, field: 'choices[].text[1]', reason: 'choices[].text[1] must be a string, got null' }]);
  });

  it('bad sample lists are issues naming file, line and field', async () => {
    const f = file('multi-bad.jsonl', [
      JSON.stringify({ prompt: 'P', responses: ['a', 2] }),
      JSON.stringify({ prompt: 'P', responses: [] }),
      JSON.stringify({ prompt: 'P', responses: ['a', 'b'], judge_score: [0.1] }),
      JSON.stringify({ prompt: 'P', responses: ['a', 'b'], base_policy_logprob: -1 }),
      JSON.stringify({ prompt: 'P', response: 'a', responses: ['b'] }),
      JSON.stringify({ prompt: 'P', response: 'a', judge_score: [1] }),
      JSON.stringify({ prompt: 'P', responses: 'a' }),
    ].join('\n') + '\n');
    const { records, issues } = await read(f);
    assert.equal(records.length, 0);
    assert.deepEqual(issues.map((i) => [i.line, i.field, i.reason]), [
      [1, 'responses[1]', 'responses[1] must be a string, got number'],
      [2, 'responses', 'responses is an empty list: no response to score'],
      [3, 'judge_score', 'judge_score holds 1 value(s) for 2 sampled responses: give one per response'],
      [4, 'base_policy_logprob', 'base_policy_logprob is one number for 2 sampled responses: give a list, one log-prob per response'],
      [5, 'responses', 'responses give either "response" or "responses", not both'],
      [6, 'judge_score', 'judge_score is a list, but the record has one response (a list is for a record with several sampled responses)'],
      [7, 'responses', 'responses must be a list of the sampled responses (strings), got string'],
      [0, undefined, 'the log has no usable record'],
    ]);
  });
});

const JSONL = [
  JSON.stringify({ prompt_id: 'a', prompt: 'P1', response: 'R1', judge_score: 0.5 }),
  JSON.stringify({ prompt_id: 'b', prompt: 'P2' }),
  JSON.stringify({ prompt_id: 'c', prompt: 'P3', response: 'R3' }),
].join('\n') + '\n';

describe('readLog: .jsonl.gz', () => {
  it('streams the decompressed lines: the same records and issues, with the same line numbers, as the plain file', async () => {
    const plain = await read(file('g.jsonl', JSONL));
    const gz = file('g.jsonl.gz', zlib.gzipSync(JSONL));
    const got = await read(gz);
    assert.deepEqual(got.records.map(view), plain.records.map(view));
    assert.deepEqual(got.issues, [{ file: gz, line: 2, field: 'response', reason: 'response missing' }]);
  });

  it('a big gzip log: every line read, in order', async () => {
    const n = 20000;
    const text = Array.from({ length: n }, (_, i) => JSON.stringify({ id: `r${i}`, prompt: `p ${i}`, response: 'x'.repeat(i % 50) })).join('\n') + '\n';
    const { records, issues } = await read(file('big.jsonl.gz', zlib.gzipSync(text)));
    assert.equal(issues.length, 0);
    assert.equal(records.length, n);
    assert.ok(records.every((r, i) => r.id === `r${i}` && r.line === i + 1));
  });

  it('gzip data named .jsonl is one issue saying how to read it; a cut .gz keeps the lines before the cut and says where it stopped', async () => {
    const named = file('zipped.jsonl', zlib.gzipSync(JSONL));
    const a = await read(named);
    assert.equal(a.records.length, 0);
    assert.equal(a.issues.length, 1);
    assert.match(a.issues[0].reason, /gzip-compressed data, not JSONL text .*name it FILE\.jsonl\.gz/);
    const big = Array.from({ length: 4000 }, (_, i) => JSON.stringify({ id: `r${i}`, prompt: `prompt ${i} ${'y'.repeat(i % 97)}`, response: `${i}`.repeat(20) })).join('\n') + '\n';
    const whole = zlib.gzipSync(big);
    const cut = file('cut.jsonl.gz', whole.subarray(0, Math.floor(whole.length / 2)));
    const b = await read(cut);
    assert.ok(b.records.length > 100 && b.records.length < 4000, String(b.records.length));
    const last = b.issues[b.issues.length - 1];
    assert.match(last.reason, /the gzip data is damaged or cut short after line \d+/);
    assert.ok(last.line >= b.records.length, `stopped at line ${last.line}`);
  });

  it('a .gz file holding binary data is not read as text', async () => {
    const bin = Buffer.alloc(4096);
    for (let i = 0; i < bin.length; i++) bin[i] = (i * 73) % 256;
    const { records, issues } = await read(file('bin.jsonl.gz', zlib.gzipSync(bin)));
    assert.equal(records.length, 0);
    assert.match(issues[0].reason, /^decompressed, it is binary data/);
  });
});

describe('readLog: CSV with a header', () => {
  it('splits RFC 4180 fields: quotes, doubled quotes, commas and newlines inside quotes', () => {
    assert.deepEqual(splitCsvRecord('a,"b,c","say ""hi""",,d'), ['a', 'b,c', 'say "hi"', '', 'd']);
    assert.equal(splitCsvRecord('a,"open'), null);
    assert.deepEqual(splitCsvRecord('"x\ny",z'), ['x\ny', 'z']);
  });

  it('one record per row, numbered by the line it starts on; numbers and JSON lists in cells read where a field needs them', async () => {
    const csv = [
      'prompt_id,prompt,response,judge_score,base_policy_logprob,target_policy_logprobs.t',
      'a,P1,"two',
      'lines, and ""quotes""",0.5,-3.25,-2',
      '',
      'b,P2,R2,,NA,',
      'c,P3,R3,high,-1,-1',
      'd,P4',
      'e,"P5",R5,1,-4,-5',
    ].join('\r\n') + '\r\n';
    const f = file('log.csv', csv);
    const { records, issues } = await read(f);
    assert.deepEqual(records.map(view), [
      { line: 2, id: 'a', prompt: 'P1', response: 'two\nlines, and "quotes"', judge: 0.5, base: -3.25, targets: { t: -2 } },
      { line: 5, id: 'b', prompt: 'P2', response: 'R2', judge: undefined, base: null, targets: undefined },
      { line: 8, id: 'e', prompt: 'P5', response: 'R5', judge: 1, base: -4, targets: { t: -5 } },
    ]);
    assert.deepEqual(issues, [
      { file: f, line: 6, field: 'judge_score', reason: 'judge_score must be a number, got the text "high"' },
      { file: f, line: 7, reason: 'this row has 2 field(s), the header (line 1) 6: an unquoted comma or a missing field?' },
    ]);
  });

  it('a CSV column holding a JSON list of samples, with a mapping', async () => {
    const csv = 'qid,few_shot,gens\nq1,F,"[""g0"",""g1""]"\n';
    const { records } = await read(file('multi.csv', csv), { id: 'qid', prompt: 'few_shot', responses: 'gens' });
    assert.deepEqual(records.map((r) => [r.line, r.id, r.response]), [[2, 'q1#0', 'g0'], [2, 'q1#1', 'g1']]);
  });

  it('a quote never closed, a header naming a column twice, binary data, an empty file: one issue each', async () => {
    const open = file('open.csv', 'prompt,response\nP,"never closed\nmore\n');
    assert.deepEqual((await read(open)).issues[0], { file: open, line: 2, reason: 'a quoted field opened on line 2 is never closed (the file ends inside it)' });
    const dup = file('dup.csv', 'prompt,prompt\na,b\n');
    assert.deepEqual((await read(dup)).issues[0], { file: dup, line: 1, reason: 'the header names the column "prompt" twice' });
    const bin = file('bin.csv', Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 37) % 256)));
    const b = await read(bin);
    assert.equal(b.records.length, 0);
    assert.match(b.issues[0].reason, /binary data, not CSV text/);
    const head = file('head.csv', 'prompt,response\n');
    assert.deepEqual((await read(head)).issues, [{ file: head, line: 0, reason: 'the CSV file has no data rows (a header line, then one line per record)' }]);
    const gz = file('log.csv.gz', zlib.gzipSync('prompt,response\nP,R\n'));
    assert.deepEqual((await read(gz)).records.map((r) => [r.line, r.prompt, r.response]), [[2, 'P', 'R']]);
  });
});

describe('lint CJE090: a fields path in none of the first records of the log', () => {
  const cfg = (fields: FieldMap) => JSON.stringify({ behavior: 'b', fields, policies: { b: { provider: 'local', model: './m', template: 'raw' } } }, null, 2);

  it('warns for each mapped path the log lacks, naming the paths its first record holds; silent when they are there', () => {
    const log = file('lint-log.jsonl', JSON.stringify({ q: { id: 1 }, text: 'P', out: 'R' }) + '\n');
    const r = lintConfig(cfg({ id: 'q.id', prompt: 'text', response: 'output.text' }), path.join(dir, 'cje.config.json'), { tokenizers: false, logs: [log] });
    const d = r.diagnostics.filter((x) => x.code === 'CJE090');
    assert.equal(d.length, 1);
    assert.equal(d[0].path, 'fields.response');
    assert.match(d[0].message, /fields\.response: "output\.text" is in none of the first 1 record\(s\) of lint-log\.jsonl, .*the first record holds q\.id, text, out/);
    assert.equal(lintConfig(cfg({ id: 'q.id', response: 'out' }), 'c.json', { tokenizers: false, logs: [log] }).diagnostics.filter((x) => x.code === 'CJE090').length, 0);
  });

  it('reads CSV and .jsonl.gz logs, and the logs beside the config by default', () => {
    const sub = fs.mkdtempSync(path.join(dir, 'beside-'));
    fs.writeFileSync(path.join(sub, 'a.csv'), 'qid,text\n1,hello\n');
    fs.writeFileSync(path.join(sub, 'b.jsonl.gz'), zlib.gzipSync(JSON.stringify({ qid: 2, text: 'x' }) + '\n'));
    const r = lintConfig(cfg({ id: 'qid', prompt: 'prompt_text' }), path.join(sub, 'cje.config.json'), { tokenizers: false });
    assert.deepEqual(r.diagnostics.filter((x) => x.code === 'CJE090').map((x) => x.message.split(' is in')[0]), ['fields.prompt: "prompt_text"', 'fields.prompt: "prompt_text"']);
    assert.deepEqual(missingMappedPaths({ id: 'qid' }, [{ qid: 0 }]), []);
  });
});

describe('report rows from a scores file alone', () => {
  const sl = (policy: string, line: number, record: string, logprob: number) =>
    JSON.stringify({ key: `${policy}${line}${record}`, record, line, policy, fingerprint: policy, logprob, tokens: [], token_logprobs: [], span: null, error: null, model: 'm', template: 'raw', provider: 'local', scored_at: 't' });

  it('sampled responses (RECORD#i) sharing a line are rows of their own; any other record is its line\'s row whatever id it was scored under', async () => {
    const f = file('alone.scores.jsonl', [
      sl('b', 1, 'q#0', -1), sl('b', 1, 'q#1', -2), sl('t', 1, 'q#0', -1.5), sl('t', 1, 'q#1', -2.5),
      // Line 2 scored under base as line:2 (before ids were read), under t as r2.
      sl('b', 2, 'line:2', -3), sl('t', 2, 'r2', -4),
    ].join('\n') + '\n');
    const d = await buildReportData({ input: f, behavior: 'b', bootstrap: { b: 0 } });
    assert.deepEqual(d.records.map((r) => [r.line, r.id, r.lw[0]]), [[1, 'q#0', -0.5], [1, 'q#1', -0.5], [2, 'line:2', -1]]);
  });
});
