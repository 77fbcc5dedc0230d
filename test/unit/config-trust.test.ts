// What a config file is trusted with: prototype keys, duplicated keys, timeouts, and where a key may go.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../src/core/config';
import { lintConfig } from '../../src/core/lint';
import { resolveEndpoint, type SecretLookup } from '../../src/core/providers';
import type { PolicyConfig } from '../../src/core/types';

const POL = { provider: 'openai-compatible', baseURL: 'http://127.0.0.1:8000/v1', model: 'm', template: 'chatml' };
const lintCodes = (text: string, code: string) => lintConfig(text, 'inline.json', { tokenizers: false }).diagnostics.filter((d) => d.code === code);

describe('config: "__proto__" and friends are plain keys', () => {
  it('a "__proto__" object inside a policy cannot hide a baseURL from the schema', () => {
    const text = `{"behavior":"base","policies":{"base":{"provider":"openai-compatible","model":"m","template":"chatml","baseURL":"http://127.0.0.1:1/v1","__proto__":{"baseURL":"https://evil.invalid/v1","apiKeyEnv":"FIREWORKS_API_KEY"}}}}`;
    const r = parseConfig(text);
    assert.equal(r.config, null);
    assert.deepEqual(r.problems.map((p) => [p.path, p.message]), [['policies.base.__proto__', 'is not a known field']]);
  });

  it('a policy named "__proto__" is a policy like any other (validated, listed, usable as behavior)', () => {
    const bad = parseConfig(j({ behavior: 'base', policies: { base: POL } }).replace('"policies":{', '"policies":{"__proto__":{"provider":"nope"},'));
    assert.equal(bad.config, null);
    assert.ok(bad.problems.some((p) => p.path === 'policies.__proto__.provider'), JSON.stringify(bad.problems));
    const good = parseConfig(`{"behavior":"__proto__","policies":{"__proto__":${j(POL)},"constructor":${j(POL)},"prototype":${j(POL)}}}`);
    assert.deepEqual(good.problems, []);
    assert.deepEqual(Object.keys(good.config!.policies), ['__proto__', 'constructor', 'prototype']);
    assert.equal(Object.getPrototypeOf(good.config!.policies), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(good.config!.policies, '__proto__')!.value.model, 'm');
  });

  it('top level and templates: a "__proto__" key is reported, not silently merged', () => {
    const top = parseConfig(`{"behavior":"base","policies":{"base":${j(POL)}},"__proto__":{"logprobTolerance":-1}}`);
    assert.deepEqual(top.problems.map((p) => p.path), ['__proto__']);
    const tpl = parseConfig(`{"behavior":"base","policies":{"base":${j(POL)}},"templates":{"t":{"extends":"chatml","__proto__":{"bos":"<s>"}}}}`);
    assert.deepEqual(tpl.problems.map((p) => p.path), ['templates.t.__proto__']);
  });
});

describe('config: a key written twice', () => {
  const text = `{
  "behavior": "base",
  "policies": {
    "base": {"provider": "openai-compatible", "baseURL": "http://127.0.0.1:8000/v1", "model": "a", "template": "chatml"},
    "other": {"provider": "openai-compatible", "baseURL": "http://127.0.0.1:8000/v1", "model": "b", "template": "chatml"},
    "base": {"provider": "openai-compatible", "baseURL": "http://127.0.0.1:9000/v1", "model": "c", "template": "chatml"}
  }
}`;

  it('is refused by parseConfig, naming both lines', () => {
    const r = parseConfig(text);
    assert.equal(r.config, null);
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0].path, 'policies.base');
    assert.match(r.problems[0].message, /written twice in the same object \(lines 4 and 6\)/);
    assert.deepEqual([r.problems[0].line, r.problems[0].column], [6, 5]);
  });

  it('is linted as CJE002 on the second key', () => {
    const d = lintCodes(text, 'CJE002');
    assert.equal(d.length, 1);
    assert.equal(d[0].severity, 'error');
    assert.deepEqual([d[0].line, d[0].column], [6, 5]);
    assert.match(d[0].message, /^policies\.base is written twice/);
  });

  it('inside a policy too (two baseURLs)', () => {
    const r = parseConfig(`{"behavior":"base","policies":{"base":{"provider":"openai-compatible","baseURL":"http://127.0.0.1:1/v1","model":"m","template":"chatml","baseURL":"http://127.0.0.1:2/v1"}}}`);
    assert.deepEqual(r.problems.map((p) => p.path), ['policies.base.baseURL']);
  });
});

describe('config: timeoutMs is bounded', () => {
  for (const [v, okay] of [[600000, true], [600001, false], [1e12, false], [2 ** 31, false]] as const) {
    it(`timeoutMs ${v} is ${okay ? 'accepted' : 'refused (Node timers overflow above 2^31-1 ms)'}`, () => {
      const r = parseConfig(j({ behavior: 'base', policies: { base: { ...POL, timeoutMs: v } } }));
      if (okay) assert.deepEqual(r.problems, []);
      else assert.deepEqual(r.problems.map((p) => [p.path, p.message]), [['policies.base.timeoutMs', 'must be <= 600000']]);
    });
  }
});

