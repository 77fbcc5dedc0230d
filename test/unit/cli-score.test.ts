import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startCompletionsServer, type CompletionsServer } from '../support/completions-server';

const CJE = path.resolve(__dirname, '../../../bin/cje.js');

interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function cje(args: string[], env: NodeJS.ProcessEnv = {}, onSpawn?: (kill: () => void) => void, cwd?: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CJE, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    onSpawn?.(() => child.kill('SIGKILL'));
  });
}

/** The score lines of a scores file (endpoint profiles and repeat lines carry a `kind`). */
function lines(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l && !l.startsWith('{"kind":'));
}

function profiles(file: string): { baseURL: string; model: string; policies: string[]; blockers: string[] }[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{"kind":"endpoint_profile"')).map((l) => JSON.parse(l));
}

describe('cje score (the command line, as a child process)', function () {
  this.timeout(60000);
  let server: CompletionsServer;
  let dir: string;
  let log: string;
  let cfg: string;

  beforeEach(async () => {
    server = await startCompletionsServer({ latencyMs: 25 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-cli-'));
    log = path.join(dir, 'log.jsonl');
    const recs = Array.from({ length: 60 }, (_, i) => JSON.stringify({ prompt_id: `q${i}`, prompt: `Question number ${i}: what is ${i} + ${i}?`, response: `It is ${2 * i}. 🙂` }));
    recs.splice(2, 0, '{"prompt": "no response here"}');
    fs.writeFileSync(log, recs.join('\n') + '\n');
    cfg = path.join(dir, 'cje.config.json');
    const pol = { provider: 'openai-compatible', baseURL: server.baseURL, model: 'toy', template: 'chatml', batchSize: 1, concurrency: 2 };
    fs.writeFileSync(cfg, `// test config\n${JSON.stringify({ behavior: 'base', policies: { base: pol, clone: pol, other: { ...pol, model: 'toy-2' } } }, null, 2)}\n`);
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('--dry-run sends nothing and writes nothing: records, requests and approximate tokens per policy group, resume counted', async () => {
    const before = server.requests.length;
    const r = await cje(['score', log, '--dry-run', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server.requests.length, before, 'no request reached the server');
    assert.equal(fs.existsSync(path.join(dir, 'log.scores.jsonl')), false, 'no scores file was created');
    const est = JSON.parse(r.stdout);
    assert.equal(est.records, 60);
    assert.equal(est.badLines, 1);
    assert.deepEqual(est.groups.map((g: { names: string[] }) => g.names), [['base', 'clone'], ['other']]);
    assert.deepEqual(est.groups.map((g: { toScore: number }) => g.toScore), [60, 60]);
    assert.ok(est.groups[0].approxTokens > 60 * 10, 'each flat prompt is more than ten tokens');
    assert.match(est.approximate, /estimates by o200k_base/);
    // After a real run everything is done, and the estimate says so.
    assert.equal((await cje(['score', log, '--quiet'])).code, 1, 'the bad line makes the run exit 1');
    const again = await cje(['score', log, '--dry-run']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /dry run: nothing sent, nothing written/);
    assert.match(again.stdout, /base, clone .* 0 +60 /);
    assert.match(again.stdout, /token counts are estimates/);
  });

  it('prints the summary table, reports the bad line by number, exits 1 because of it', async () => {
    const r = await cje(['score', log, '--config', cfg]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /log\.jsonl:3: response missing/);
    assert.match(r.stdout, /records 60 · scored 120 .* reused 60 .* failed 0 · bad lines 1/);
    assert.match(r.stdout, /^clone\s+target\s+= base\s+60\s+0\s+\S+\s+1\.000$/m);
    assert.equal(lines(path.join(dir, 'log.scores.jsonl')).length, 180);
    // The cheap probes ran once per endpoint (two models) before their first request, and their profiles are kept.
    assert.deepEqual(profiles(path.join(dir, 'log.scores.jsonl')).map((p) => [p.model, p.policies.join(',')]), [['toy', 'base,clone'], ['toy-2', 'other']]);
  });

  it('survives kill -9 mid-run: a rerun resumes, rescoring nothing already written and losing nothing', async () => {
    const out = path.join(dir, 'log.scores.jsonl');
    const killed = await cje(['score', log, '--config', cfg], {}, (kill) => {
      const poll = setInterval(() => {
        if (fs.existsSync(out) && lines(out).length >= 30) {
          clearInterval(poll);
          kill();
        }
      }, 5);
    });
    assert.equal(killed.signal, 'SIGKILL');
    const before = fs.readFileSync(out, 'utf8');
    const complete = before.slice(0, before.lastIndexOf('\n') + 1).split('\n').filter((l) => l && !l.startsWith('{"kind":'));
    assert.ok(complete.length >= 30 && complete.length < 180, `${complete.length} lines written before the kill`);
    for (const l of complete) JSON.parse(l);
    const requestsBefore = server.requests.length;

    const resumed = await cje(['score', log, '--config', cfg]);
    assert.equal(resumed.code, 1, resumed.stderr); // the one bad line
    const after = lines(out);
    assert.equal(after.length, 180);
    // Everything written before the kill is still there, unchanged, at the start of the file.
    assert.deepEqual(after.slice(0, complete.length), complete);
    const keys = after.map((l) => JSON.parse(l)).map((l) => `${l.key}/${l.policy}`);
    assert.equal(new Set(keys).size, 180);
    // Only what was missing was sent again: at most 2 fingerprints × 60 records in both runs together, plus in-flight ones.
    const doneBefore = new Set(complete.map((l) => JSON.parse(l)).filter((l) => l.policy !== 'clone').map((l) => l.key)).size;
    // Probe requests (the endpoint is asked again on resume) carry none of the log's prompts.
    const fromLog = (r: (typeof server.requests)[number]) => JSON.stringify((r.body as { prompt?: unknown } | undefined)?.prompt ?? '').includes('Question number');
    const sentAfter = server.requests.slice(requestsBefore).filter(fromLog).length;
    assert.ok(sentAfter <= 120 - doneBefore, `sent ${sentAfter} prompts after resume, ${doneBefore} were done`);
  });

  it('rejects a bad config with file:line:col and the field path, exit 2', async () => {
    fs.writeFileSync(cfg, '{\n  "behavior": "base",\n  "policies": {\n    "base": {"provider": "anthropic", "model": "claude", "template": "chatml"}\n  }\n}\n');
    const r = await cje(['score', log, '--config', cfg]);
    assert.equal(r.code, 2);
    const col = '    "base": {"provider": '.length + 1;
    assert.match(r.stderr, new RegExp(`cje\\.config\\.json:4:${col}: policies\\.base\\.provider Anthropic is a chat API`));
    assert.match(r.stderr, /openai-compatible/);
  });

  it('finds the config in a folder above the log, up to the working folder, when --config is not given', async () => {
    const sub = path.join(dir, 'logs', 'today');
    fs.mkdirSync(sub, { recursive: true });
    const nested = path.join(sub, 'log.jsonl');
    fs.copyFileSync(log, nested);
    const r = await cje(['score', nested], {}, undefined, dir);
    assert.match(r.stdout, /records 60 · scored 120/, r.stderr);
    assert.ok(fs.existsSync(path.join(sub, 'log.scores.jsonl')));
    // Outside any folder with a config, it says so.
    const lone = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-lone-'));
    try {
      fs.copyFileSync(log, path.join(lone, 'log.jsonl'));
      const none = await cje(['score', path.join(lone, 'log.jsonl')], {}, undefined, lone);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /no --config given and no cje\.config\.json/);
    } finally {
      fs.rmSync(lone, { recursive: true, force: true });
    }
  });

  it('exits 2 on bad usage', async () => {
    const r = await cje(['score']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /exactly one LOG/);
  });

  it('sends the key named by apiKeyEnv and never prints or stores it', async () => {
    const secret = 'sk-test-' + 'Zq9'.repeat(8);
    const keyed = await startCompletionsServer({ requireApiKey: secret });
    try {
      const pol = { provider: 'openai-compatible', baseURL: keyed.baseURL, model: 'toy', template: 'chatml', apiKeyEnv: 'CJE_TEST_KEY', maxRetries: 0 };
      fs.writeFileSync(cfg, JSON.stringify({ behavior: 'base', policies: { base: pol } }));
      const ok = await cje(['score', log, '--config', cfg, '--out', path.join(dir, 'ok.jsonl')], { CJE_TEST_KEY: secret });
      assert.match(ok.stdout, /scored 60/);
      const bad = await cje(['score', log, '--config', cfg, '--out', path.join(dir, 'bad.jsonl')], { CJE_TEST_KEY: secret.replace('Zq9', 'XXX') });
      // A refused key is found by the probe before the log is sent: the run stops with the server's answer, and only the profile is written.
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /cannot score base:\n  the echo request failed: HTTP 401/);
      assert.equal(lines(path.join(dir, 'bad.jsonl')).length, 0);
      assert.match(profiles(path.join(dir, 'bad.jsonl'))[0].blockers.join(), /HTTP 401/);
      for (const text of [ok.stdout, ok.stderr, bad.stdout, bad.stderr, fs.readFileSync(path.join(dir, 'ok.jsonl'), 'utf8'), fs.readFileSync(path.join(dir, 'bad.jsonl'), 'utf8')]) {
        assert.ok(!text.includes('Zq9Zq9') && !text.includes('XXXZq9'), 'the key leaked');
      }
      assert.ok(keyed.requests.every((r) => r.path !== '/v1/completions' || r.headers.authorization === 'present'));
    } finally {
      await keyed.close();
    }
  });

  it('sends no Authorization header to a server that needs no key', async () => {
    await cje(['score', log, '--config', cfg]);
    const posts = server.requests.filter((r) => r.path === '/v1/completions');
    assert.ok(posts.length > 0);
    assert.ok(posts.every((r) => r.headers.authorization === 'absent'));
  });
});
