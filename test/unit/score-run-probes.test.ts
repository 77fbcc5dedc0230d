import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EndpointBlockedError, emptyVerdicts, type EndpointProfile, type RepeatLine } from '../../src/core/endpoint-profile';
import { runScoring, type ProbeRequest } from '../../src/core/score-run';
import { ScoreStore } from '../../src/core/score-store';
import type { CjeConfig, PolicyConfig } from '../../src/core/types';
import { CompletionsScorer } from '../../src/scorers/completions';
import { startCompletionsServer, type CompletionsServer } from '../support/completions-server';
import { readScoresFile } from '../support/scores-file';

const RECORDS = [
  { prompt_id: 'a', prompt: 'What is machine learning?', response: 'Learning from data.', target_policy_logprobs: { clone: -1 }, base_policy_logprob: -1.02 },
  { prompt_id: 'b', prompt: 'Count to three.', response: 'One, two, three.', target_policy_logprobs: { clone: -2 }, base_policy_logprob: -2.5 },
  { prompt_id: 'c', prompt: 'Say hi.', response: 'Hi!', target_policy_logprobs: { clone: -3 }, base_policy_logprob: -3 },
  { prompt_id: 'd', prompt: 'Name a colour.', response: 'Blue.', target_policy_logprobs: { clone: -4 }, base_policy_logprob: -4.005 },
];

function profile(names: string[], over: Partial<EndpointProfile> = {}): EndpointProfile {
  return {
    kind: 'endpoint_profile',
    version: 1,
    provider: 'openai-compatible',
    baseURL: 'http://127.0.0.1:1/v1',
    model: 'toy-8b',
    policies: names,
    measured_at: '2026-12-01T00:00:00.000Z',
    probes: { ...emptyVerdicts(), noiseFloor: 0.03 },
    reasons: {},
    blockers: [],
    warnings: [],
    ...over,
  };
}

