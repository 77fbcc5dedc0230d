// The span logic against REAL vocabularies (issue 9, part 3). For every
// tokenizer family a prompt is rendered with our real templates, scored
// through the real client path (CompletionsScorer -> HTTP -> a loopback server
// echoing as vLLM / Fireworks do, backed by the family's real tokenizer), and
// the span CJE reports is compared with an independent reference: the token
// ids the server scored, placed in the text from the vocabulary
// (test/support/token-reference.ts, which never looks at span.ts nor at the
// server's token strings or offsets), the tokens covering [responseStart,
// scoredEnd) selected, and their pseudo log-probs summed with the server's
// exported pseudoLogprob.
//
// Templates: llama3 for llama3/llama3_1, llama2, chatml for qwen3, gemma for
// gemma3, deepseek for deepseek_v3; gpt-oss has no template in templates/, so a
// harmony TemplateSpec is written here (<|start|>role<|message|>…<|end|>,
// generation prefix <|start|>assistant<|channel|>final<|message|>, end of turn
// <|return|>). The seam cases use the `raw` template for every family.
//
// Server styles: vLLM as of 2026 (decode per token, U+FFFD pieces corrected
// to ""), vLLM decode-only (0.9-0.11: U+FFFD pieces), vLLM raw pieces (V1
// 0.7-0.8: vocabulary pieces) and Fireworks. A case passes when the span, its
// straddles and the sum are exact and unflagged; a refusal or a flagged
// number passes only where the echo itself cannot place the response (the
// tokenizer NFC-normalized the text, or the seam falls inside a run of U+FFFD
// pieces); an unflagged number that differs always fails. Known failures of
// src/core/span.ts are listed below and skipped; the seam-effect table is
// printed at the end.

import * as assert from 'node:assert/strict';
import { loadTemplate, renderPrompt, resolveTemplate, type ResolvedTemplate } from '../../src/core/templates';
import type { ChatMessage, RenderedPrompt, TemplateSpec } from '../../src/core/types';
import type { SpanResult } from '../../src/core/span';
import { CompletionsScorer } from '../../src/scorers/completions';
import {
  FAMILIES,
  type Detok,
  type EchoStyle,
  type Family,
  type RealTokenizerServer,
  loadRealTokenizer,
  measureSeamEffect,
  pseudoLogprob,
  startRealTokenizerServer,
} from '../support/real-tokenizer-server';
import { coveringTokens, placeTokens, type CoveringTokens } from '../support/token-reference';

// ---------------------------------------------------------------------------
// Families, templates, cases

const HARMONY: TemplateSpec = {
  name: 'harmony-test',
  description: 'gpt-oss harmony format, written for this test (templates/ has none)',
  families: ['gpt-oss'],
  bos: '',
  eos: '<|return|>',
  tokenizerAddsBos: false,
  turns: {
    system: { prefix: '<|start|>system<|message|>', suffix: '<|end|>' },
    user: { prefix: '<|start|>user<|message|>', suffix: '<|end|>' },
    assistant: { prefix: '<|start|>assistant<|channel|>final<|message|>', suffix: '<|end|>' },
  },
  systemHandling: 'own-turn',
  generationPrefix: '<|start|>assistant<|channel|>final<|message|>',
  endOfTurn: '<|return|>',
  afterEndOfTurn: '',
  defaultSystemPrompt: null,
};

/** Template and a model name that selects the family's variant. */
const CHAT: Record<Family, { template: string | TemplateSpec; model: string }> = {
  llama3: { template: 'llama3', model: 'meta-llama-3-8b-instruct' },
  llama3_1: { template: 'llama3', model: 'llama-v3p1-8b-instruct' },
  llama2: { template: 'llama2', model: 'llama-2-7b-chat' },
  qwen3: { template: 'chatml', model: 'qwen3-8b' },
  gemma3: { template: 'gemma', model: 'gemma-3-4b-it' },
  deepseek_v3: { template: 'deepseek', model: 'deepseek-v3' },
  gptoss: { template: HARMONY, model: 'gpt-oss-20b' },
};

/**
 * Whether the server puts a BOS in front of a text prompt, as transformers
 * encodes with add_special_tokens=True, read off these packages' files:
 * llama3's tokenizer.json (this package's copy) has a ByteLevel
 * post-processor only; llama3_1's adds <|begin_of_text|>; llama2 and gemma3
 * add <s> / <bos>; deepseek_v3 is a LlamaTokenizerFast with add_bos_token,
 * which transformers turns into a BOS; qwen3 and gpt-oss add none.
 */
