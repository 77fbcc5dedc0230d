import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runScoring, type ScoreRunOptions } from '../../src/core/score-run';
import { CompletionsScorer } from '../../src/scorers/completions';
import type { CjeConfig, PolicyConfig, ScoreLine } from '../../src/core/types';
import { startCompletionsServer, echoLogprobs, promptTokens, type CompletionsServer, type CompletionsServerOptions } from '../support/completions-server';
import { ToyModel } from '../support/toy-model';
import { ToyTokenizer } from '../support/toy-tokenizer';
import { readScoresFile } from '../support/scores-file';

const SYSTEM = 'You are a helpful assistant';

/** Llama 3 flat prompt, written out by hand from Meta's published format (not by our renderer). */
function llama3Flat(prompt: string, response: string): { text: string; responseStart: number } {
  const head =
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' + SYSTEM + '<|eot_id|>' +
    '<|start_header_id|>user<|end_header_id|>\n\n' + prompt + '<|eot_id|>' +
    '<|start_header_id|>assistant<|end_header_id|>\n\n';
  return { text: head + response + '<|eot_id|>', responseStart: head.length };
}

/** Reference log-prob: the toy model's values summed over tokens starting at or after the response. */
function referenceLogprob(model: string, prompt: string, response: string): number {
  const { text, responseStart } = llama3Flat(prompt, response);
  const tokenizer = new ToyTokenizer();
  const toks = promptTokens(tokenizer, text);
  const lps = echoLogprobs(new ToyModel(model, tokenizer), tokenizer, text, 0, { offsetUnit: 'utf16' }).token_logprobs;
  let sum = 0;
  toks.forEach((t, i) => {
    if (t.start >= responseStart) sum += lps[i]!;
  });
  return sum;
}

const RECORDS = [
  { prompt_id: 'p1', prompt: 'What is machine learning?', response: 'Machine learning is learning from data.', base_policy_logprob: -3.5 },
  { prompt_id: 'p2', prompt: 'Dis bonjour en français, s’il te plaît.', response: 'Bonjour ! Ça va très bien 😀 — merci.' },
  { prompt_id: 'p3', prompt: 'Emoji only?', response: '👍🏽🎉' },
  { messages: [{ role: 'user', content: 'Chat shape works?' }, { role: 'assistant', content: 'Yes, it does.' }], metadata: { prompt_id: 'p4' } },
  { prompt_id: 'p5', prompt: 'Tell me a story about a <script>alert(1)</script> tag.', response: 'Once upon a time, a tag <b>bold</b> lived.' },
  { prompt_id: 'p6', prompt: 'Count to five.', response: 'One, two, three, four, five.' },
];

