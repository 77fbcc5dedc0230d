import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { EndpointBlockedError } from '../../src/core/endpoint-profile';
import { runScoring } from '../../src/core/score-run';
import type { CjeConfig, ScoreLine } from '../../src/core/types';
import { cheapProbes } from '../../src/doctor/before-scoring';
import { completionsScorerFactory } from '../../src/scorers/make-scorer';
import { startFireworks, startLlamaCpp, startNoisy, startTgi, startTogether, startVllm, type EmulationServer } from '../support/emulations';

const RECORDS = [
  { prompt_id: 'r1', prompt: 'What is machine learning?', response: 'Learning from data, mostly.' },
  { prompt_id: 'r2', prompt: 'Dis bonjour.', response: 'Bonjour ! Ça va très bien 😀 merci.' },
  { prompt_id: 'r3', prompt: 'Count to three.', response: 'One, two, three.' },
  { prompt_id: 'r4', prompt: 'Name a colour.', response: 'Blue.' },
];

describe('scoring through each server that can teacher-force, and stopping at those that cannot', function () {
  this.timeout(60000);
  let dir: string;
  let log: string;
  const started: EmulationServer[] = [];
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-emu-'));
    log = path.join(dir, 'log.jsonl');
    fs.writeFileSync(log, RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  });
  afterEach(async () => {
    while (started.length) await started.pop()!.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function score(s: EmulationServer, name: string, provider: 'openai-compatible' | 'tgi' = 'openai-compatible') {
    started.push(s);
    const cfg: CjeConfig = { behavior: 'base', policies: { base: { provider, baseURL: s.url, model: 'toy-model', template: 'chatml', batchSize: 4 } } };
    const out = path.join(dir, `${name}.scores.jsonl`);
    const summary = await runScoring({ logFile: log, outFile: out, config: cfg, makeScorer: completionsScorerFactory(), probe: cheapProbes() });
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    return { summary, scores: lines.filter((l) => !l.kind) as ScoreLine[], profile: lines.find((l) => l.kind === 'endpoint_profile') };
  }

  it('vLLM, Fireworks, Together and TGI give the same scores through four wire formats (offsets or none, choices, the prompt field, prefill details)', async () => {
    const v = await score(await startVllm({ chat: 'chatml' }), 'vllm');
    const f = await score(await startFireworks({ chat: 'chatml' }), 'fireworks');
    const t = await score(await startTogether({ chat: 'chatml' }), 'together');
    const g = await score(await startTgi({ chat: 'chatml', prefillLogprobs: true }), 'tgi', 'tgi');
    for (const r of [v, f, t, g]) {
      assert.equal(r.summary.failed, 0, JSON.stringify(r.summary.errors));
      assert.equal(r.scores.length, RECORDS.length);
      assert.deepEqual(r.profile.blockers, []);
    }
    for (const rec of RECORDS) {
      const [a, b, c, d] = [v, f, t, g].map((r) => r.scores.find((l) => l.record === rec.prompt_id)!);
      // The emulations share one toy model (checked against an independent reference in emulations.test.ts).
      assert.equal(b.logprob, a.logprob, `${rec.prompt_id}: Fireworks`);
      assert.equal(c.logprob, a.logprob, `${rec.prompt_id}: Together`);
      assert.deepEqual(c.tokens, a.tokens);
      assert.equal(d.logprob, a.logprob, `${rec.prompt_id}: TGI /generate`);
    }
    assert.equal(t.profile.probes.offsetUnit, 'absent');
  });

  it('a server that refuses max_tokens 0: scored with max_tokens 1, the generated token cut (an EOS the text leaves out too), the same numbers', async () => {
    const v = await startVllm({ chat: 'chatml' });
    const direct = await score(v, 'direct');
    // In front of the same vLLM emulation: refuses max_tokens 0 as TGI-like servers do, passes everything else on.
    const proxy = http.createServer(async (req, res) => {
      let body = '';
      for await (const c of req) body += c;
      const j = JSON.parse(body);
      if (j.max_tokens === 0) {
        res.writeHead(422, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'Input validation error: `max_new_tokens` must be strictly positive' }));
        return;
      }
      const r = await fetch(v.url + '/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const answer = (await r.json()) as { choices?: { text?: string; logprobs?: { tokens?: string[] } }[] };
      // As vLLM does when the one generated token is EOS: the text leaves it out, the logprobs keep it.
      for (const c of answer.choices ?? []) {
        if (typeof j.prompt !== 'string' || !c.logprobs?.tokens) continue;
        c.text = j.prompt;
        const toks = c.logprobs.tokens;
        toks[toks.length - 1] = '</s>';
      }
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    try {
      const port = (proxy.address() as { port: number }).port;
      const viaProxy = await score({ url: `http://127.0.0.1:${port}/v1`, close: async () => {}, requests: () => 0, log: [] }, 'proxy');
      assert.equal(viaProxy.profile.probes.maxTokens, 1);
      assert.equal(viaProxy.summary.failed, 0, JSON.stringify(viaProxy.summary.errors));
      for (const l of viaProxy.scores) assert.equal(l.logprob, direct.scores.find((d) => d.record === l.record)!.logprob, l.record);
      const sent = v.log.filter((r) => JSON.stringify(r.body ?? '').includes('Count to three'));
      assert.ok(sent.length >= 2 && sent.some((r) => (r.body as { max_tokens: number }).max_tokens === 1));
    } finally {
      proxy.close();
    }
  });

  it('a nondeterministic server: the profile carries its noise floor, and the summary uses it', async () => {
    const r = await score(await startNoisy({ level: 0.4, seed: 3, chat: 'chatml' }), 'noisy');
    assert.equal(r.profile.probes.deterministic, false);
    assert.ok(r.profile.probes.noiseFloor > 0);
    const base = r.summary.policies.find((p) => p.name === 'base')!;
    assert.deepEqual(base.noiseFloor, { nats: r.profile.probes.noiseFloor, source: 'probe' });
  });

  for (const [name, start] of [
    ['llama.cpp', () => startLlamaCpp({})],
    ['TGI without --enable-prefill-logprobs', () => startTgi({})],
  ] as const) {
    it(`${name}: the run stops before sending the log, with the blocker, and keeps the profile`, async () => {
      const s = await start();
      started.push(s);
      const cfg: CjeConfig = { behavior: 'base', policies: { base: { provider: 'openai-compatible', baseURL: s.url, model: 'toy-model', template: 'chatml' } } };
      const out = path.join(dir, 'blocked.scores.jsonl');
      await assert.rejects(runScoring({ logFile: log, outFile: out, config: cfg, makeScorer: completionsScorerFactory(), probe: cheapProbes() }), (e: unknown) => {
        assert.ok(e instanceof EndpointBlockedError);
        assert.match((e as Error).message, /cannot teacher-force/);
        return true;
      });
      const sent = s.log.filter((r) => JSON.stringify(r.body ?? '').includes('machine learning'));
      assert.equal(sent.length, 0, 'no record of the log was sent');
      const lines = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(lines.map((l) => l.kind), ['endpoint_profile']);
    });
  }
});
