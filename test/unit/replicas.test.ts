import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseConfig } from '../../src/core/config';
import { keyTrustProblem, resolveEndpoint } from '../../src/core/providers';
import { policyFingerprint } from '../../src/core/fingerprint';
import { policyTemplate } from '../../src/core/policy-template';
import { runScoring } from '../../src/core/score-run';
import type { CjeConfig, PolicyConfig } from '../../src/core/types';
import { CompletionsScorer } from '../../src/scorers/completions';
import { completionsScorerFactory } from '../../src/scorers/make-scorer';
import { ReplicaPool } from '../../src/scorers/replicas';
import { runDoctor } from '../../src/doctor';
import { startTgi, startVllm } from '../support/emulations';
import { TgiScorer } from '../../src/scorers/tgi';
import * as net from 'node:net';
import { startLoadServer, type LoadServer } from '../support/load-server';
import { drive, rendered } from '../support/drive-scorer';

describe('replica pool (least outstanding work, marked down with doubling time-outs)', () => {
  it('sends each request to the replica with the least work outstanding, ties to the one that served least', () => {
    const pool = new ReplicaPool([{ url: 'a', client: 0 }, { url: 'b', client: 1 }, { url: 'c', client: 2 }], { now: () => 0 });
    // By hand: all idle → a (list order); then b, c; a has 10, b 5, c 1 → c; then c has 2 → b (5 < 10)…
    const w = [10, 5, 1, 1, 3];
    const picks = w.map((x) => pool.pick(x).url);
    assert.deepEqual(picks, ['a', 'b', 'c', 'c', 'c']);
    // Outstanding now: a 10, b 5, c 1+1+3 = 5. b and c tie at 5, neither served: b (list order).
    assert.equal(pool.pick(1).url, 'b');
    pool.release(pool.replicas[0], 10);
    assert.equal(pool.pick(1).url, 'a');
  });

  it('a failed replica is skipped 1 s, then 2 s, 4 s … up to the cap, and is back after one success', () => {
    let t = 0;
    const pool = new ReplicaPool([{ url: 'a', client: 0 }, { url: 'b', client: 1 }], { now: () => t, maxDownMs: 4000 });
    const a = pool.replicas[0];
    const downFor: number[] = [];
    for (let k = 0; k < 4; k++) {
      pool.failed(a);
      downFor.push(a.downUntil - t);
      assert.equal(pool.pick(0).url, 'b', 'a down: b gets the request');
      t = a.downUntil;
      assert.equal(pool.pick(0).url, 'a', 'time out over: a is tried again (b has more outstanding now)');
      pool.release(a, 0);
    }
    assert.deepEqual(downFor, [1000, 2000, 4000, 4000]);
    pool.succeeded(a);
    assert.equal(a.failures, 0);
    // Every replica down: the one that comes back first is asked (a probe).
    pool.failed(a);
    pool.failed(pool.replicas[1]);
    pool.failed(pool.replicas[1]);
    assert.equal(pool.pick(0).url, 'a');
  });
});