describe('where a key may go', () => {
  /** A secret store that records which names were asked for. */
  function secrets(): { lookup: SecretLookup; asked: string[] } {
    const asked: string[] = [];
    return { asked, lookup: (name) => (asked.push(name), `sk-test-${name}`) };
  }
  const fw = (extra: Partial<PolicyConfig> = {}): PolicyConfig => ({ provider: 'fireworks', model: 'accounts/fireworks/models/x', template: 'llama3', ...extra });

  it('a fireworks policy pointed at another host does not get the Fireworks key, which is never even looked up', async () => {
    const s = secrets();
    await assert.rejects(resolveEndpoint(fw({ baseURL: 'https://evil.invalid/v1' }), s.lookup), /evil\.invalid, which is not Fireworks' own API.*"apiKeyEnv": "FIREWORKS_API_KEY"/s);
    await assert.rejects(resolveEndpoint(fw({ baseURL: 'https://api.fireworks.ai.evil.invalid/v1' }), s.lookup), /not Fireworks' own/);
    await assert.rejects(resolveEndpoint(fw({ baseURL: 'http://api.fireworks.ai/inference/v1' }), s.lookup), /not Fireworks' own/);
    assert.deepEqual(s.asked, []);
  });

  it("Fireworks' own host, or a host the policy names the key for (apiKeyEnv), gets it", async () => {
    const s = secrets();
    assert.equal((await resolveEndpoint(fw(), s.lookup)).apiKey, 'sk-test-FIREWORKS_API_KEY');
    assert.equal((await resolveEndpoint(fw({ baseURL: 'https://api.fireworks.ai/inference/v1' }), s.lookup)).apiKey, 'sk-test-FIREWORKS_API_KEY');
    const named = await resolveEndpoint(fw({ baseURL: 'https://proxy.example.invalid/v1', apiKeyEnv: 'FIREWORKS_API_KEY' }), s.lookup);
    assert.deepEqual([named.baseURL, named.apiKey], ['https://proxy.example.invalid/v1', 'sk-test-FIREWORKS_API_KEY']);
  });

  it('no key over plain http except to loopback; no key, no rule', async () => {
    const s = secrets();
    await assert.rejects(resolveEndpoint({ ...POL, baseURL: 'http://10.1.2.3:8000/v1', apiKeyEnv: 'VLLM_KEY' } as PolicyConfig, s.lookup), /plain http and the request carries the key in VLLM_KEY/);
    await assert.rejects(resolveEndpoint(fw({ baseURL: 'http://proxy.example.invalid/v1', apiKeyEnv: 'K' }), s.lookup), /plain http/);
    assert.deepEqual(s.asked, []);
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      assert.equal((await resolveEndpoint({ ...POL, baseURL: `http://${host}:8000/v1`, apiKeyEnv: 'VLLM_KEY' } as PolicyConfig, s.lookup)).apiKey, 'sk-test-VLLM_KEY');
    }
    assert.equal((await resolveEndpoint({ ...POL, baseURL: 'http://10.1.2.3:8000/v1' } as PolicyConfig, s.lookup)).apiKey, undefined);
  });

  it('lint says why: CJE052 for the foreign host, CJE053 for plain http, nothing for the safe ones (and no auto-fix that would hand the key over)', () => {
    const cfg = (policies: Record<string, unknown>) => j({ behavior: Object.keys(policies)[0], policies });
    const d52 = lintCodes(cfg({ base: fw({ baseURL: 'https://evil.invalid/v1' }) }), 'CJE052');
    assert.equal(d52.length, 1);
    assert.equal(d52[0].path, 'policies.base.baseURL');
    assert.equal(d52[0].fixes, undefined);
    assert.match(d52[0].message, /^policy "base": baseURL points at evil\.invalid/);
    const d53 = lintCodes(cfg({ base: { ...POL, baseURL: 'http://10.1.2.3:8000/v1', apiKeyEnv: 'VLLM_KEY' } }), 'CJE053');
    assert.equal(d53.length, 1);
    assert.equal(d53[0].path, 'policies.base.baseURL');
    for (const safe of [fw(), fw({ baseURL: 'https://x.invalid/v1', apiKeyEnv: 'FIREWORKS_API_KEY' }), { ...POL, apiKeyEnv: 'VLLM_KEY' }, { ...POL, baseURL: 'http://10.1.2.3/v1' }]) {
      const text = cfg({ base: safe });
      assert.deepEqual([...lintCodes(text, 'CJE052'), ...lintCodes(text, 'CJE053')], [], text);
    }
  });

  it('cje score with such a policy sends no request carrying the key to the loopback server it points at', async function () {
    this.timeout(30000);
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-trust-'));
    try {
      const port = (server.address() as { port: number }).port;
      fs.writeFileSync(path.join(dir, 'log.jsonl'), j({ prompt: 'a', response: 'b' }) + '\n');
      fs.writeFileSync(path.join(dir, 'cje.config.json'), j({ behavior: 'base', policies: { base: fw({ baseURL: `http://127.0.0.1:${port}/v1`, maxRetries: 0 }) } }));
      const key = 'sk-trust-test-1234567890';
      const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(process.execPath, [path.resolve(__dirname, '../../../bin/cje.js'), 'score', path.join(dir, 'log.jsonl'), '--config', path.join(dir, 'cje.config.json')], {
          env: { ...process.env, FIREWORKS_API_KEY: key },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (out += d));
        c.on('close', (code) => resolve({ code, out }));
      });
      assert.ok(!seen.some((a) => a?.includes(key)), `the key reached the server: ${seen.length} request(s)`);
      assert.notEqual(r.code, 0, r.out);
      assert.match(r.out, /not Fireworks' own API/);
      assert.ok(!r.out.includes(key));
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

function j(v: unknown): string {
  return JSON.stringify(v);
}