const BOS: Record<Family, string | null> = {
  llama3: null,
  llama3_1: '<|begin_of_text|>',
  llama2: '<s>',
  qwen3: null,
  gemma3: '<bos>',
  deepseek_v3: '<｜begin▁of▁sentence｜>',
  gptoss: null,
};

interface Case {
  name: string;
  /** 'chat': the family's chat template with one user turn; 'raw': the raw template, prompt text as is. */
  kind: 'chat' | 'raw';
  prompt: string;
  response: string;
}

const USER = 'Tell me something.';
const CASES: Case[] = [
  { kind: 'chat', name: 'plain ASCII', prompt: USER, response: 'Machine learning is a field of study.' },
  { kind: 'chat', name: 'ZWJ family emoji', prompt: USER, response: 'Family: 👩‍👩‍👧‍👦 here.' },
  { kind: 'chat', name: 'flags', prompt: USER, response: '🇯🇵🇫🇷 are flags' },
  { kind: 'chat', name: 'skin tones', prompt: USER, response: 'Thumbs 👍🏽 and wave 👋🏿!' },
  { kind: 'chat', name: 'CJK', prompt: USER, response: '中文和日本語のテキスト。' },
  { kind: 'chat', name: 'combining accents', prompt: USER, response: 'Cafe\u0301 and re\u0301sume\u0301' },
  { kind: 'chat', name: 'leading spaces', prompt: USER, response: '   three spaces first' },
  { kind: 'chat', name: 'trailing spaces', prompt: USER, response: 'three spaces after   ' },
  { kind: 'chat', name: 'leading newlines', prompt: USER, response: '\n\ntwo newlines first' },
  { kind: 'chat', name: 'trailing newlines', prompt: USER, response: 'two newlines after\n\n' },
  { kind: 'chat', name: 'emoji first', prompt: USER, response: '👩‍👩‍👧‍👦 opens the answer' },
  // Llama 3's tokenizer_config sets clean_up_tokenization_spaces: decode([" ,"]) is ",".
  { kind: 'chat', name: 'spaces before punctuation', prompt: USER, response: "Well , yes . It 's fine !" },
  // Seams: the prompt's last character and the response's first merge into one token.
  { kind: 'raw', name: 'seam "." + "Here"', prompt: 'Read the text below.', response: 'Here it is.' },
  { kind: 'raw', name: 'seam "(" + "a"', prompt: 'Pick one: (', response: 'a) or (b)' },
  { kind: 'raw', name: 'seam " " + "the"', prompt: 'Once upon a time, ', response: 'the end.' },
  { kind: 'raw', name: 'seam "中" + "文"', prompt: 'Language: 中', response: '文 is Chinese.' },
  { kind: 'raw', name: 'seam "e" + U+0301', prompt: 'Cafe', response: '\u0301 au lait' },
  { kind: 'raw', name: 'seam "👩" + ZWJ', prompt: 'Family 👩', response: '\u200d👧 grows' },
  { kind: 'raw', name: 'seam "\\n" + "\\n"', prompt: 'Question?\n', response: '\nAnswer.' },
];

function templateFor(family: Family, c: Case): ResolvedTemplate {
  if (c.kind === 'raw') return resolveTemplate(loadTemplate('raw'), CHAT[family].model);
  const t = CHAT[family].template;
  return typeof t === 'string' ? resolveTemplate(loadTemplate(t), CHAT[family].model) : { ...t };
}

function render(family: Family, c: Case): RenderedPrompt {
  const messages: ChatMessage[] = [{ role: 'user', content: c.prompt }];
  return renderPrompt(templateFor(family, c), messages, c.response, { scoreEndOfTurn: true });
}

// ---------------------------------------------------------------------------
// Server configurations

interface Style {
  label: string;
  style: EchoStyle;
  detok: Detok;
}

const STYLES: Style[] = [
  { label: 'vLLM', style: 'vllm', detok: 'latest' },
  { label: 'vLLM decode-only', style: 'vllm', detok: 'decode' },
  { label: 'vLLM raw pieces', style: 'vllm', detok: 'pieces' },
  { label: 'Fireworks', style: 'fireworks', detok: 'latest' },
];

