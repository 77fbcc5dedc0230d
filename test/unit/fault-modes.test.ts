// The fault-mode table: one loopback completions server that answers every
// request correctly, then rewrites the answer for the record marked FAULTY
// (or, for batch faults, the list answer it belongs to) the way a misbehaving
// server does. For each mode the marked record must fail with a clear error,
// or keep its number with a suspect reason, and every other record must hold
// the value computed here independently: the toy model's log-probs summed
// over the tokens that the toy tokenizer itself places in the response
// (positions from the tokenizer, not from the echo's strings or offsets).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runScoring } from '../../src/core/score-run';
import { CompletionsScorer } from '../../src/scorers/completions';
import type { CjeConfig, ScoreLine } from '../../src/core/types';
import {
  startCompletionsServer,
  echoLogprobs,
  promptTokens,
  type CompletionChoice,
  type CompletionResponse,
  type CompletionsServer,
} from '../support/completions-server';
import { ToyModel } from '../support/toy-model';
import { ToyTokenizer } from '../support/toy-tokenizer';

const SYSTEM = 'You are a helpful assistant';
const MODEL = 'toy-llama';
const EOT = '<|eot_id|>';

/** Llama 3 flat prompt written out from Meta's published format (not by our renderer). */
function llama3Flat(prompt: string, response: string) {
  const head =
    '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' + SYSTEM + EOT +
    '<|start_header_id|>user<|end_header_id|>\n\n' + prompt + EOT +
    '<|start_header_id|>assistant<|end_header_id|>\n\n';
  return { text: head + response + EOT, responseStart: head.length, scoredEnd: head.length + response.length + EOT.length };
}

const tokenizer = new ToyTokenizer();

/** Indices of the tokens that cover [responseStart, scoredEnd), by the tokenizer's own positions. */
function referenceSpan(prompt: string, response: string): { text: string; first: number; end: number; sum: number; responseStart: number } {
  const f = llama3Flat(prompt, response);
  const toks = promptTokens(tokenizer, f.text);
  const lps = echoLogprobs(new ToyModel(MODEL, tokenizer), tokenizer, f.text, 0, {}).token_logprobs;
  let first = -1;
  let end = -1;
  let sum = 0;
  toks.forEach((t, i) => {
    if (t.end > f.responseStart && t.start < f.scoredEnd) {
      if (first < 0) first = i;
      end = i + 1;
      sum += lps[i]!;
    }
  });
  return { text: f.text, first, end, sum, responseStart: f.responseStart };
}

const RECORDS = [
  { prompt_id: 'r1', prompt: 'What is machine learning?', response: 'Machine learning is learning from data.' },
  { prompt_id: 'r2', prompt: 'Dis bonjour, s’il te plaît.', response: 'Bonjour ! Ça va très bien 😀 merci.' },
  // The marked record's response starts with "\n", so offsets can lie and still agree with the token strings.
  { prompt_id: 'r3', prompt: 'FAULTY question: what is six times seven?', response: '\nThe answer is 42.' },
  { prompt_id: 'r4', prompt: 'Count to three.', response: 'One, two, three.' },
  { prompt_id: 'r5', prompt: 'Emoji?', response: '👍🏽🎉 yes' },
];
const FAULTY = 'r3';
const REF = new Map(RECORDS.map((r) => [r.prompt_id, referenceSpan(r.prompt, r.response)]));
const faultyRef = REF.get(FAULTY)!;

type Logprobs = NonNullable<CompletionChoice['logprobs']>;
interface Ctx {
  answer: CompletionResponse;
  prompts: string[];
  /** The choice of the marked prompt, when this answer has one. */
  choice?: CompletionChoice;
  lp?: Logprobs;
}

interface Mode {
  name: string;
  apply(c: Ctx): CompletionResponse | string | void;
  /** What the marked record must show. */
  expect: { error: RegExp } | { suspect: RegExp; value: 'reference'; approximate?: boolean } | { value: 'reference'; note?: RegExp };
}

const spanSet = (lp: Logprobs, f: (i: number) => number | null) => {
  for (let i = faultyRef.first; i < faultyRef.end; i++) lp.token_logprobs[i] = f(i);
};