describe('runScoring: probes before the first request, --repeat, and no backend when nothing is left', function () {
  let server: CompletionsServer;
  let dir: string;
  let log: string;
  /** Request number of every answer that carried a prompt (by prompt text). */
  let answeredBy: Map<string, number[]>;
  const EPS = 0.001;
  let drifting = true;

  beforeEach(async () => {
    drifting = true;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-probe-'));
    log = path.join(dir, 'log.jsonl');
    fs.writeFileSync(log, RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n');
    answeredBy = new Map();
    let n = 0;
    server = await startCompletionsServer({
      // A nondeterministic server whose drift is known exactly: answer number r lowers the last token by r·EPS.
      transform: (answer, prompts) => {
        n++;
        if (!drifting) return answer;
        answer.choices.forEach((c, i) => {
          const lps = c.logprobs!.token_logprobs;
          lps[lps.length - 1] = lps[lps.length - 1]! - n * EPS;
          const list = answeredBy.get(prompts[i]) ?? [];
          list.push(n);
          answeredBy.set(prompts[i], list);
        });
        return answer;
      },
    });
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const policy = (extra: Partial<PolicyConfig> = {}): PolicyConfig => ({ provider: 'openai-compatible', baseURL: server.baseURL, model: 'toy-8b', template: 'llama3', batchSize: 2, ...extra });
  const config = (): CjeConfig => ({ behavior: 'base', policies: { base: policy(), clone: policy() } });
  let made = 0;
  const makeScorer = async (p: PolicyConfig) => {
    made++;
    return new CompletionsScorer({ baseURL: p.baseURL!, model: p.model, batchSize: p.batchSize ?? 2, maxRetries: 0, timeoutMs: 5000 });
  };

  it('makes no backend and asks no probe when every record is already scored', async () => {
    made = 0;
    let probed = 0;
    const probe = async (r: ProbeRequest) => (probed++, profile(r.policies.map((p) => p.name)));
    await runScoring({ logFile: log, config: config(), makeScorer, probe });
    assert.equal(made, 1);
    assert.equal(probed, 1);
    const before = server.requests.length;
    const again = await runScoring({ logFile: log, config: config(), makeScorer, probe });
    assert.equal(made, 1, 'the rerun made a backend it did not need');
    assert.equal(probed, 1);
    assert.equal(server.requests.length, before);
    assert.equal(again.skipped, RECORDS.length * 2);
  });

  it('stops on a blocker before sending the log, and keeps the profile in the scores file', async () => {
    const seen: ProbeRequest[] = [];
    const probe = async (r: ProbeRequest) => (seen.push(r), profile(r.policies.map((p) => p.name), { blockers: ['the server answers without the prompt log-probs'] }));
    await assert.rejects(runScoring({ logFile: log, config: config(), makeScorer, probe }), (e: unknown) => {
      assert.ok(e instanceof EndpointBlockedError);
      assert.match((e as Error).message, /cannot score policy base, clone: the server answers without the prompt log-probs/);
      return true;
    });
    assert.deepEqual(seen[0].policies.map((p) => p.name), ['base', 'clone']);
    assert.equal(server.requests.filter((r) => r.path === '/v1/completions').length, 0);
    const lines = readScoresFile(path.join(dir, 'log.scores.jsonl'));
    assert.equal(lines.length, 1);
    assert.equal(lines[0].kind, 'endpoint_profile');
    // The profile line is neither a result nor a corrupt line for resume.
    const { store, report } = await ScoreStore.open(path.join(dir, 'log.scores.jsonl'));
    store.close();
    assert.deepEqual({ results: report.results, corrupt: report.corrupt.length, profiles: store.profiles.length }, { results: 0, corrupt: 0, profiles: 1 });
  });

  it('--repeat K scores a sample K more times and measures the spread the server really has', async () => {
    const s = await runScoring({ logFile: log, config: config(), makeScorer, repeat: { k: 2, sample: 3 } });
    const lines = readScoresFile(s.outFile);
    const repeats = lines.filter((l) => l.kind === 'repeat') as RepeatLine[];
    assert.equal(repeats.length, 3);
    let max = 0;
    for (const r of repeats) {
      assert.equal(r.policy, 'base');
      assert.equal(r.logprobs.length, 3, 'the first score and K = 2 more');
      // Each scoring of a prompt got the drift of the answer that carried it: spread = EPS × (last − first answer number).
      const rec = RECORDS.find((x) => x.prompt_id === r.record)!;
      const prompt = [...answeredBy.keys()].find((p) => p.includes(rec.prompt) && p.includes(rec.response))!;
      const nums = answeredBy.get(prompt)!;
      assert.equal(nums.length, 3);
      const expected = EPS * (Math.max(...nums) - Math.min(...nums));
      const spread = Math.max(...r.logprobs) - Math.min(...r.logprobs);
      assert.ok(Math.abs(spread - expected) < 1e-9, `${r.record}: spread ${spread}, expected ${expected}`);
      max = Math.max(max, expected);
    }
    const clone = s.policies.find((p) => p.name === 'clone')!;
    assert.equal(clone.noiseFloor?.source, 'repeat');
    assert.ok(Math.abs(clone.noiseFloor!.nats - max) < 1e-9);
    // Logged clone vs behavior differ on a (0.02), b (0.5) and d (0.005): those within the floor are counted.
    const within = [0.02, 0.5, 0.005].filter((d) => d <= max).length;
    assert.equal(clone.loggedIdentical?.differ, 3);
    assert.equal(clone.loggedIdentical?.withinFloor ?? 0, within);
    // A resumed run measures nothing again.
    const before = server.requests.length;
    await runScoring({ logFile: log, config: config(), makeScorer, repeat: { k: 2, sample: 3 } });
    assert.equal(server.requests.length, before);
  });

  it('keeps the top alternatives per token when a policy asks for more than one', async () => {
    drifting = false;
    const cfg: CjeConfig = { behavior: 'base', policies: { base: policy({ topLogprobs: 3 }), other: policy({ model: 'toy-2' }) } };
    const mk = async (p: PolicyConfig) => new CompletionsScorer({ baseURL: p.baseURL!, model: p.model, batchSize: 2, maxRetries: 0, topLogprobs: p.topLogprobs ?? 1 });
    const s = await runScoring({ logFile: log, config: cfg, makeScorer: mk });
    const lines = readScoresFile(s.outFile);
    const asked = server.requests.filter((r) => r.path === '/v1/completions').map((r) => [(r.body as { model: string }).model, (r.body as { logprobs: number }).logprobs]);
    assert.deepEqual([...new Set(asked.map((a) => a.join(':')))].sort(), ['toy-2:1', 'toy-8b:3']);
    for (const l of lines) {
      if (l.policy === 'other') {
        assert.equal(l.top_logprobs, undefined);
        continue;
      }
      assert.equal(l.top_logprobs.length, l.tokens.length);
      l.top_logprobs.forEach((alts: Record<string, number>, i: number) => {
        const n = Object.keys(alts).length;
        assert.ok(n >= 1 && n <= 4, `token ${i}: ${n} alternatives`);
        // The server's own token is among its alternatives or below all of them (token log-probs are kept at float32 precision, see score-line-form.ts).
        if (l.tokens[i] in alts) assert.equal(Math.fround(alts[l.tokens[i]]), l.token_logprobs[i]);
        else assert.ok(Object.values(alts).every((v) => Math.fround(v as number) >= l.token_logprobs[i]));
      });
    }
  });

  it('a repeated record gets its lines under every policy, also when a second run adds policies (review: t2 lost line 2)', async () => {
    drifting = false;
    const rec = { prompt: 'Say hi.', response: 'Hi!' };
    fs.writeFileSync(log, [JSON.stringify({ prompt_id: 'a', ...rec }), JSON.stringify({ prompt_id: 'b', ...rec })].join('\n') + '\n');
    const cfg: CjeConfig = { behavior: 'beh', policies: { beh: policy(), t1: policy({ model: 'toy-2' }), t2: policy({ model: 'toy-2' }) } };
    await runScoring({ logFile: log, config: cfg, policies: ['t1'], makeScorer });
    await runScoring({ logFile: log, config: cfg, makeScorer });
    const lines = readScoresFile(path.join(dir, 'log.scores.jsonl'));
    const have = lines.filter((l) => !l.kind).map((l) => `${l.policy}@${l.line}`).sort();
    assert.deepEqual(have, ['beh@1', 'beh@2', 't1@1', 't1@2', 't2@1', 't2@2']);
  });

  it('--repeat steps by what it sent when the batch size drops under it (review: records measured twice)', async () => {
    drifting = false;
    await runScoring({ logFile: log, config: config(), makeScorer });
    // The next run's first requests are the repeats: lists of 2 are refused, so the scorer falls to one prompt per request.
    const strict = await startCompletionsServer({ maxBatch: 1 });
    try {
      const cfg: CjeConfig = { behavior: 'base', policies: { base: { ...policy(), baseURL: strict.baseURL }, clone: { ...policy(), baseURL: strict.baseURL } } };
      const mk = async (p: PolicyConfig) => new CompletionsScorer({ baseURL: strict.baseURL, model: p.model, batchSize: 2, maxRetries: 0 });
      // Same fingerprint needs the same base URL: score the log there first, then repeat.
      await runScoring({ logFile: log, config: cfg, makeScorer: mk });
      const s = await runScoring({ logFile: log, config: cfg, makeScorer: mk, repeat: { k: 1, sample: 4 } });
      const repeats = readScoresFile(s.outFile).filter((l) => l.kind === 'repeat');
      assert.equal(repeats.length, 4);
      assert.deepEqual(repeats.map((r) => r.logprobs.length), [2, 2, 2, 2]);
    } finally {
      await strict.close();
    }
  });
});
