// Every input shape end to end, offline: `cje score` then `cje report` (and
// `cje export`) through main(), against the protocol test server on 127.0.0.1
// (the toy model) and, for the linguistic-calibration example, the local
// worker on the tiny Llama model. Expected numbers are read from the scores
// file here, line by line, apart from the code under test; weights are
// computed here by hand.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { startCompletionsServer, type CompletionsServer } from '../support/completions-server';
import { cje, Sink } from '../support/cli-run';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The score lines of a scores file, parsed here without the code under test: (policy, line, record) → logprob or null (error). */
function scoreTable(file: string): Map<string, number | null> {
  const m = new Map<string, number | null>();
  for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    const v = JSON.parse(l);
    if ('kind' in v) continue;
    m.set(`${v.policy}|${v.line}|${v.record}`, v.error === null ? v.logprob : null);
  }
  return m;
}

interface Item {
  line: number;
  id: string;
  judge?: number;
}

describe('log shapes end to end: cje score, cje report and cje export offline', function () {
  this.timeout(120000);
  let server: CompletionsServer;
  let dir: string;
  let cfg: string;

  const RECORDS = Array.from({ length: 30 }, (_, i) => ({
    meta: { qid: `q${i}` },
    input: { text: `Question ${i}: name a colour that is not ${['red', 'blue', 'green'][i % 3]}.` },
    output: { text: `${['Yellow', 'Purple', 'Orange', 'Teal', 'Grey'][i % 5]}, for example, number ${i}.` },
    eval: { score: (i % 10) / 10 },
  }));
  const ITEMS: Item[] = RECORDS.map((r, i) => ({ line: i + 1, id: r.meta.qid, judge: r.eval.score }));

  before(async () => {
    server = await startCompletionsServer();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-shapes-e2e-'));
    cfg = path.join(dir, 'cje.config.json');
    const pol = { provider: 'openai-compatible', baseURL: server.baseURL, model: 'toy', template: 'raw', batchSize: 4 };
    fs.writeFileSync(
      cfg,
      JSON.stringify({ behavior: 'base', fields: { id: 'meta.qid', prompt: 'input.text', response: 'output.text', judge_score: 'eval.score' }, policies: { base: pol, clone: pol, other: { ...pol, model: 'toy-2' } } }, null, 2),
    );
  });
  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Scores and reports `log`; checks one score line per item and policy, and the report's rows against the items. */
  async function scoreAndReport(log: string, items: Item[]): Promise<{ scores: string; report: Record<string, any> }> {
    const scores = log.replace(/\.(?:jsonl|csv)(?:\.gz)?$/, '') + '.scores.jsonl';
    const s = await cje('score', log, '--config', cfg, '--quiet');
    assert.equal(s.code, 0, s.err + s.out);
    const table = scoreTable(scores);
    for (const p of ['base', 'clone', 'other']) {
      for (const it of items) assert.equal(typeof table.get(`${p}|${it.line}|${it.id}`), 'number', `${p} ${it.id} (line ${it.line}) scored`);
    }
    assert.equal(table.size, 3 * items.length);
    const json = path.join(dir, `${path.basename(log)}.report.json`);
    const r = await cje('report', scores, '--log', log, '--config', cfg, '--json', json, '--out', json.replace(/json$/, 'html'), '--bootstrap', '0');
    assert.equal(r.code, 0, r.err + r.out);
    const report = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.deepEqual(report.records.map((x: { id: string; line: number }) => [x.line, x.id]), items.map((it) => [it.line, it.id]));
    assert.deepEqual(report.records.map((x: { judge: number | null }) => x.judge), items.map((it) => it.judge ?? null));
    // The weights the report shows are the scores file's, computed here: log w = log π′ − log π₀.
    const other = report.meta.targets.indexOf('other');
    report.records.forEach((x: { id: string; line: number; lw: (number | null)[] }) => {
      const want = table.get(`other|${x.line}|${x.id}`)! - table.get(`base|${x.line}|${x.id}`)!;
      assert.ok(Math.abs(x.lw[other]! - want) <= 1e-7 * Math.max(1, Math.abs(want)), `${x.id}: ${x.lw[other]} vs ${want}`);
    });
    return { scores, report };
  }

  it('JSONL in the user\'s own shape, read through the config\'s fields mapping', async () => {
    const log = path.join(dir, 'mapped.jsonl');
    fs.writeFileSync(log, RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n');
    await scoreAndReport(log, ITEMS);
  });

  it('JSONL compressed with gzip (.jsonl.gz), with a bad line reported by file, line and field', async () => {
    const log = path.join(dir, 'packed.jsonl.gz');
    const lines = RECORDS.map((r) => JSON.stringify(r));
    lines.splice(4, 0, JSON.stringify({ meta: { qid: 'bad' }, input: { text: 'no answer' } }));
    fs.writeFileSync(log, zlib.gzipSync(lines.join('\n') + '\n'));
    const s = await cje('score', log, '--config', cfg);
    assert.equal(s.code, 1, 'a bad line makes exit 1');
    assert.ok(s.err.includes(`${log}:5: output.text missing`), s.err);
    const items = ITEMS.map((it) => ({ ...it, line: it.line >= 5 ? it.line + 1 : it.line }));
    const scores = path.join(dir, 'packed.scores.jsonl');
    const table = scoreTable(scores);
    assert.equal(table.size, 3 * items.length);
    for (const it of items) assert.equal(typeof table.get(`other|${it.line}|${it.id}`), 'number');
    const json = path.join(dir, 'packed.json');
    const r = await cje('report', scores, '--config', cfg, '--json', json, '--out', path.join(dir, 'packed.html'), '--bootstrap', '0');
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes(`log: ${log} (beside the scores file)`), r.out);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.deepEqual(rep.records.map((x: { id: string }) => x.id), items.map((it) => it.id));
    assert.deepEqual(rep.meta.issues, [{ file: log, line: 5, reason: 'output.text missing' }]);
  });

  it('CSV with a header, a response with a quoted newline, and a bad number reported by file, line and field', async () => {
    const log = path.join(dir, 'sheet.csv');
    const esc = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    const rows = ['meta.qid,input.text,output.text,eval.score'];
    const items: Item[] = [];
    let line = 2;
    RECORDS.forEach((r, i) => {
      const response = i % 7 === 0 ? `${r.output.text}\nA second line, "quoted".` : r.output.text;
      rows.push([r.meta.qid, r.input.text, response, String(r.eval.score)].map(esc).join(','));
      items.push({ line, id: r.meta.qid, judge: r.eval.score });
      line += response.split('\n').length;
    });
    rows.push('bad,Q,R,not-a-number');
    fs.writeFileSync(log, rows.join('\n') + '\n');
    const s = await cje('score', log, '--config', cfg);
    assert.equal(s.code, 1);
    assert.ok(s.err.includes(`${log}:${line}: eval.score must be a number, got the text "not-a-number"`), s.err);
    fs.writeFileSync(log, rows.slice(0, -1).join('\n') + '\n');
    await scoreAndReport(log, items);
  });

  it('records with several sampled responses: one item each, grouped by record in the report; a repeated sample shares its twin\'s score', async () => {
    const log = path.join(dir, 'samples.jsonl');
    const recs = Array.from({ length: 8 }, (_, i) => ({
      uid: `u${i}`,
      prompt: `Describe the number ${i} in a sentence.`,
      // Record 3 samples the same text twice: one score line serves both (same key, same line).
      samples: i === 3 ? ['It is odd.', 'It is odd.', 'It is prime.'] : [`${i} is a number.`, `${i} comes after ${i - 1}.`, `Think of ${i} apples.`],
      judge: [0.2, 0.5, 0.8],
    }));
    fs.writeFileSync(log, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const fcfg = path.join(dir, 'samples.config.json');
    const c = JSON.parse(fs.readFileSync(cfg, 'utf8'));
    c.fields = { responses: 'samples', judge_score: 'judge' };
    fs.writeFileSync(fcfg, JSON.stringify(c));
    const s = await cje('score', log, '--config', fcfg, '--quiet');
    assert.equal(s.code, 0, s.err);
    assert.match(s.out, /records 24 /);
    const sf = path.join(dir, 'samples.scores.jsonl');
    // The store covers (key, line, policy): a repeated sample gets a line of its own only when it was in
    // the same batch as its twin. Drop its lines to read the case where a later batch found it covered.
    const kept = fs.readFileSync(sf, 'utf8').split('\n').filter((l) => !l.includes('"record":"u3#1"'));
    fs.writeFileSync(sf, kept.join('\n'));
    const table = scoreTable(sf);
    assert.equal(table.size, 3 * 23);
    assert.equal(table.has('base|4|u3#1'), false);
    const json = path.join(dir, 'samples.json');
    const r = await cje('report', path.join(dir, 'samples.scores.jsonl'), '--config', fcfg, '--json', json, '--out', path.join(dir, 'samples.html'), '--bootstrap', '0');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /24 records \(24 of them sampled responses of 8 records\)/);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.deepEqual(rep.meta.groups, { records: 8, samples: 24 });
    const want = recs.flatMap((x, i) => x.samples.map((_, k) => [i + 1, `${x.uid}#${k}`, x.uid]));
    assert.deepEqual(rep.records.map((x: { line: number; id: string; group: string }) => [x.line, x.id, x.group]), want);
    assert.deepEqual(rep.records.map((x: { judge: number }) => x.judge), recs.flatMap((x) => x.judge));
    const other = rep.meta.targets.indexOf('other');
    const twin = rep.records.find((x: { id: string }) => x.id === 'u3#1');
    const first = rep.records.find((x: { id: string }) => x.id === 'u3#0');
    assert.equal(typeof twin.lw[other], 'number');
    assert.equal(twin.lw[other], first.lw[other]);
    assert.equal(twin.blp, first.blp);
    assert.equal(rep.policies.find((p: { name: string }) => p.name === 'other').n, 24);

    // Exported: one cje record per sample, numbers from the scores file (the twin's from its first).
    const out = path.join(dir, 'samples.cje.jsonl');
    const e = await cje('export', log, '--config', fcfg, '--format', 'cje');
    assert.equal(e.code, 0, e.err + e.out);
    const exported = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(exported.length, 24);
    exported.forEach((x, k) => {
      const [line, id, group] = want[k] as [number, string, string];
      const sid = id === 'u3#1' ? 'u3#0' : id;
      assert.equal(x.prompt_id, id);
      assert.equal(x.base_policy_logprob, table.get(`base|${line}|${sid}`));
      assert.equal(x.target_policy_logprobs.other, table.get(`other|${line}|${sid}`));
      assert.deepEqual(x.metadata, { group, sample: k % 3 });
      assert.equal('samples' in x || 'judge' in x, false, 'the sample lists are not repeated on every sample');
      assert.equal(x.judge_score, [0.2, 0.5, 0.8][k % 3]);
    });
  });

  it('round trip: cje report on the exported log gives the diagnostics of the report from the scores', async () => {
    const log = path.join(dir, 'mapped.jsonl');
    const scores = path.join(dir, 'mapped.scores.jsonl');
    const exported = path.join(dir, 'mapped.exported.jsonl');
    const e = await cje('export', log, '--config', cfg, '--scores', scores, '--format', 'cje', '--out', exported);
    assert.equal(e.code, 0, e.err + e.out);
    const a = path.join(dir, 'rt-scores.json');
    const b = path.join(dir, 'rt-log.json');
    // A fixed bootstrap size: the intervals resample with the same seed on the same n.
    assert.equal((await cje('report', scores, '--log', log, '--config', cfg, '--json', a, '--out', a + '.html', '--bootstrap', '200')).code, 0);
    const rb = await cje('report', exported, '--config', cfg, '--json', b, '--out', b + '.html', '--bootstrap', '200');
    assert.equal(rb.code, 0, rb.err);
    const A = JSON.parse(fs.readFileSync(a, 'utf8'));
    const B = JSON.parse(fs.readFileSync(b, 'utf8'));
    assert.equal(B.meta.input_kind, 'log');
    assert.deepEqual(B.meta.targets, A.meta.targets);
    assert.deepEqual(B.records.map((r: { id: string }) => r.id), A.records.map((r: { id: string }) => r.id));
    // The exported numbers are the scores' doubles written by JSON.stringify, which reads back to the same
    // double (ECMAScript's shortest round-trip form): log-weights and every statistic of them must agree to
    // rounding of the same arithmetic, so 1e-9 relative is far looser than needed and far tighter than any real change.
    const close = (x: unknown, y: unknown, what: string) => {
      if (typeof x === 'number' && typeof y === 'number') assert.ok(Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x)), `${what}: ${x} vs ${y}`);
      else assert.deepEqual(y, x, what);
    };
    for (const p of A.policies) {
      const q = B.policies.find((x: { name: string }) => x.name === p.name);
      for (const k of ['n', 'n_records', 'ess', 'ess_fraction', 'ess_grade', 'khat', 'khat_band', 'hill_alpha', 'max_weight_share', 'too_few_records']) close(p[k], q[k], `${p.name}.${k}`);
      close(p.identical.violation_count, q.identical.violation_count, `${p.name}.identical.violation_count`);
      close(p.identical.expected, q.identical.expected, `${p.name}.identical.expected`);
      for (const k of Object.keys(p.estimates ?? {})) {
        const x = p.estimates[k];
        if (typeof x === 'number' || x === null) close(x, q.estimates[k], `${p.name}.estimates.${k}`);
      }
    }
    A.records.forEach((r: { lw: (number | null)[]; blp: number | null }, i: number) => {
      r.lw.forEach((v, k) => close(v, B.records[i].lw[k], `record ${i} lw[${k}]`));
      close(r.blp, B.records[i].blp, `record ${i} blp`);
    });
  });

  it('weights-csv and arviz: one row per item, weights and self-normalised weights computed here; failed, suspect and unscored give null, counted', async () => {
    const log = path.join(dir, 'small.jsonl');
    fs.writeFileSync(log, ['a', 'b', 'c', 'd', 'e'].map((id, i) => JSON.stringify({ prompt_id: id, prompt: `p${i}`, response: `r${i}`, judge_score: i / 4, base_policy_logprob: -99 })).join('\n') + '\n');
    const scores = path.join(dir, 'small.scores.jsonl');
    const line = (policy: string, n: number, record: string, logprob: number | null, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ key: `k${n}`, record, line: n, policy, fingerprint: policy, logprob, tokens: [], token_logprobs: [], span: null, error: null, model: 'm', template: 'raw', provider: 'local', scored_at: 'x', ...extra });
    const base = [-10, -12, -8, -20, -5];
    const t = [-11, -9, -8.5, -18, -6];
    const lines = [
      ...base.map((v, i) => line('base', i + 1, 'abcde'[i], v)),
      ...t.map((v, i) => line('t', i + 1, 'abcde'[i], v)),
      // b: an error line after a success keeps the success; c: only an error under t; d: suspect under base; e: t never scored.
      line('t', 2, 'b', null, { error: 'later failure' }),
    ];
    lines[5 + 2] = line('t', 3, 'c', null, { error: 'timeout' });
    lines[3] = line('base', 4, 'd', -20, { suspect: ['near-zero single token'] });
    lines.splice(9, 1);
    fs.writeFileSync(scores, lines.join('\n') + '\n');
    const c = path.join(dir, 'small.config.json');
    const pol = { provider: 'local', model: './m', template: 'raw' };
    fs.writeFileSync(c, JSON.stringify({ behavior: 'base', policies: { base: pol, t: { ...pol, model: './m2' } } }));

    const cj = await cje('export', log, '--config', c, '--format', 'cje', '--json');
    assert.equal(cj.code, 1, 'nulls make exit 1');
    const sum = JSON.parse(cj.out);
    assert.deepEqual(sum.nulls, [{ policy: 'base', failed: 0, suspect: 1, missing: 0 }, { policy: 't', failed: 1, suspect: 0, missing: 1 }]);
    const got = fs.readFileSync(path.join(dir, 'small.cje.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(got.map((x) => [x.prompt_id, x.base_policy_logprob, x.target_policy_logprobs.t]), [
      ['a', -10, -11],
      ['b', -12, -9],
      ['c', -8, null],
      ['d', null, -18],
      ['e', -5, null],
    ]);
    assert.equal(got[0].judge_score, 0);

    const csv = await cje('export', log, '--config', c, '--format', 'weights-csv', '--quiet');
    assert.equal(csv.code, 1);
    const rows = fs.readFileSync(path.join(dir, 'small.weights.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    assert.deepEqual(rows[0], ['id', 'line', 'judge_score', 'log_weight.t', 'weight.t', 'sn_weight.t']);
    // By hand: finite log-weights a: -1, b: 3; sn = e^lw / (e^-1 + e^3).
    const z = Math.exp(-1) + Math.exp(3);
    const want = [
      ['a', 1, 0, -1, Math.exp(-1), Math.exp(-1) / z],
      ['b', 2, 0.25, 3, Math.exp(3), Math.exp(3) / z],
      ['c', 3, 0.5, null, null, null],
      ['d', 4, 0.75, null, null, null],
      ['e', 5, 1, null, null, null],
    ];
    rows.slice(1).forEach((r, i) => {
      assert.equal(r[0], want[i][0]);
      for (let k = 1; k < 6; k++) {
        const w = want[i][k] as number | null;
        if (w === null) assert.equal(r[k], '', `${r[0]} col ${k}`);
        else assert.ok(Math.abs(Number(r[k]) - w) <= 1e-12 * Math.max(1, Math.abs(w)), `${r[0]} col ${k}: ${r[k]} vs ${w}`);
      }
    });

    const az = await cje('export', log, '--config', c, '--format', 'arviz', '--quiet');
    assert.equal(az.code, 1);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'small.log-weights.json'), 'utf8'));
    assert.equal(doc.behavior, 'base');
    assert.deepEqual(doc.targets.t, { n: 2, ids: ['a', 'b'], log_weights: [-1, 3], excluded: ['c', 'd', 'e'] });
  });

  it('cje report straight from a log with log-probs, as CSV and as .jsonl.gz: log-weights computed here', async () => {
    const b = [-5, -7.5, -3, -9, -4.25, -6, -8, -2.5];
    const t = [-5.5, -7, -3, -10, -4, -6.5, -7.25, -2];
    const csv = path.join(dir, 'lp.csv');
    fs.writeFileSync(csv, ['prompt_id,prompt,response,base_policy_logprob,target_policy_logprobs.t', ...b.map((v, i) => `r${i},"p, ${i}",resp ${i},${v},${t[i]}`)].join('\n') + '\n');
    const gz = path.join(dir, 'lp.jsonl.gz');
    fs.writeFileSync(gz, zlib.gzipSync(b.map((v, i) => JSON.stringify({ prompt_id: `r${i}`, prompt: `p, ${i}`, response: `resp ${i}`, base_policy_logprob: v, target_policy_logprobs: { t: t[i] } })).join('\n') + '\n'));
    for (const log of [csv, gz]) {
      const json = log + '.json';
      const r = await cje('report', log, '--behavior', 'base', '--json', json, '--out', log + '.html', '--bootstrap', '0');
      assert.equal(r.code, 0, r.err);
      const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
      assert.equal(rep.meta.input_kind, 'log');
      assert.deepEqual(rep.records.map((x: { id: string }) => x.id), b.map((_, i) => `r${i}`));
      assert.deepEqual(rep.records.map((x: { lw: number[] }) => x.lw[0]), b.map((v, i) => t[i] - v));
    }
  });

  it('cje export refuses to write over an input and names a bad format', async () => {
    const log = path.join(dir, 'small.jsonl');
    const c = path.join(dir, 'small.config.json');
    const r = await cje('export', log, '--config', c, '--format', 'cje', '--out', log);
    assert.equal(r.code, 2);
    assert.match(r.err, /^cje export: --out .* is an input of this export/);
    const f = await cje('export', log, '--config', c, '--format', 'parquet');
    assert.equal(f.code, 2);
    assert.equal(f.err, 'cje export: --format parquet: one of cje, weights-csv, arviz\n');
  });

  it('the linguistic-calibration example scores, reports and exports offline on the tiny Llama model', async function () {
    this.timeout(300000);
    const ex = path.join(ROOT, 'examples', 'linguistic-calibration');
    const log = path.join(ex, 'forecasts.jsonl');
    const exCfg = path.join(ex, 'cje.config.json');
    const scores = path.join(dir, 'lc.scores.jsonl');
    const s = await cje('score', log, '--config', exCfg, '--out', scores, '--quiet');
    assert.equal(s.code, 0, s.err + s.out);
    const recs = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(recs.every((r) => r.generations.length === 8 && r.generations.every((g: string) => !g.includes('\n\n'))), 'eight generations, each up to the first blank line');
    const table = scoreTable(scores);
    for (const [i, r] of recs.entries()) for (let k = 0; k < 8; k++) for (const p of ['base', 'inst', 'separate']) assert.equal(typeof table.get(`${p}|${i + 1}|${r.query_id}#${k}`), 'number', `${p} ${r.query_id}#${k}`);
    const json = path.join(dir, 'lc.json');
    const r = await cje('report', scores, '--log', log, '--config', exCfg, '--json', json, '--out', path.join(dir, 'lc.html'));
    assert.equal(r.code, 0, r.err + r.out);
    const rep = JSON.parse(fs.readFileSync(json, 'utf8'));
    assert.deepEqual(rep.meta.groups, { records: recs.length, samples: 8 * recs.length });
    const inst = rep.policies.find((p: { name: string }) => p.name === 'inst');
    assert.equal(inst.n, 8 * recs.length);
    const e = await cje('export', log, '--config', exCfg, '--scores', scores, '--format', 'weights-csv', '--out', path.join(dir, 'lc.csv'));
    assert.equal(e.code, 0, e.err + e.out);
    assert.equal(fs.readFileSync(path.join(dir, 'lc.csv'), 'utf8').trim().split('\n').length, 1 + 8 * recs.length);
  });
});