describe('replicas against real loopback servers', function () {
  this.timeout(60_000);
  const servers: LoadServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  const start = async (o: Parameters<typeof startLoadServer>[0]) => {
    const s = await startLoadServer(o);
    servers.push(s);
    return s;
  };

  it('spreads by outstanding work: a replica twelve times slower gets fewer requests, and the numbers are those of one server', async () => {
    const fast = await start({ latencyMs: 5 });
    const slow = await start({ latencyMs: 60 });
    const alone = await start({});
    const both = new CompletionsScorer({ baseURL: [slow.baseURL, fast.baseURL], model: 'toy', batchSize: 1, concurrency: 2, adaptive: false });
    assert.equal(both.maxInFlight, 4);
    const res = await drive(both, 60);
    const ref = await drive(new CompletionsScorer({ baseURL: alone.baseURL, model: 'toy', batchSize: 1, concurrency: 4 }), 60);
    assert.ok(res.every((r) => r.ok), JSON.stringify(res.find((r) => !r.ok)));
    assert.deepEqual(res.map((r) => r.ok && r.value.logprob), ref.map((r) => r.ok && r.value.logprob));
    assert.equal(fast.counters.served + slow.counters.served, 60);
    // With 4 in flight over both, the fast one frees its slots far more often (twelve times on an idle machine).
    assert.ok(fast.counters.served > slow.counters.served * 1.5, `fast ${fast.counters.served}, slow ${slow.counters.served}`);
    assert.ok(slow.counters.served >= 5, `the slow replica still works: ${slow.counters.served}`);
  });

  for (const fail of ['503', 'drop'] as const) {
    it(`a replica that ${fail === '503' ? 'answers 503' : 'closes every connection'} is retried elsewhere and marked down (maxRetries 0: no retry is spent on it)`, async () => {
      const bad = await start({ fail });
      const good = await start({ latencyMs: 5 });
      const said: string[] = [];
      const scorer = new CompletionsScorer({ baseURL: [bad.baseURL, good.baseURL], model: 'toy', batchSize: 1, concurrency: 2, maxRetries: 0, onWait: (m) => said.push(m) });
      const res = await drive(scorer, 40);
      // Said once, with the replica and why; never the key.
      assert.equal(said.filter((m) => m.startsWith(`replica ${bad.baseURL} failed`)).length, 1, said.join('\n'));
      assert.match(said[0], fail === '503' ? /HTTP 503/ : /./);
      assert.ok(res.every((r) => r.ok), JSON.stringify(res.find((r) => !r.ok)));
      assert.equal(good.counters.served, 40);
      // Down 1 s after its first failure: only the requests in flight when it failed, and maybe one probe later, went there.
      assert.ok(bad.counters.requests >= 1 && bad.counters.requests <= 6, `${bad.counters.requests} requests to the failing replica`);
      const [b] = scorer.replicaStats;
      assert.equal(b.served, 0);
    });
  }

  it('every replica failing: the batch fails with the server\'s error after the retries', async () => {
    const a = await start({ fail: '503' });
    const b = await start({ fail: '503' });
    const scorer = new CompletionsScorer({ baseURL: [a.baseURL, b.baseURL], model: 'toy', batchSize: 1, concurrency: 1, maxRetries: 1 });
    const [r] = await scorer.scoreBatch([{ rendered: rendered(1) }]);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /HTTP 503/);
    // One failover (a → b) and one retry: three requests in all.
    assert.equal(a.counters.requests + b.counters.requests, 3);
  });

  it('TGI replicas: a replica that refuses connections is skipped, the other scores, with the numbers of one server', async () => {
    const tgi = await startTgi({ prefillLogprobs: true });
    // A port nobody listens on: connections are refused.
    const dead = await new Promise<string>((ok) => {
      const srv = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as net.AddressInfo).port;
        srv.close(() => ok(`http://127.0.0.1:${port}`));
      });
    });
    try {
      const both = new TgiScorer({ baseURL: [dead, tgi.url], maxRetries: 0 });
      const alone = new TgiScorer({ baseURL: tgi.url, maxRetries: 0 });
      const reqs = [1, 2, 3, 4].map((i) => ({ rendered: rendered(i) }));
      const a = await both.scoreBatch(reqs);
      const b = await alone.scoreBatch(reqs);
      assert.ok(a.every((r) => r.ok), JSON.stringify(a.find((r) => !r.ok)));
      assert.deepEqual(a.map((r) => r.ok && r.value.logprob), b.map((r) => r.ok && r.value.logprob));
    } finally {
      await tgi.close();
    }
  });

  it('cje doctor probes every replica of a list, each in its own profile: a replica that answers 503 is named', async () => {
    const good = await startVllm({ chat: 'llama3' });
    const bad = await start({ fail: '503' });
    try {
      const r = await runDoctor({ behavior: 'base', policies: { base: { provider: 'openai-compatible', baseURL: [good.url, bad.baseURL], model: 'toy-model', template: 'llama3' } } }, { full: false });
      assert.deepEqual(r.endpoints.map((e) => e.baseURL), [good.url, bad.baseURL]);
      assert.deepEqual(r.endpoints[0].blockers, []);
      assert.match(r.endpoints[1].blockers.join(' '), /503/);
    } finally {
      await good.close();
    }
  });

  it('through runScoring: a baseURL list scores every record; a replica added later keeps the fingerprint, so the rerun resumes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-replicas-'));
    try {
      const log = path.join(dir, 'log.jsonl');
      fs.writeFileSync(log, Array.from({ length: 30 }, (_, i) => JSON.stringify({ prompt_id: `q${i}`, prompt: `Question ${i}?`, response: `Answer ${i}.` })).join('\n') + '\n');
      const one = await start({ latencyMs: 2 });
      const two = await start({ latencyMs: 2, fail: 'drop' });
      const policy = (baseURL: string | string[]): PolicyConfig => ({ provider: 'openai-compatible', baseURL, model: 'toy', template: 'chatml', batchSize: 2, concurrency: 2 });
      const first: CjeConfig = { behavior: 'base', policies: { base: policy(one.baseURL) } };
      // The log under one replica…
      const s1 = await runScoring({ logFile: log, config: first, makeScorer: completionsScorerFactory() });
      assert.equal(s1.scored, 30);
      // …then a second replica (down, closing connections) and a third one up: nothing is rescored.
      const three = await start({ latencyMs: 2 });
      const second: CjeConfig = { behavior: 'base', policies: { base: policy([one.baseURL, two.baseURL, three.baseURL]) } };
      const s2 = await runScoring({ logFile: log, config: second, makeScorer: completionsScorerFactory() });
      assert.equal(s2.policies[0].fingerprint, s1.policies[0].fingerprint);
      assert.equal(s2.skipped, 30);
      assert.equal(s2.scored, 0);
      fs.appendFileSync(log, Array.from({ length: 20 }, (_, i) => JSON.stringify({ prompt_id: `r${i}`, prompt: `More ${i}?`, response: `Yes ${i}.` })).join('\n') + '\n');
      const s3 = await runScoring({ logFile: log, config: second, makeScorer: completionsScorerFactory() });
      assert.equal(s3.skipped, 30);
      assert.equal(s3.scored, 20);
      assert.equal(s3.failed, 0, JSON.stringify(s3.errors));
      assert.ok(three.counters.served > 0, 'the new replica took part');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('baseURL lists in the config and the fingerprint', () => {
  const cfg = (baseURL: unknown) =>
    JSON.stringify({ behavior: 'b', policies: { b: { provider: 'openai-compatible', model: 'm', template: 'chatml', baseURL } } }, null, 2);

  it('accepts a string or a non-empty list of distinct URLs; each problem names the field (and the entry)', () => {
    assert.deepEqual(parseConfig(cfg(['http://h1:8000/v1', 'http://h2:8000/v1'])).problems, []);
    assert.deepEqual(parseConfig(cfg('http://h1:8000/v1')).problems, []);
    const cases: [unknown, string, RegExp][] = [
      [[], 'policies.b.baseURL', /empty list/],
      [['http://h1/v1', 'ftp://h2/v1'], 'policies.b.baseURL[1]', /must start with http:\/\/ or https:\/\//],
      [['http://h1/v1', 'http://h1/v1/'], 'policies.b.baseURL[1]', /repeats entry 0/],
      [['http://h1/v1', 7], 'policies.b.baseURL[1]', /must be a URL string, got number/],
      [42, 'policies.b.baseURL', /a URL \(a string\) or a non-empty list/],
      ['h1:8000', 'policies.b.baseURL', /must start with http/],
    ];
    for (const [v, where, why] of cases) {
      const { config, problems } = parseConfig(cfg(v));
      assert.equal(config, null);
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0].path, where);
      assert.match(problems[0].message, why);
      assert.ok(problems[0].line, 'placed on a line');
    }
  });

  it('the key goes to every replica, so every one must be trusted with it: the problem names the entry', async () => {
    const p: PolicyConfig = { provider: 'openai-compatible', model: 'm', template: 'chatml', apiKeyEnv: 'CJE_TEST_KEY', baseURL: ['https://a.example/v1', 'http://b.example/v1'] };
    const why = keyTrustProblem(p);
    assert.equal(why?.code, 'plain-http');
    assert.equal(why?.index, 1);
    await assert.rejects(resolveEndpoint(p, () => 'sk-secret'), /plain http/);
    const ok = await resolveEndpoint({ ...p, baseURL: ['https://a.example/v1', 'http://127.0.0.1:8000/v1'] }, () => 'sk-secret');
    assert.deepEqual(ok.baseURLs, ['https://a.example/v1', 'http://127.0.0.1:8000/v1']);
    assert.equal(ok.baseURL, 'https://a.example/v1');
  });

  it('a list fingerprints as its first entry: adding replicas after it keeps the fingerprint, another first one changes it', () => {
    const base: PolicyConfig = { provider: 'openai-compatible', model: 'm', template: 'chatml', baseURL: 'http://h1:8000/v1' };
    const config: CjeConfig = { behavior: 'x', policies: { x: base } };
    const fp = (baseURL: string | string[]) => policyFingerprint({ ...base, baseURL }, policyTemplate({ ...base, baseURL }, config));
    const one = fp('http://h1:8000/v1');
    assert.equal(fp(['http://h1:8000/v1']), one);
    assert.equal(fp(['http://h1:8000/v1', 'http://h2:8000/v1']), one);
    assert.equal(fp(['http://h1:8000/v1', 'http://h3:8000/v1', 'http://h2:8000/v1']), one);
    assert.notEqual(fp(['http://h2:8000/v1', 'http://h1:8000/v1']), one);
    assert.notEqual(fp('http://h2:8000/v1'), one);
  });
});
