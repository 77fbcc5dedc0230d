import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { runScoring } from '../../src/core/score-run';
import type { CjeConfig, PolicyConfig, ScoreLine } from '../../src/core/types';
import { CompletionsScorer, RETRY_AFTER_CAP_MS } from '../../src/scorers/completions';
import { completionsScorerFactory } from '../../src/scorers/make-scorer';
import { startCompletionsServer, type CompletionsServer } from '../support/completions-server';
import { readScoresFile } from '../support/scores-file';

const CJE = path.resolve(__dirname, '../../../bin/cje.js');

function cje(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CJE, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A server on 127.0.0.1 answering every POST with `handle`; stops with the test. */
async function rawServer(handle: (req: http.IncomingMessage, res: http.ServerResponse, body: string, n: number) => void): Promise<{ url: string; count: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    handle(req, res, body, n++);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  server.unref();
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1`,
    count: () => n,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

const scoreLines = (file: string): ScoreLine[] =>
  readScoresFile(file).filter((l) => l.kind === undefined);

describe('reliability of scoring: inputs, outputs, locks, secrets, duplicates, retries', function () {
  this.timeout(60000);
  let dir: string;
  let log: string;
  let server: CompletionsServer;
  const records = (n: number) => Array.from({ length: n }, (_, i) => ({ prompt_id: `q${i}`, prompt: `Question ${i}?`, response: `Answer ${i}.` }));
  const writeLog = (recs: object[]) => fs.writeFileSync(log, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const policy = (baseURL: string, extra: Partial<PolicyConfig> = {}): PolicyConfig => ({ provider: 'openai-compatible', baseURL, model: 'toy', template: 'chatml', batchSize: 4, maxRetries: 2, ...extra });
  const config = (baseURL: string, extra: Partial<PolicyConfig> = {}): CjeConfig => ({ behavior: 'base', policies: { base: policy(baseURL, extra) } });
  const writeConfig = (cfg: CjeConfig) => {
    const f = path.join(dir, 'cje.config.json');
    fs.writeFileSync(f, JSON.stringify(cfg));
    return f;
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-rel-'));
    log = path.join(dir, 'log.jsonl');
    writeLog(records(6));
    server = await startCompletionsServer();
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('never writes scores into the log itself (before: appended to it)', async () => {
    const before = fs.readFileSync(log);
    await assert.rejects(runScoring({ logFile: log, outFile: log, config: config(server.baseURL), makeScorer: completionsScorerFactory() }), /is the log itself: refusing to write into the input/);
    const link = path.join(dir, 'same.jsonl');
    fs.linkSync(log, link);
    const r = await cje(['score', log, '--config', writeConfig(config(server.baseURL)), '--out', link]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^cje score: the scores file .*same\.jsonl is the log itself/m);
    assert.deepEqual(fs.readFileSync(log), before);
  });

  it('a full disk (--out /dev/full): one clear message and exit 1, no stack trace (before: hung, then a stack trace)', async () => {
    const r = await cje(['score', log, '--config', writeConfig(config(server.baseURL)), '--out', '/dev/full', '--no-probe']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^cje score: cannot write \/dev\/full: no space left on the device \(ENOSPC\); what was written is kept, free space and run the same command again to resume$/m);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('two runs on one scores file: the second stops at once and names the holder; a dead holder\'s lock is taken over', async () => {
    const slow = await startCompletionsServer({ latencyMs: 150 });
    try {
      writeLog(records(24));
      const cfg = writeConfig(config(slow.baseURL, { batchSize: 1, concurrency: 1 } as Partial<PolicyConfig>));
      const first = cje(['score', log, '--config', cfg, '--no-probe']);
      const lock = path.join(dir, 'log.scores.jsonl.lock');
      for (let i = 0; i < 200 && !fs.existsSync(lock); i++) await new Promise((r) => setTimeout(r, 20));
      const holder = JSON.parse(fs.readFileSync(lock, 'utf8')).pid;
      const second = await cje(['score', log, '--config', cfg, '--no-probe']);
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`log\\.scores\\.jsonl is being written by another cje run \\(pid ${holder}, since `));
      const r1 = await first;
      assert.equal(r1.code, 0, r1.stderr);
      assert.ok(!fs.existsSync(lock), 'the lock is released at the end');
      const keys = scoreLines(path.join(dir, 'log.scores.jsonl')).map((l) => l.key);
      assert.equal(keys.length, 24);
      assert.equal(new Set(keys).size, 24);
      // A run killed with its lock in place: the pid is gone, the next run takes over.
      fs.writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 12345, started: '2026-01-01T00:00:00Z' }));
      const third = await cje(['score', log, '--config', cfg, '--no-probe']);
      assert.equal(third.code, 0, third.stderr);
      assert.match(third.stdout, /skipped 24/);
    } finally {
      await slow.close();
    }
  });

  it('a server that quotes the Authorization header in its errors: the key appears nowhere (before: in the scores file, stdout and --json)', async () => {
    const secret = 'sk-live-' + 'Q7x'.repeat(10);
    const echoing = await rawServer((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `invalid api key in header Authorization: ${req.headers.authorization}` } }));
    });
    try {
      const cfg = writeConfig(config(echoing.url, { apiKeyEnv: 'CJE_REL_KEY', maxRetries: 0 }));
      const probed = await cje(['score', log, '--config', cfg, '--out', path.join(dir, 'a.jsonl')], { CJE_REL_KEY: secret });
      const unprobed = await cje(['score', log, '--config', cfg, '--out', path.join(dir, 'b.jsonl'), '--no-probe', '--json'], { CJE_REL_KEY: secret });
      assert.equal(probed.code, 1);
      assert.match(probed.stderr, /HTTP 401: invalid api key in header Authorization: Bearer \*\*\*/);
      assert.equal(unprobed.code, 1);
      const b = scoreLines(path.join(dir, 'b.jsonl'));
      assert.equal(b.length, 6);
      assert.ok(b.every((l) => l.error === 'HTTP 401: invalid api key in header Authorization: Bearer ***'), b[0].error!);
      const everything = [probed.stdout, probed.stderr, unprobed.stdout, unprobed.stderr, ...['a.jsonl', 'b.jsonl'].map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))].join('\n');
      assert.ok(!everything.includes('Q7xQ7x'), 'the key leaked');
      assert.ok(echoing.count() > 0);
    } finally {
      await echoing.close();
    }
  });

  it('records that repeat a prompt and response each get their own score lines (before: 8 of 30 dropped)', async () => {
    const recs = records(5);
    // Line 3 repeats line 1 inside the same batch of four; line 6 repeats it again later.
    recs.splice(2, 0, { ...recs[0], prompt_id: 'dup-a' });
    recs.push({ ...recs[0], prompt_id: 'dup-b' });
    writeLog(recs);
    const s = await runScoring({ logFile: log, config: config(server.baseURL), makeScorer: completionsScorerFactory() });
    const lines = scoreLines(s.outFile);
    assert.deepEqual(lines.map((l) => l.line).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7]);
    const first = lines.find((l) => l.line === 1)!;
    for (const n of [3, 7]) assert.equal(lines.find((l) => l.line === n)!.logprob, first.logprob);
    assert.ok(s.duplicates.count >= 1 && s.duplicates.examples.every((d) => d.sameAs === 1));
    assert.equal(lines.find((l) => l.line === 7)!.duplicate_of, 1);
  });

  it('resume re-checks lines written before the answer checks and rescores those that fail them', async () => {
    writeLog(records(2));
    const first = await runScoring({ logFile: log, config: config(server.baseURL), makeScorer: completionsScorerFactory() });
    const lines = readScoresFile(first.outFile);
    // As an older version wrote them: no `checks`; one of them with a positive log-prob the checks now refuse.
    const old = lines.filter((l) => !l.kind).map(({ checks: _c, ...l }, i) => (i === 0 ? { ...l, token_logprobs: [0.5, ...l.token_logprobs.slice(1)], logprob: 0.5 + l.token_logprobs.slice(1).reduce((a: number, b: number) => a + b, 0) } : l));
    fs.writeFileSync(first.outFile, old.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const before = server.requests.length;
    const again = await runScoring({ logFile: log, config: config(server.baseURL), makeScorer: completionsScorerFactory() });
    assert.equal(again.store.rechecked?.failed, 1);
    assert.match(again.store.rechecked!.examples[0].reason, /written before the answer checks, fails them now \(scored again\): token 0 \(.*\) of the response has log-prob 0\.5, above 0/);
    assert.equal(again.scored, 1);
    assert.equal(again.skipped, 1);
    assert.equal(server.requests.length - before, 1);
  });

  it('Retry-After is capped at 60 s and the wait is cancelled at once (before: an hour, Ctrl-C ignored for seconds)', async () => {
    const always429 = await rawServer((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3600' });
      res.end(JSON.stringify({ error: { message: 'rate limited' } }));
    });
    try {
      const waits: string[] = [];
      const scorer = new CompletionsScorer({ baseURL: always429.url, model: 'toy', maxRetries: 3, onWait: (m) => waits.push(m) });
      const controller = new AbortController();
      const run = runScoring({ logFile: log, config: config(always429.url), makeScorer: async () => scorer, signal: controller.signal });
      for (let i = 0; i < 200 && waits.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(waits[0], 'the server asked to wait 3600 s; waiting 60 s (the cap) before retrying');
      controller.abort(new Error('cancelled'));
      const s = await run;
      assert.equal(s.cancelled, true);
      // The batches sent before the cancel (one or both, by timing) were each asked once: none was retried.
      assert.ok(always429.count() >= 1 && always429.count() <= 2, `${always429.count()} requests`);
    } finally {
      await always429.close();
    }
    assert.equal(RETRY_AFTER_CAP_MS, 60_000);
  });

  it('a body cut off mid-way is retried (before: the error "terminated")', async () => {
    const flaky = await rawServer(async (_req, res, body, n) => {
      if (n === 0) {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '4000' });
        res.write('{"id":"cmpl-1","object":"text_completion","choices":[{"index":0,"text":"');
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      const r = await fetch(server.baseURL + '/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(await r.text());
    });
    try {
      writeLog(records(1));
      const s = await runScoring({ logFile: log, config: config(flaky.url), makeScorer: completionsScorerFactory() });
      assert.equal(s.failed, 0, JSON.stringify(s.errors));
      assert.equal(s.scored, 1);
      assert.equal(flaky.count(), 2);
    } finally {
      await flaky.close();
    }
  });

  it('an empty log exits 1 with one line (before: exit 0)', async () => {
    fs.writeFileSync(log, '');
    const r = await cje(['score', log, '--config', writeConfig(config(server.baseURL)), '--no-probe']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^cje score: .*log\.jsonl holds no records$/m);
  });

  it('cje report never writes over its input, bounds --bootstrap, and a kill -9 leaves the old report or the new one, whole', async function () {
    this.timeout(120000);
    writeLog(records(40));
    const cfg = writeConfig({ behavior: 'base', policies: { base: policy(server.baseURL), other: policy(server.baseURL, { model: 'toy-2' }) } });
    const s = await cje(['score', log, '--config', cfg, '--no-probe']);
    assert.equal(s.code, 0, s.stderr);
    const scores = path.join(dir, 'log.scores.jsonl');
    const before = fs.readFileSync(scores);
    for (const args of [['--out', scores], ['--json', scores], ['--out', log]]) {
      const r = await cje(['report', scores, ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /is an input of this report .*refusing to write over it/);
    }
    assert.deepEqual(fs.readFileSync(scores), before);
    const big = await cje(['report', scores, '--bootstrap', '1000000000']);
    assert.equal(big.code, 2);
    assert.match(big.stderr, /--bootstrap 1000000000: at most 100000 resamples/);

    const out = path.join(dir, 'r.html');
    const old = '<html>old report</html>\n';
    fs.writeFileSync(out, old);
    for (const delay of [30, 120, 250, 400, 700]) {
      const child = spawn(process.execPath, [CJE, 'report', scores, '--out', out, '--bootstrap', '2000'], { stdio: 'ignore' });
      const closed = new Promise((r) => child.once('close', r));
      await new Promise((r) => setTimeout(r, delay));
      child.kill('SIGKILL');
      await closed;
      const now = fs.readFileSync(out, 'utf8');
      assert.ok(now === old || now.endsWith('</html>\n') && now.includes('id="cje-data"'), `after a kill at ${delay} ms the report is neither the old one nor a whole new one (${now.length} bytes)`);
    }
    assert.deepEqual(fs.readFileSync(scores), before, 'the input is byte-identical');
  });

  it('the command line says when it waits out a capped Retry-After, and Ctrl-C ends that wait', async () => {
    const always429 = await rawServer((_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3600' });
      res.end(JSON.stringify({ error: { message: 'rate limited' } }));
    });
    try {
      const cfg = writeConfig(config(always429.url));
      const child = spawn(process.execPath, [CJE, 'score', log, '--config', cfg, '--no-probe'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      const closed = new Promise<number | null>((r) => child.once('close', r));
      await new Promise<void>((ok) =>
        child.stderr.on('data', (d) => {
          stderr += d;
          if (stderr.includes('(the cap) before retrying')) ok();
        }),
      );
      assert.match(stderr, /cje score: base: the server asked to wait 3600 s; waiting 60 s \(the cap\) before retrying/);
      child.kill('SIGINT');
      assert.equal(await closed, 1);
      assert.match(stderr, /cancelling — results already written are kept/);
    } finally {
      await always429.close();
    }
  });

  it('repeated ids and repeated records: every line is scored and reported (before: the report lost the behavior on 8 of 30)', async () => {
    const recs: object[] = records(20);
    // Ten lines reuse earlier ids with other content; five repeat earlier records exactly.
    for (let i = 0; i < 10; i++) recs.push({ prompt_id: `q${i}`, prompt: `Another question ${i}?`, response: `Another answer ${i}.` });
    for (let i = 0; i < 5; i++) recs.push(recs[i]);
    writeLog(recs);
    const cfg = writeConfig({ behavior: 'base', policies: { base: policy(server.baseURL), other: policy(server.baseURL, { model: 'toy-2' }) } });
    const s = await cje(['score', log, '--config', cfg, '--no-probe']);
    assert.equal(s.code, 0, s.stderr);
    assert.match(s.stdout, /5 record\(s\) repeat an earlier record's prompt and response/);
    const lines = scoreLines(path.join(dir, 'log.scores.jsonl'));
    assert.equal(lines.length, 35 * 2);
    const json = path.join(dir, 'r.json');
    const r = await cje(['report', path.join(dir, 'log.scores.jsonl'), '--json', json, '--quiet']);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    const data = JSON.parse(fs.readFileSync(json, 'utf8')) as { policies: { name: string; n: number }[] };
    assert.deepEqual(data.policies.map((p) => [p.name, p.n]), [['other', 35]]);
  });

  it('--out a folder: one clear line, exit 1; --out in a folder that does not exist yet: the folder is made', async () => {
    const cfg = writeConfig(config(server.baseURL));
    const folder = path.join(dir, 'a-folder');
    fs.mkdirSync(folder);
    const r = await cje(['score', log, '--config', cfg, '--out', folder, '--no-probe']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^cje score: cannot write .*a-folder: it is a folder, not a file \(give a file name\) \(EISDIR\)/m);
    const nested = path.join(dir, 'new', 'deeper', 's.jsonl');
    const ok = await cje(['score', log, '--config', cfg, '--out', nested, '--no-probe']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(scoreLines(nested).length, 6);
  });
});