// ---------------------------------------------------------------------------
// Reference and check

interface Reference {
  ids: number[];
  cover: CoveringTokens;
  logprob: number;
}

/** The reference span: ids from the tokenizer, placed from the vocabulary, covering tokens, summed pseudo log-probs. */
function reference(family: Family, r: RenderedPrompt): Reference {
  const tk = loadRealTokenizer(family);
  const bos = BOS[family];
  const prefix = bos === null ? [] : [tk.hf.token_to_id(bos)!];
  const ids = [...prefix, ...tk.hf.encode(r.text, { add_special_tokens: false }).ids];
  const cover = coveringTokens(placeTokens(tk, r.text, ids, prefix.length), r.responseStart, r.scoredEnd);
  let logprob = 0;
  for (let i = cover.first; i < cover.end; i++) logprob += pseudoLogprob(ids.slice(0, i), ids[i]);
  return { ids, cover, logprob };
}

interface Outcome {
  family: Family;
  style: Style;
  c: Case;
  rendered: RenderedPrompt;
  result: SpanResult;
  /** Token ids the server scored for the joined text. */
  served: number[];
  tokens: string[];
  offsets: number[];
}

/** Differences between an answered span and the reference; empty when the span, its straddles and the sum are exact. */
function differences(o: Outcome, ref: Reference): string[] {
  const out: string[] = [];
  if (!o.result.ok) return out;
  const span = o.result.value.span;
  if (span.firstToken !== ref.cover.first || span.endToken !== ref.cover.end) {
    out.push(`span [${span.firstToken}, ${span.endToken}) ≠ reference [${ref.cover.first}, ${ref.cover.end}): ids ${JSON.stringify(o.served.slice(span.firstToken, span.endToken))} vs ${JSON.stringify(ref.ids.slice(ref.cover.first, ref.cover.end))}`);
  }
  const straddle = (span.straddle ?? []).map((s) => ({ index: s.index, side: s.side }));
  if (JSON.stringify(straddle) !== JSON.stringify(ref.cover.straddle)) out.push(`straddle ${JSON.stringify(straddle)} ≠ reference ${JSON.stringify(ref.cover.straddle)}`);
  if (!(Math.abs(o.result.value.logprob - ref.logprob) <= 1e-9)) out.push(`log-prob ${o.result.value.logprob} ≠ reference ${ref.logprob}`);
  return out;
}

/**
 * exact: the span, its straddles and the sum are the reference's, unflagged.
 * wrong: an unflagged number that differs from the reference (never acceptable).
 * flagged: a number kept as approximate or suspect. refused: no number, a reason.
 */
type Verdict = 'exact' | 'wrong' | 'flagged' | 'refused';

function verdict(o: Outcome, ref: Reference): { verdict: Verdict; details: string[] } {
  if (!o.result.ok) return { verdict: 'refused', details: [o.result.error] };
  const v = o.result.value;
  const flags = [...(v.span.approximate ? [`approximate (${v.span.method})`] : []), ...(v.suspect ?? [])];
  const diff = differences(o, ref);
  if (flags.length) return { verdict: 'flagged', details: [...flags, ...diff] };
  return diff.length ? { verdict: 'wrong', details: diff } : { verdict: 'exact', details: [] };
}

/**
 * Why the echo cannot place the response exactly, from facts the reference
 * knows (never from what extractSpan did); undefined when it can. Then a
 * refusal with a reason, or a flagged number, is the right answer.
 */
function undecidable(o: Outcome, ref: Reference): string | undefined {
  const tk = loadRealTokenizer(o.family);
  const nfc = JSON.stringify(tk.shape.normalizer ?? {}).includes('"NFC"');
  if (nfc && o.rendered.text.normalize('NFC') !== o.rendered.text) {
    return 'the tokenizer NFC-normalizes the text: the echo spells another text than the one sent (DESIGN allows only BOS and the known offset/space normalisations)';
  }
  const j = ref.cover.first;
  if (j > 0 && /\ufffd/.test(o.tokens[j] ?? '') && /\ufffd/.test(o.tokens[j - 1] ?? '')) {
    return 'the response starts inside a run of byte pieces echoed as U+FFFD: their strings do not say which bytes each carries';
  }
  return undefined;
}