const MODES: Mode[] = [
  { name: 'a positive log-prob in the span (+70.57)', apply: ({ lp }) => void (lp && (lp.token_logprobs[faultyRef.first] = 70.57)), expect: { error: /log-prob 70\.57, above 0/ } },
  { name: 'one tiny positive value among negatives', apply: ({ lp }) => void (lp && (lp.token_logprobs[faultyRef.first + 2] = 1e-7)), expect: { error: /log-prob 1e-7, above 0/ } },
  { name: 'every log-prob of the span exactly 0.0', apply: ({ lp }) => void (lp && spanSet(lp, () => 0)), expect: { error: /every log-prob of the \d+-token span is 0.*sent zeros/ } },
  { name: 'every log-prob of the span within 1e-9 of 0', apply: ({ lp }) => void (lp && spanSet(lp, (i) => -1e-10 * (i % 3))), expect: { error: /span is 0 .*sent zeros/ } },
  { name: 'a sentinel -1e308', apply: ({ lp }) => void (lp && (lp.token_logprobs[faultyRef.first + 1] = -1e308)), expect: { error: /log-prob -1e\+308, below -1000: a sentinel/ } },
  {
    name: '-Infinity spelled as a number (-1e999)',
    apply: ({ answer, lp }) => {
      if (!lp) return;
      lp.token_logprobs[faultyRef.first + 1] = -123456.5;
      return JSON.stringify(answer).replace('-123456.5', '-1e999');
    },
    expect: { error: /log-prob -Infinity \(probability 0\)/ },
  },
  { name: "vLLM's -9999.0 clamp", apply: ({ lp }) => void (lp && (lp.token_logprobs[faultyRef.first + 1] = -9999)), expect: { error: /-9999, vLLM's stand-in for -inf/ } },
  {
    name: 'the echo drops the last token',
    apply: ({ lp }) => {
      if (!lp) return;
      for (const k of ['tokens', 'token_logprobs', 'top_logprobs', 'text_offset'] as const) (lp[k] as unknown[] | null)?.splice(-1);
    },
    expect: { error: /the echo spells only \d+ of the \d+ characters/ },
  },
  {
    name: 'the echo drops the last 3 tokens',
    apply: ({ lp }) => {
      if (!lp) return;
      for (const k of ['tokens', 'token_logprobs', 'top_logprobs', 'text_offset'] as const) (lp[k] as unknown[] | null)?.splice(-3);
    },
    expect: { error: /the echo spells only \d+ of the \d+ characters/ },
  },
  {
    name: 'the echo has more tokens than the text',
    apply: ({ lp }) => {
      if (!lp) return;
      lp.tokens.push(' extra', '!');
      lp.token_logprobs.push(-1, -1);
      lp.top_logprobs?.push({}, {});
      lp.text_offset.push(faultyRef.text.length, faultyRef.text.length + 6);
    },
    expect: { error: /the echo has 2 token\(s\) more than the text/ },
  },
  {
    name: 'choices out of order without index (a list answer)',
    apply: ({ answer }) => {
      if (answer.choices.length < 2) return;
      answer.choices.reverse();
      for (const c of answer.choices) delete (c as Partial<CompletionChoice>).index;
    },
    expect: { value: 'reference' },
  },
  {
    name: 'choices with a lying index (a list answer)',
    apply: ({ answer }) => {
      if (answer.choices.length < 2) return;
      const [a, b] = answer.choices;
      [a.index, b.index] = [b.index, a.index];
    },
    expect: { value: 'reference' },
  },
  {
    name: 'choices with a duplicated index (a list answer)',
    apply: ({ answer }) => {
      if (answer.choices.length < 2) return;
      answer.choices[answer.choices.length - 1].index = answer.choices[0].index;
    },
    expect: { value: 'reference' },
  },
  {
    name: 'offsets that lie consistently with the token strings (response starting with "\\n")',
    apply: ({ lp }) => {
      if (!lp) return;
      // The response's "\n" token is moved one character back, into the prompt's "\n\n": the strings still agree.
      const i = lp.text_offset.findIndex((o) => o === faultyRef.responseStart);
      assert.equal(lp.tokens[i], '\n');
      lp.text_offset[i] -= 1;
    },
    expect: { value: 'reference', note: /text_offset disagrees with the token strings on 1 token/ },
  },
  {
    name: 'token strings that cannot be read (the prefix-count fallback)',
    apply: ({ lp }) => {
      if (!lp) return;
      lp.tokens = lp.tokens.map((_, i) => `<tok${i}>`);
    },
    expect: { suspect: /approximate: the response was located by counting the prompt's tokens/, value: 'reference', approximate: true },
  },
  {
    name: 'a choice without logprobs in a list answer',
    apply: ({ lp, choice }) => {
      if (lp && choice) choice.logprobs = null;
    },
    expect: { error: /answered without prompt log-probs/ },
  },
];

describe('answer checks: the fault-mode table (one loopback server, one mode per case)', function () {
  this.timeout(60000);
  let server: CompletionsServer;
  let mode: Mode | undefined;
  let dir: string;
  let logFile: string;

  before(async () => {
    server = await startCompletionsServer({
      offsetUnit: 'codepoint',
      transform: (answer, prompts) => {
        if (!mode) return answer;
        const choice = answer.choices.find((c) => prompts[c.index].includes('FAULTY'));
        return mode.apply({ answer, prompts, choice, lp: choice?.logprobs ?? undefined }) ?? answer;
      },
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-faults-'));
    logFile = path.join(dir, 'log.jsonl');
    fs.writeFileSync(logFile, RECORDS.map((r) => JSON.stringify(r)).join('\n') + '\n');
  });
  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the reference is what it claims: the marked record\'s span starts at the response\'s "\\n" token', () => {
    const toks = promptTokens(tokenizer, faultyRef.text);
    assert.equal(toks[faultyRef.first].text, '\n');
    assert.equal(toks[faultyRef.first].start, faultyRef.responseStart);
    assert.equal(toks[faultyRef.end - 1].text, EOT);
  });

  for (const m of MODES) {
    it(m.name, async () => {
      mode = m;
      const outFile = path.join(dir, `${m.name.replace(/[^a-z0-9]+/gi, '-')}.scores.jsonl`);
      const config: CjeConfig = {
        behavior: 'base',
        policies: { base: { provider: 'openai-compatible', baseURL: server.baseURL, model: MODEL, template: 'llama3', systemPrompt: SYSTEM, batchSize: 8 } },
      };
      const summary = await runScoring({
        logFile,
        config,
        outFile,
        makeScorer: async (p) => new CompletionsScorer({ baseURL: p.baseURL!, model: p.model, batchSize: 8, maxRetries: 1, timeoutMs: 10000 }),
      });
      mode = undefined;
      const lines: ScoreLine[] = fs.readFileSync(outFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines.length, RECORDS.length, 'one line per record: the run went on');
      for (const l of lines) {
        const ref = REF.get(l.record)!;
        if (l.record !== FAULTY) {
          assert.equal(l.error, null, `${l.record}: ${l.error}`);
          assert.equal(l.suspect, undefined, `${l.record} is not suspect`);
          assert.ok(Math.abs(l.logprob! - ref.sum) < 1e-9, `${l.record}: ${l.logprob} vs reference ${ref.sum}`);
          continue;
        }
        const e = m.expect;
        if ('error' in e) {
          assert.equal(l.logprob, null, 'no number is kept');
          assert.match(l.error ?? '', e.error);
          assert.equal(summary.failed, 1);
          assert.match(summary.errors.map((x) => x.message).join('\n'), e.error);
        } else {
          assert.equal(l.error, null, `unexpected error: ${l.error}`);
          assert.ok(Math.abs(l.logprob! - ref.sum) < 1e-9, `${l.record}: ${l.logprob} vs reference ${ref.sum}`);
          if ('suspect' in e) {
            assert.match((l.suspect ?? []).join('; '), e.suspect);
            assert.equal(l.span?.approximate, !!e.approximate);
            const s = summary.policies[0].suspect;
            assert.equal(s?.count, 1);
            assert.equal(s?.approximate, e.approximate ? 1 : 0);
          } else {
            assert.equal(l.suspect, undefined);
            assert.equal(summary.policies[0].suspect, undefined);
            if (e.note) assert.match((l.span?.notes ?? []).join('; '), e.note);
          }
          assert.equal(summary.failed, 0);
        }
      }
    });
  }

  it('with no fault, every record holds the reference value and none is suspect (the table can tell)', async () => {
    mode = undefined;
    const outFile = path.join(dir, 'clean.scores.jsonl');
    const summary = await runScoring({
      logFile,
      config: { behavior: 'base', policies: { base: { provider: 'openai-compatible', baseURL: server.baseURL, model: MODEL, template: 'llama3', systemPrompt: SYSTEM } } },
      outFile,
      makeScorer: async (p) => new CompletionsScorer({ baseURL: p.baseURL!, model: p.model, batchSize: 8, maxRetries: 1 }),
    });
    assert.equal(summary.failed, 0);
    const lines: ScoreLine[] = fs.readFileSync(outFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    for (const l of lines) {
      assert.ok(Math.abs(l.logprob! - REF.get(l.record)!.sum) < 1e-9);
      assert.equal(l.span?.method, 'text_offset');
      assert.equal(l.checks, 1);
    }
  });
});