function writeLog(dir: string, lines: string[]): string {
  const file = path.join(dir, 'log.jsonl');
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function policy(baseURL: string, model: string, extra: Partial<PolicyConfig> = {}): PolicyConfig {
  return { provider: 'openai-compatible', baseURL, model, template: 'llama3', systemPrompt: SYSTEM, maxRetries: 4, ...extra };
}

function readScores(file: string): ScoreLine[] {
  return readScoresFile(file);
}

function makeScorer(p: PolicyConfig) {
  return Promise.resolve(new CompletionsScorer({ baseURL: p.baseURL!, model: p.model, batchSize: p.batchSize ?? 8, maxRetries: p.maxRetries ?? 4, timeoutMs: p.timeoutMs ?? 10000 }));
}

describe('runScoring against a loopback completions server', function () {
  let server: CompletionsServer;
  let dir: string;
  const started: CompletionsServer[] = [];
  async function serve(opts: CompletionsServerOptions = {}) {
    const s = await startCompletionsServer(opts);
    started.push(s);
    return s;
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-run-'));
    server = await serve();
  });
  afterEach(async () => {
    while (started.length) await started.pop()!.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function config(s: CompletionsServer, extra: Partial<PolicyConfig> = {}): CjeConfig {
    return {
      behavior: 'base',
      policies: {
        base: policy(s.baseURL, 'toy-8b', extra),
        clone: policy(s.baseURL, 'toy-8b', extra),
        premium: policy(s.baseURL, 'toy-70b', extra),
      },
    };
  }

  function run(log: string, cfg: CjeConfig, more: Partial<ScoreRunOptions> = {}) {
    return runScoring({ logFile: log, config: cfg, makeScorer, ...more });
  }

  it('scores every valid line, reports every bad one, and matches the reference log-probs', async () => {
    const lines = RECORDS.map((r) => JSON.stringify(r));
    lines.splice(2, 0, '{"prompt": "broken", "response": ');
    lines.splice(5, 0, '{"prompt": 42, "response": "x"}');
    const log = writeLog(dir, lines);
    const progress: { done: number; total: number }[] = [];
    const s = await run(log, config(server), { onProgress: (p) => progress.push({ done: p.done, total: p.total }) });
    assert.equal(s.records, RECORDS.length);
    assert.deepEqual(s.issues.map((i) => i.line), [3, 6]);
    // The last progress event counts records, not lines: the two bad lines are not records to wait for.
    assert.deepEqual(progress[progress.length - 1], { done: RECORDS.length, total: RECORDS.length });
    assert.equal(s.issues[1].field, 'prompt');
    assert.equal(s.failed, 0);
    const scores = readScores(s.outFile);
    assert.equal(scores.length, RECORDS.length * 3);
    for (const r of RECORDS) {
      if (!('prompt' in r)) continue;
      const base = scores.find((l) => l.record === r.prompt_id && l.policy === 'base')!;
      const premium = scores.find((l) => l.record === r.prompt_id && l.policy === 'premium')!;
      assert.ok(Math.abs(base.logprob! - referenceLogprob('toy-8b', r.prompt!, r.response!)) < 1e-9, `base ${r.prompt_id}`);
      assert.ok(Math.abs(premium.logprob! - referenceLogprob('toy-70b', r.prompt!, r.response!)) < 1e-9, `premium ${r.prompt_id}`);
      // The server reports code points; only non-ASCII text can show which unit it is.
      assert.equal(base.span!.offsetUnit, /[^\x00-\x7f]/.test(r.prompt! + r.response!) ? 'codepoint' : undefined);
      assert.equal(base.tokens[base.tokens.length - 1], '<|eot_id|>');
    }
  });

  it('scores an identical policy once and gives it weight exactly 1', async () => {
    const log = writeLog(dir, RECORDS.map((r) => JSON.stringify(r)));
    const s = await run(log, config(server));
    const prompts = server.requests.filter((r) => r.path === '/v1/completions').flatMap((r) => {
      const p = (r.body as { prompt: string | string[] }).prompt;
      return Array.isArray(p) ? p : [p];
    });
    // Two fingerprints (base ≡ clone, premium): each record is sent twice, not three times.
    assert.equal(prompts.length, RECORDS.length * 2);
    const scores = readScores(s.outFile);
    for (const r of scores.filter((l) => l.policy === 'clone')) {
      const b = scores.find((l) => l.policy === 'base' && l.key === r.key)!;
      assert.equal(r.logprob! - b.logprob!, 0);
      assert.equal(r.reused_from, 'base');
    }
    const clone = s.policies.find((p) => p.name === 'clone')!;
    assert.deepEqual(clone.sameAs, ['base']);
    assert.equal(clone.essFraction, 1);
    assert.ok(s.policies.find((p) => p.name === 'premium')!.essFraction! < 1);
  });

  it('resumes: a rerun skips everything already scored and sends nothing', async () => {
    const log = writeLog(dir, RECORDS.map((r) => JSON.stringify(r)));
    await run(log, config(server));
    const before = server.requests.length;
    const s2 = await run(log, config(server));
    assert.equal(server.requests.length, before);
    assert.equal(s2.scored, 0);
    assert.equal(s2.skipped, RECORDS.length * 3);
    assert.equal(readScores(s2.outFile).length, RECORDS.length * 3);
  });

  it('detects a half-written last line and rescores exactly that result', async () => {
    const log = writeLog(dir, RECORDS.map((r) => JSON.stringify(r)));
    const s = await run(log, config(server));
    const text = fs.readFileSync(s.outFile, 'utf8');
    const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
    const cut = readScores(s.outFile).pop()!;
    fs.writeFileSync(s.outFile, text.slice(0, lastStart + 40)); // a write cut short by kill -9
    const s2 = await run(log, config(server));
    assert.deepEqual(s2.store.truncated?.line, RECORDS.length * 3);
    const scores = readScores(s2.outFile);
    assert.equal(scores.length, RECORDS.length * 3);
    const redone = scores.filter((l) => l.key === cut.key && l.policy === cut.policy);
    assert.equal(redone.length, 1);
    assert.equal(redone[0].logprob, cut.logprob);
  });

  it('gives the same log-probs batched and one prompt per request', async () => {
    const log = writeLog(dir, RECORDS.map((r) => JSON.stringify(r)));
    const batched = await run(log, config(server, { batchSize: 4 }), { outFile: path.join(dir, 'b.jsonl') });
    const lists = server.requests.filter((r) => Array.isArray((r.body as { prompt?: unknown })?.prompt));
    assert.ok(lists.some((r) => ((r.body as { prompt: string[] }).prompt).length === 4), 'some request carried 4 prompts');
    const single = await run(log, config(server, { batchSize: 1 }), { outFile: path.join(dir, 's.jsonl') });
    const byKey = (f: string) => new Map(readScores(f).map((l) => [`${l.key}/${l.policy}`, l.logprob]));
    assert.deepEqual(byKey(batched.outFile), byKey(single.outFile));
  });

  it('gives the same log-probs whatever unit the server reports offsets in', async () => {
    const log = writeLog(dir, RECORDS.map((r) => JSON.stringify(r)));
    const results = new Map<string, Map<string, number | null>>();
    for (const unit of ['codepoint', 'utf16', 'utf8'] as const) {
      const s = await serve({ offsetUnit: unit });
      const r = await run(log, config(s), { outFile: path.join(dir, `${unit}.jsonl`) });
      assert.equal(r.failed, 0);
      const lines = readScores(r.outFile);
      assert.ok(lines.every((l) => l.span!.offsetUnit === unit || !/[^\x00-\x7f]/.test(l.tokens.join(''))));
      // Keys differ between servers (the base URL is part of the fingerprint): compare by record.
      results.set(unit, new Map(lines.map((l) => [`${l.record}/${l.policy}`, l.logprob])));
    }
    assert.deepEqual(results.get('utf16'), results.get('codepoint'));
    assert.deepEqual(results.get('utf8'), results.get('codepoint'));
  });

  it('recovers from 429 (honouring Retry-After), 500, a dropped connection and a malformed body', async () => {
    const log = writeLog(dir, RECORDS.map((r) => JSON.stringify(r)));
    server.faults.push({ kind: '429', retryAfterMs: 300 }, { kind: '500' }, { kind: 'drop' }, { kind: 'malformed' }, { kind: 'bad-shape' });
    const s = await run(log, config(server, { batchSize: 2, concurrency: 1 }));
    assert.equal(s.failed, 0);
    assert.equal(readScores(s.outFile).length, RECORDS.length * 3);
    const posts = server.requests.filter((r) => r.path === '/v1/completions');
    // The retry of the request that got the 429 came no sooner than the server asked.
    const retry = posts.slice(1).find((r) => JSON.stringify(r.body) === JSON.stringify(posts[0].body))!;
    assert.ok(retry.receivedAt - posts[0].receivedAt >= 290, `retried after ${retry.receivedAt - posts[0].receivedAt} ms`);
  });

  it('stops batching when the server refuses lists of prompts', async () => {
    const single = await serve({ maxBatch: 1 });
    const log = writeLog(dir, RECORDS.map((r) => JSON.stringify(r)));
    const s = await run(log, config(single, { batchSize: 3, concurrency: 1 }));
    assert.equal(s.failed, 0);
    const sizes = single.requests
      .filter((r) => r.path === '/v1/completions')
      .map((r) => ((r.body as { prompt: string | string[] }).prompt instanceof Array ? (r.body as { prompt: string[] }).prompt.length : 1));
    // One refused list per fingerprint, then one prompt per request.
    assert.equal(sizes.filter((n) => n > 1).length, 2);
    assert.equal(sizes.filter((n) => n === 1).length, RECORDS.length * 2);
  });

  it('times out a stalled request and retries it', async () => {
    const log = writeLog(dir, RECORDS.slice(0, 2).map((r) => JSON.stringify(r)));
    server.faults.push({ kind: 'slow', ms: 1500 });
    const s = await run(log, config(server, { batchSize: 2, concurrency: 1, timeoutMs: 300 }));
    assert.equal(s.failed, 0);
    const posts = server.requests.filter((r) => r.path === '/v1/completions');
    // The stalled request and its retry carry the same prompts.
    assert.equal(posts.filter((r) => JSON.stringify(r.body) === JSON.stringify(posts[0].body)).length, 2);
  });

  it('records a failure for a prompt the server refuses and keeps the rest of its batch', async () => {
    const s0 = await serve({ maxContextTokens: 120 });
    const long = { prompt_id: 'long', prompt: 'word '.repeat(400), response: 'ok' };
    const log = writeLog(dir, [...RECORDS.slice(0, 3), long].map((r) => JSON.stringify(r)));
    const s = await run(log, config(s0, { batchSize: 4 }));
    const scores = readScores(s.outFile);
    const bad = scores.filter((l) => l.record === 'long');
    assert.equal(bad.length, 3);
    assert.ok(bad.every((l) => l.logprob === null && /HTTP 400/.test(l.error!)));
    assert.ok(scores.filter((l) => l.record !== 'long').every((l) => l.error === null));
    assert.equal(s.failed, 3);
    // Failures are not "done": a rerun tries them again.
    const s2 = await run(log, config(s0, { batchSize: 4 }));
    assert.equal(s2.skipped, 9);
  });

  it('stops when cancelled, keeps what it wrote, and a rerun completes without duplicates', async () => {
    const slow = await serve({ latencyMs: 40 });
    const many = Array.from({ length: 40 }, (_, i) => ({ prompt_id: `r${i}`, prompt: `Question ${i}?`, response: `Answer ${i}.` }));
    const log = writeLog(dir, many.map((r) => JSON.stringify(r)));
    const ac = new AbortController();
    const s = await run(log, config(slow, { batchSize: 1, concurrency: 1 }), {
      signal: ac.signal,
      onProgress: (p) => {
        if (p.done >= 5) ac.abort();
      },
    });
    assert.equal(s.cancelled, true);
    const partial = readScores(s.outFile);
    assert.ok(partial.length > 0 && partial.length < 120, `${partial.length} lines after cancel`);
    const s2 = await run(log, config(slow, { batchSize: 8, concurrency: 4 }));
    assert.equal(s2.cancelled, false);
    const all = readScores(s2.outFile);
    assert.equal(all.length, 120);
    assert.equal(new Set(all.map((l) => `${l.key}/${l.policy}`)).size, 120);
  });

  it('warns when a logged base_policy_logprob disagrees with the rescored one', async () => {
    const log = writeLog(dir, RECORDS.map((r) => JSON.stringify(r)));
    const s = await run(log, config(server));
    const base = s.policies.find((p) => p.isBehavior)!;
    assert.equal(base.logged!.n, 1);
    assert.equal(base.logged!.over, 1);
    assert.equal(base.logged!.examples[0].record, 'p1');
    assert.equal(base.logged!.examples[0].logged, -3.5);
  });

  it('scores with a custom template of the config, under its own fingerprint', async () => {
    const log = writeLog(dir, RECORDS.slice(0, 1).map((r) => JSON.stringify(r)));
    const cfg: CjeConfig = {
      behavior: 'base',
      // What the lint's double-BOS quick fix writes: llama3 without the BOS the server adds anyway.
      templates: { 'llama3-nobos': { extends: 'llama3', bos: '' } },
      policies: { base: policy(server.baseURL, 'toy-8b'), nobos: policy(server.baseURL, 'toy-8b', { template: 'llama3-nobos' }) },
    };
    const s = await run(log, cfg);
    assert.equal(s.failed, 0);
    const lines = readScores(s.outFile);
    const base = lines.find((l) => l.policy === 'base')!;
    const nobos = lines.find((l) => l.policy === 'nobos')!;
    assert.notEqual(nobos.fingerprint, base.fingerprint);
    const sent = server.requests.flatMap((r) => (r.path === '/v1/completions' ? [(r.body as { prompt: string | string[] }).prompt].flat() : []));
    assert.ok(sent.some((p) => p.startsWith('<|start_header_id|>')), 'the custom template sent no BOS');
    assert.ok(sent.some((p) => p.startsWith('<|begin_of_text|>')));
  });

  it('leaves the end-of-turn token out of the span when scoreEndOfTurn is false, and says so', async () => {
    const log = writeLog(dir, RECORDS.slice(0, 1).map((r) => JSON.stringify(r)));
    const s = await run(log, config(server, { scoreEndOfTurn: false }));
    const line = readScores(s.outFile).find((l) => l.policy === 'base')!;
    assert.equal(line.span!.endOfTurnScored, false);
    assert.notEqual(line.tokens[line.tokens.length - 1], '<|eot_id|>');
    const withEot = await run(log, config(server), { outFile: path.join(dir, 'eot.jsonl') });
    const l2 = readScores(withEot.outFile).find((l) => l.policy === 'base')!;
    assert.equal(l2.span!.endOfTurnScored, true);
    assert.notEqual(l2.fingerprint, line.fingerprint);
  });
});