/** What is wrong with an outcome; empty when it is acceptable. */
function problems(o: Outcome, ref: Reference): string[] {
  const out: string[] = [];
  if (JSON.stringify(o.served) !== JSON.stringify(ref.ids)) out.push(`the server scored other ids than the reference: ${JSON.stringify(o.served)} vs ${JSON.stringify(ref.ids)}`);
  const v = verdict(o, ref);
  if (v.verdict === 'exact') return out;
  if (v.verdict === 'wrong') return [...out, `silently wrong: ${v.details.join('; ')}`];
  const why = undecidable(o, ref);
  if (why) {
    if (v.verdict === 'refused' && !v.details[0]) out.push('refused without a reason');
    return out;
  }
  return [...out, `${v.verdict} although the echo places the response exactly: ${v.details.join('; ')}`];
}

/** A short picture of the echo around the response start, for failure messages and the report. */
function seamPicture(o: Outcome, ref: Reference): string {
  const from = Math.max(0, ref.cover.first - 2);
  const to = Math.min(o.tokens.length, ref.cover.first + 4);
  const rows: string[] = [];
  for (let i = from; i < to; i++) rows.push(`#${i} id=${o.served[i]} ${JSON.stringify(o.tokens[i])}@${o.offsets[i]}`);
  const got = o.result.ok ? `extractSpan: [${o.result.value.span.firstToken}, ${o.result.value.span.endToken}) method=${o.result.value.span.method} approximate=${o.result.value.span.approximate} logprob=${o.result.value.logprob}` : `extractSpan: error ${o.result.error}`;
  return `prompt=${JSON.stringify(o.rendered.text.slice(0, o.rendered.responseStart).slice(-40))} response=${JSON.stringify(o.rendered.text.slice(o.rendered.responseStart, o.rendered.scoredEnd))}\n  echo: ${rows.join(' | ')}\n  ${got}\n  reference: [${ref.cover.first}, ${ref.cover.end}) straddle=${JSON.stringify(ref.cover.straddle)} logprob=${ref.logprob}`;
}

// ---------------------------------------------------------------------------
// Known failures: causes confirmed in src/core/span.ts (extractSpan), each
// with a minimal repro in the issue-9 report. The cases stay in the file,
// skipped, so that whoever fixes span.ts deletes the entry and sees them pass.

interface KnownFailure {
  why: string;
  styles: string[];
  cases: Partial<Record<Family, string[]>>;
}

const EMOJI_CASES = ['ZWJ family emoji', 'flags', 'skin tones', 'emoji first', 'seam "👩" + ZWJ'];

// Five groups of real-tokenizer cases failed here before span.ts learned them
// (tokens echoed as "" by vLLM's corrected detokenizer and for a lone ▁; space
// runs shortened by one when decoded alone; a seam inside a run of U+FFFD
// pieces taken silently; raw byte-level pieces and <0xNN> byte fallback not
// decoded). They all pass now; a case that regresses can be listed here with
// its reason while it is being fixed, never to hide a wrong number.
const KNOWN_FAILURES: KnownFailure[] = [
];

function knownFailure(family: Family, style: Style, c: Case): KnownFailure | undefined {
  return KNOWN_FAILURES.find((k) => k.styles.includes(style.label) && (k.cases[family] ?? []).includes(c.name));
}

// ---------------------------------------------------------------------------
// The tests

const servers: RealTokenizerServer[] = [];
after(async () => {
  while (servers.length) await servers.pop()!.close();
});

async function start(family: Family, style: EchoStyle, detok: Detok = 'latest', extra: { rawOutput?: 'always' | 'on-request'; idleCloseMs?: number } = {}): Promise<RealTokenizerServer> {
  const s = await startRealTokenizerServer({ family, style, detok, ...extra });
  servers.push(s);
  return s;
}

async function scoreAll(family: Family, style: Style): Promise<Outcome[]> {
  const server = await start(family, style.style, style.detok);
  const rendered = CASES.map((c) => render(family, c));
  const scorer = new CompletionsScorer({ baseURL: server.baseURL, model: CHAT[family].model, batchSize: CASES.length, maxRetries: 0 });
  const results = await scorer.scoreBatch(rendered.map((r) => ({ rendered: r })));
  return CASES.map((c, i) => outcomeOf(server, family, style, c, rendered[i], results[i]));
}

function outcomeOf(server: RealTokenizerServer, family: Family, style: Style, c: Case, rendered: RenderedPrompt, result: SpanResult): Outcome {
  const served = server.served.find((s) => 'text' in s.prompt && s.prompt.text === rendered.text);
  assert.ok(served?.logprobs, `the server never echoed case ${c.name}`);
  return { family, style, c, rendered, result, served: served.ids, tokens: served.logprobs.tokens, offsets: served.logprobs.text_offset };
}

async function post(server: RealTokenizerServer, body: Record<string, unknown>): Promise<{ status: number; body: Json }> {
  const r = await fetch(`${server.baseURL}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as Json };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

for (const family of FAMILIES) {
  describe(`real tokenizer ${family}`, function () {
    this.timeout(60_000);
    const outcomes = new Map<string, Outcome[]>();
    before(async () => {
      loadRealTokenizer(family);
      for (const style of STYLES) outcomes.set(style.label, await scoreAll(family, style));
    });

    for (const style of STYLES) {
      describe(style.label, () => {
        CASES.forEach((c, i) => {
          const known = knownFailure(family, style, c);
          const title = `${c.kind === 'raw' ? 'raw' : 'chat'}: ${c.name}`;
          const body = () => {
            const o = outcomes.get(style.label)![i];
            const ref = reference(family, o.rendered);
            assert.deepEqual(problems(o, ref), [], `${family} / ${style.label} / ${c.name}\n  ${seamPicture(o, ref)}`);
          };
          if (known) it.skip(`${title} (KNOWN FAILURE: ${known.why})`, body);
          else it(title, body);
        });
      });
    }
  });
}

describe('real tokenizer server', function () {
  this.timeout(60_000);

  it('pseudoLogprob is strictly negative, finite and depends on the context', () => {
    const seen = new Set<number>();
    for (let ctx = 0; ctx < 50; ctx++) {
      const v = pseudoLogprob([1, 2, ctx], 42);
      assert.ok(Number.isFinite(v) && v < 0 && v > -8.06, String(v));
      seen.add(v);
    }
    assert.ok(seen.size > 45, 'the same token gets another value in another context');
    assert.notEqual(pseudoLogprob([1, 2], 3), pseudoLogprob([2, 1], 3));
    assert.equal(pseudoLogprob([1, 2], 3), pseudoLogprob([1, 2], 3));
  });

  for (const family of FAMILIES) {
    it(`${family}: vLLM echo of a text prompt (BOS ${BOS[family] ?? 'none'}, null first, offsets = running code points of the strings, N+1 alternatives)`, async () => {
      const s = await start(family, 'vllm');
      const text = 'Hi 中文 😀 e\u0301!';
      const { status, body } = await post(s, { model: family, prompt: text, echo: true, max_tokens: 0, logprobs: 3 });
      assert.equal(status, 200, JSON.stringify(body));
      const lp = body.choices[0].logprobs;
      const ids = s.served.at(-1)!.ids;
      const bos = BOS[family];
      assert.equal(ids[0] === s.tokenizer.hf.token_to_id(bos ?? '\0'), bos !== null, `BOS ${bos}`);
      assert.deepEqual(ids.slice(bos === null ? 0 : 1), s.tokenizer.hf.encode(text, { add_special_tokens: false }).ids);
      assert.equal(body.choices[0].text, text);
      assert.equal(lp.token_logprobs[0], null);
      assert.equal(lp.top_logprobs[0], null);
      assert.equal(lp.tokens[0], s.tokenizer.decode([ids[0]]));
      let off = 0;
      lp.tokens.forEach((t: string, i: number) => {
        assert.equal(lp.text_offset[i], off);
        off += [...t].length;
        if (i === 0) return;
        assert.equal(lp.token_logprobs[i], pseudoLogprob(ids.slice(0, i), ids[i]));
        const keys = Object.keys(lp.top_logprobs[i]);
        assert.ok(keys.length >= 1 && keys.length <= 4, `${keys.length} alternatives`);
        assert.equal(lp.top_logprobs[i][t], lp.token_logprobs[i]);
      });
      assert.equal(body.usage.prompt_tokens, ids.length);
      assert.equal(lp.token_ids, undefined, 'vLLM does not answer token ids');
    });
  }

  it('token-id prompts are echoed as given, without a BOS, one choice per list', async () => {
    const s = await start('llama3_1', 'vllm');
    const a = s.tokenizer.encodePlain('Hello world');
    const b = s.tokenizer.encodePlain('Bonjour');
    const one = await post(s, { model: 'm', prompt: a, echo: true, max_tokens: 0, logprobs: 0 });
    assert.equal(one.status, 200);
    assert.deepEqual(s.served.at(-1)!.ids, a);
    assert.deepEqual(one.body.choices[0].logprobs.tokens, ['Hello', ' world']);
    assert.equal(one.body.choices[0].text, 'Hello world');
    const two = await post(s, { model: 'm', prompt: [a, b], echo: true, max_tokens: 0, logprobs: 0 });
    assert.equal(two.body.choices.length, 2);
    assert.deepEqual(s.served.slice(-2).map((x) => x.ids), [a, b]);
    const bad = await post(s, { model: 'm', prompt: [1, s.tokenizer.vocabSize], echo: true, max_tokens: 0 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_token_id');
  });

  it('Fireworks style adds logprobs.token_ids, and raw_output with the prompt ids when asked', async () => {
    const s = await start('llama2', 'fireworks');
    const plain = await post(s, { model: 'm', prompt: 'Hi there', echo: true, max_tokens: 0, logprobs: 1 });
    const ids = s.served.at(-1)!.ids;
    assert.equal(ids[0], s.tokenizer.hf.token_to_id('<s>'), 'auto-BOS');
    assert.deepEqual(plain.body.choices[0].logprobs.token_ids, ids);
    assert.equal(plain.body.choices[0].raw_output, undefined);
    const raw = await post(s, { model: 'm', prompt: 'Hi there', echo: true, max_tokens: 0, logprobs: 1, raw_output: true });
    assert.deepEqual(raw.body.choices[0].raw_output.prompt_token_ids, ids);
    assert.deepEqual(raw.body.choices[0].raw_output.completion_token_ids, []);
    const always = await start('llama2', 'fireworks', 'latest', { rawOutput: 'always' });
    const a = await post(always, { model: 'm', prompt: 'Hi', echo: true, max_tokens: 0, logprobs: 0 });
    assert.ok(a.body.choices[0].raw_output.prompt_token_ids.length > 0);
  });

  it('validates requests as a server does', async () => {
    const s = await start('qwen3', 'vllm');
    assert.equal((await post(s, { model: 'm', prompt: 'x', echo: true, max_tokens: 5 })).status, 400);
    assert.equal((await post(s, { model: 'm', prompt: 'x', echo: true, max_tokens: 0, logprobs: 21 })).status, 400);
    assert.equal((await post(s, { model: 'm', prompt: [], echo: true, max_tokens: 0 })).status, 400);
    assert.equal((await post(s, { prompt: 'x', echo: true, max_tokens: 0 })).status, 400);
    const r = await fetch(`${s.baseURL}/models`);
    assert.equal(((await r.json()) as Json).data[0].id, 'qwen3');
  });

  it('closes itself when idle', async () => {
    const s = await start('qwen3', 'vllm', 'latest', { idleCloseMs: 50 });
    await new Promise((r) => setTimeout(r, 200));
    await assert.rejects(fetch(`${s.baseURL}/models`));
  });

  it('vLLM decode modes: "" for leading byte pieces (latest), U+FFFD (decode-only), vocabulary pieces (raw pieces)', async () => {
    // 👩 is F0 9F 91 A9: Llama 3 splits " 👩" into "ĠðŁĳ" (space + 3 bytes) and "©" (the last byte).
    const text = 'A 👩';
    const want = { latest: ['A', '', ' 👩'], decode: ['A', ' \ufffd', '\ufffd'], pieces: ['A', 'ĠðŁĳ', '©'] };
    for (const detok of ['latest', 'decode', 'pieces'] as Detok[]) {
      const s = await start('llama3', 'vllm', detok);
      const { body } = await post(s, { model: 'm', prompt: text, echo: true, max_tokens: 0, logprobs: 0 });
      assert.deepEqual(body.choices[0].logprobs.tokens, want[detok], detok);
    }
  });
});

describe('real tokenizer checks can fail (negative controls)', function () {
  this.timeout(60_000);
  const family: Family = 'llama3_1';
  const vllm = STYLES[0];
  let exact: Outcome;
  let seam: Outcome;
  before(async () => {
    const s = await start(family, 'vllm');
    const scorer = new CompletionsScorer({ baseURL: s.baseURL, model: CHAT[family].model, maxRetries: 0 });
    const plain = CASES.find((c) => c.name === 'plain ASCII')!;
    const dot = CASES.find((c) => c.name === 'seam "." + "Here"')!;
    const [r1, r2] = [render(family, plain), render(family, dot)];
    const [a, b] = await scorer.scoreBatch([{ rendered: r1 }, { rendered: r2 }]);
    exact = outcomeOf(s, family, vllm, plain, r1, a);
    seam = outcomeOf(s, family, vllm, dot, r2, b);
  });

  it('the controls start from exact outcomes', () => {
    assert.deepEqual(problems(exact, reference(family, exact.rendered)), []);
    assert.deepEqual(problems(seam, reference(family, seam.rendered)), []);
  });

  it('a wrong expected sum is caught', () => {
    const ref = reference(family, exact.rendered);
    const bad = problems(exact, { ...ref, logprob: ref.logprob + 1e-6 });
    assert.equal(bad.length, 1);
    assert.match(bad[0], /silently wrong: log-prob/);
  });

  it('a reference misaligned by one character is caught', () => {
    const r = seam.rendered;
    const ref = reference(family, { ...r, responseStart: r.responseStart - 1 });
    assert.match(problems(seam, ref).join('\n'), /silently wrong: (span|straddle)/);
  });

  it('a number that silently differs from the reference is caught', () => {
    const ref = reference(family, exact.rendered);
    assert.ok(exact.result.ok);
    const shifted: Outcome = { ...exact, result: { ok: true, value: { ...exact.result.value, span: { ...exact.result.value.span, firstToken: exact.result.value.span.firstToken + 1 } } } };
    assert.match(problems(shifted, ref).join('\n'), /silently wrong: span/);
  });

  it('a server with another tokenizer is caught', async () => {
    const s = await start('qwen3', 'vllm');
    const scorer = new CompletionsScorer({ baseURL: s.baseURL, model: 'qwen3', maxRetries: 0 });
    const [res] = await scorer.scoreBatch([{ rendered: exact.rendered }]);
    const other = outcomeOf(s, family, vllm, exact.c, exact.rendered, res);
    assert.match(problems(other, reference(family, exact.rendered)).join('\n'), /other ids than the reference/);
  });

  it('a refused record is not acceptable where the echo places the response', () => {
    const ref = reference(family, exact.rendered);
    const refused: Outcome = { ...exact, result: { ok: false, error: 'made up' } };
    assert.match(problems(refused, ref).join('\n'), /refused although the echo places the response exactly/);
  });
});

// ---------------------------------------------------------------------------
// Seam effect: joined echo minus separate tokenization, per family

describe('seam effect (joined − separate tokenization)', function () {
  this.timeout(120_000);
  const seamCases = CASES.filter((c) => c.kind === 'raw');
  const rows: string[][] = [];

  for (const family of FAMILIES) {
    it(family, async () => {
      const s = await start(family, 'vllm');
      for (const c of [...seamCases, CASES.find((x) => x.name === 'plain ASCII')!]) {
        const rendered = render(family, c);
        const m = await measureSeamEffect({ baseURL: s.baseURL, model: family, tokenizer: s.tokenizer, rendered });
        assert.ok(Number.isFinite(m.delta));
        // Same token ids at the seam and before it: the two ways score the same numbers.
        const prompt = s.tokenizer.encodePrompt(rendered.text.slice(0, rendered.responseStart));
        const joined = s.tokenizer.encodePrompt(rendered.text);
        const samePrefix = prompt.every((id, i) => joined[i] === id);
        if (m.sameTokens && samePrefix) assert.equal(m.delta, 0);
        const piece = (ids: number[]) => ids.slice(0, 2).map((id) => JSON.stringify(s.tokenizer.piece(id))).join(' ');
        rows.push([family, c.name, piece(m.joinedIds), piece(m.separateIds), String(m.joinedIds.length - m.separateIds.length), m.delta.toFixed(4)]);
      }
    });
  }

  after(() => {
    const head = ['family', 'case', 'joined: first pieces', 'separate: first pieces', 'Δ tokens', 'Δ log-prob'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)));
    const line = (r: string[]) => r.map((x, i) => x + ' '.repeat(widths[i] - [...x].length)).join(' | ');
    console.log(['', 'Seam effect (vLLM echo of the joined text vs prompt and response tokenized apart, sent as ids):', line(head), widths.map((w) => '-'.repeat(w)).join('-|-'), ...rows.map(line), ''].join('\n'));
  });
});
