// The server emulations (test/support/emulations) checked at the raw HTTP
// level with plain fetch: each documented trait is asserted, and every
// log-prob a deterministic emulation returns is compared with the toy model's
// value computed here from the tokenizer and model directly (the context
// recurrence re-derived below, not the emulation core's).

import * as assert from 'assert';
import { hash32, ToyTokenizer } from '../support/toy-tokenizer';
import { ToyModel } from '../support/toy-model';
import { EmulationServer, startFireworks, startLlamaCpp, startNoisy, startTgi, startTogether, startVllm } from '../support/emulations';

const MODEL = 'emu-model';
const BOS = '<|begin_of_text|>';
const tk = new ToyTokenizer();

interface RefToken {
  id: number;
  text: string;
}

/** What the emulated model sees for a text prompt: BOS (when added) then the toy tokenizer's tokens. */
function refTokens(text: string, bos: string | null = BOS): RefToken[] {
  const toks: RefToken[] = tk.encode(text).map((t) => ({ id: t.id, text: t.text }));
  return bos ? [{ id: tk.tokenOf(bos, true).id, text: bos }, ...toks] : toks;
}

/** log p(token_i | tokens_<i): the context is a running hash over every earlier token id. */
function refValues(tokens: RefToken[], negInf: ReadonlySet<string> = new Set()): number[] {
  const m = new ToyModel(MODEL);
  const out = [NaN];
  let ctx = 0;
  for (let i = 1; i < tokens.length; i++) {
    ctx = hash32(`${ctx}\u0000${tokens[i - 1].id}`);
    out.push(negInf.has(tokens[i].text) ? -Infinity : m.logprob(ctx, tokens[i].id));
  }
  return out;
}

async function post(url: string, body: unknown): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await r.text();
  let json: any = undefined;
  try {
    json = JSON.parse(text);
  } catch {
    /* text body */
  }
  return { status: r.status, json, text };
}

const echoBody = (prompt: unknown, extra: Record<string, unknown> = {}) => ({ model: MODEL, prompt, echo: true, max_tokens: 0, logprobs: 1, ...extra });

function assertValues(got: Array<number | null>, want: number[], what: string): void {
  assert.strictEqual(got.length, want.length, `${what}: length`);
  assert.strictEqual(got[0], null, `${what}: first token has no context`);
  for (let i = 1; i < want.length; i++) assert.strictEqual(got[i], want[i], `${what}: token ${i}`);
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  assert.ok(Math.abs(sum(got.slice(1) as number[]) - sum(want.slice(1))) < 1e-9, `${what}: sum`);
}

const LONG_PROMPT = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
const LLAMA3_PROBE =
  '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>';
const CHATML_PROBE = '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>';

describe('server emulations (raw HTTP)', function () {
  const servers: EmulationServer[] = [];
  const track = async (p: Promise<EmulationServer>) => {
    const s = await p;
    servers.push(s);
    return s;
  };
  after(async () => {
    await Promise.all(servers.map((s) => s.close()));
  });

  describe('vLLM', () => {
    let s: EmulationServer;
    before(async () => {
      s = await track(startVllm());
    });

    it('echoes the prompt with max_tokens 0: text, first null, every value the model’s', async () => {
      const prompt = 'The cat sat on the mat.';
      const r = await post(`${s.url}/completions`, echoBody(prompt));
      assert.strictEqual(r.status, 200);
      const c = r.json.choices[0];
      assert.strictEqual(c.text, prompt);
      const want = refTokens(prompt);
      assert.deepStrictEqual(c.logprobs.tokens, want.map((t) => t.text));
      assert.strictEqual(c.logprobs.top_logprobs[0], null);
      assertValues(c.logprobs.token_logprobs, refValues(want), 'vllm echo');
      assert.ok(Array.isArray(c.prompt_logprobs) && c.prompt_logprobs[0] === null, 'prompt_logprobs beside the echo');
    });

    it('counts text_offset in code points over the token strings, BOS text included', async () => {
      const r = await post(`${s.url}/completions`, echoBody('Hi 😀 there'));
      const lp = r.json.choices[0].logprobs;
      // By hand: BOS (17 code points), "Hi", " ", "" (first byte piece), "😀" (1 code point, 2 UTF-16 units), " the", "re".
      assert.deepStrictEqual(lp.tokens, [BOS, 'Hi', ' ', '', '😀', ' the', 're']);
      assert.deepStrictEqual(lp.text_offset, [0, 17, 19, 20, 20, 21, 25]);
    });

    it('adds a BOS to a text prompt that already starts with it (double BOS); add_special_tokens false does not', async () => {
      const r = await post(`${s.url}/completions`, echoBody(`${BOS}Hello`));
      assert.deepStrictEqual(r.json.choices[0].logprobs.tokens.slice(0, 3), [BOS, BOS, 'Hell']);
      const once = await post(`${s.url}/completions`, echoBody(`${BOS}Hello`, { add_special_tokens: false }));
      assert.deepStrictEqual(once.json.choices[0].logprobs.tokens.slice(0, 2), [BOS, 'Hell']);
      assertValues(once.json.choices[0].logprobs.token_logprobs, refValues(refTokens(`${BOS}Hello`, null)), 'no added BOS');
    });

    it('clamps -inf to -9999 in token_logprobs and top_logprobs', async () => {
      const prompt = 'a<|reserved_special_token_0|>b';
      const r = await post(`${s.url}/completions`, echoBody(prompt));
      const lp = r.json.choices[0].logprobs;
      const i = lp.tokens.indexOf('<|reserved_special_token_0|>');
      assert.ok(i > 0);
      assert.strictEqual(lp.token_logprobs[i], -9999);
      assert.strictEqual(lp.top_logprobs[i]['<|reserved_special_token_0|>'], -9999);
      const want = refValues(refTokens(prompt), new Set(['<|reserved_special_token_0|>'])).map((v) => Math.max(v, -9999));
      assertValues(lp.token_logprobs, want, 'clamped');
    });

    it('accepts logprobs 20 (prompt token + top 20 at most) and refuses 21', async () => {
      const ok = await post(`${s.url}/completions`, echoBody('one two three', { logprobs: 20 }));
      assert.strictEqual(ok.status, 200);
      const tops = ok.json.choices[0].logprobs.top_logprobs.slice(1) as Array<Record<string, number>>;
      for (const t of tops) assert.ok(Object.keys(t).length >= 20 && Object.keys(t).length <= 21);
      const bad = await post(`${s.url}/completions`, echoBody('one two three', { logprobs: 21 }));
      assert.strictEqual(bad.status, 400);
      assert.strictEqual(bad.json.error.message, 'Requested sample logprobs of 21, which is greater than max allowed: 20');
    });

    it('takes list prompts (one choice each, equal to alone) and token-id prompts as given (no BOS)', async () => {
      const a = 'First prompt here.';
      const b = 'Second, longer prompt here.';
      const list = await post(`${s.url}/completions`, echoBody([a, b]));
      assert.strictEqual(list.json.choices.length, 2);
      assertValues(list.json.choices[0].logprobs.token_logprobs, refValues(refTokens(a)), 'list[0]');
      assertValues(list.json.choices[1].logprobs.token_logprobs, refValues(refTokens(b)), 'list[1]');

      // Toy ids are hashes: the server can decode them once it has seen their text.
      await post(`${s.url}/completions`, echoBody('Hello world'));
      const ids = refTokens('Hello world', null).map((t) => t.id);
      const byIds = await post(`${s.url}/completions`, echoBody(ids));
      assert.strictEqual(byIds.status, 200);
      const c = byIds.json.choices[0];
      assert.strictEqual(c.text, 'Hello world');
      assert.strictEqual(c.logprobs.tokens[0], 'Hell', 'no BOS added to token ids');
      assertValues(c.logprobs.token_logprobs, refValues(refTokens('Hello world', null)), 'ids');
      const two = await post(`${s.url}/completions`, echoBody([ids, ids.slice(0, 2)]));
      assert.strictEqual(two.json.choices.length, 2);
    });

    it('refuses max_tokens 0 without echo; with max_tokens 1 echoes prompt and one generated token', async () => {
      const r = await post(`${s.url}/completions`, { model: MODEL, prompt: 'x', max_tokens: 0, logprobs: 1 });
      assert.strictEqual(r.status, 400);
      const one = await post(`${s.url}/completions`, echoBody('Hello there', { max_tokens: 1 }));
      const lp = one.json.choices[0].logprobs;
      assert.strictEqual(lp.tokens.length, refTokens('Hello there').length + 1);
      assert.ok(one.json.choices[0].text.startsWith('Hello there'));
    });

    it('stale prefix cache: A, B sharing A’s prefix, A again answer differently', async () => {
      const st = await track(startVllm({ stalePrefixCache: true }));
      const A = 'Shared system prompt words. Then question A?';
      const B = 'Shared system prompt words. Then another question B!';
      const a1 = (await post(`${st.url}/completions`, echoBody(A))).json.choices[0].logprobs.token_logprobs;
      const b1 = (await post(`${st.url}/completions`, echoBody(B))).json.choices[0].logprobs.token_logprobs;
      const a2 = (await post(`${st.url}/completions`, echoBody(A))).json.choices[0].logprobs.token_logprobs;
      assertValues(a1, refValues(refTokens(A)), 'first A is fresh');
      const refB = refValues(refTokens(B));
      assert.ok(b1.slice(1, 5).some((v: number, i: number) => v !== refB[i + 1]), 'B’s shared prefix comes from A’s cache');
      assert.notDeepStrictEqual(a2, a1, 'A again differs');
      const a3 = (await post(`${st.url}/completions`, echoBody(A))).json.choices[0].logprobs.token_logprobs;
      assert.deepStrictEqual(a3, a2, 'cache hits agree with each other');
      for (const v of [...a1, ...b1, ...a2].slice(1)) if (v !== null) assert.ok(v <= 0);
    });

    it('batch variance: a prompt inside a list answers slightly different numbers than alone', async () => {
      const bv = await track(startVllm({ batchVariant: 0.02 }));
      const p = 'A prompt scored alone and in a batch.';
      const alone = (await post(`${bv.url}/completions`, echoBody(p))).json.choices[0].logprobs.token_logprobs;
      const inList = (await post(`${bv.url}/completions`, echoBody([p, 'another prompt of a different length']))).json.choices[0].logprobs.token_logprobs;
      assertValues(alone, refValues(refTokens(p)), 'alone is exact');
      const d = alone.slice(1).map((v: number, i: number) => Math.abs(v - inList[i + 1]));
      assert.ok(Math.max(...d) > 0, 'differs in a batch');
      assert.ok(Math.max(...d) <= 0.01 + 1e-12, 'by at most batchVariant/2');
    });

    it('instruct trait: "4" right after the llama3 assistant header is about -0.05, else far below -2', async () => {
      const inst = await track(startVllm({ chat: 'llama3' }));
      const answerAt = (lp: any) => lp.tokens.indexOf('4');
      const good = (await post(`${inst.url}/completions`, echoBody(LLAMA3_PROBE, { add_special_tokens: false }))).json.choices[0].logprobs;
      assert.strictEqual(good.token_logprobs[answerAt(good)], -0.05);
      const ref = refValues(refTokens(LLAMA3_PROBE, null));
      good.token_logprobs.forEach((v: number | null, i: number) => {
        if (i > 0 && i !== answerAt(good)) assert.strictEqual(v, ref[i], `token ${i} is the toy value`);
      });
      const wrong = (await post(`${inst.url}/completions`, echoBody(CHATML_PROBE))).json.choices[0].logprobs;
      const refWrong = refValues(refTokens(CHATML_PROBE));
      const k = answerAt(wrong);
      assert.strictEqual(wrong.token_logprobs[k], refWrong[k] - 5, 'toy value minus the wrong-template penalty');
      assert.ok(wrong.token_logprobs[k] < -5);
      // Without the trait the same token is the plain toy value.
      const plain = (await post(`${s.url}/completions`, echoBody(CHATML_PROBE))).json.choices[0].logprobs;
      assert.strictEqual(plain.token_logprobs[k], refWrong[k]);
    });

    it('chatml instruct trait recognises its own header', async () => {
      const inst = await track(startVllm({ chat: 'chatml', bos: null }));
      const lp = (await post(`${inst.url}/completions`, echoBody(CHATML_PROBE))).json.choices[0].logprobs;
      assert.strictEqual(lp.token_logprobs[lp.tokens.indexOf('4')], -0.05);
    });
  });

  describe('nondeterministic server', () => {
    it('two answers differ; the largest token |Δ| on ~200 tokens is within [0.8, 1.0]·level; values stay ≤ 0', async () => {
      const level = 0.9;
      const n = await track(startNoisy({ level, seed: 7 }));
      const want = refValues(refTokens(LONG_PROMPT));
      assert.ok(want.length >= 190, `long prompt: ${want.length} tokens`);
      const a = (await post(`${n.url}/completions`, echoBody(LONG_PROMPT))).json.choices[0].logprobs.token_logprobs;
      const b = (await post(`${n.url}/completions`, echoBody(LONG_PROMPT))).json.choices[0].logprobs.token_logprobs;
      assert.notDeepStrictEqual(a, b);
      let maxD = 0;
      for (let i = 1; i < a.length; i++) {
        assert.ok(a[i] <= 0 && b[i] <= 0);
        assert.ok(Math.abs(a[i] - want[i]) <= level / 2 + 1e-12, 'each answer within level/2 of the model');
        maxD = Math.max(maxD, Math.abs(a[i] - b[i]));
      }
      assert.ok(maxD >= 0.8 * level && maxD <= level, `max |Δ| ${maxD}`);
    });
  });

  describe('Fireworks', () => {
    let s: EmulationServer;
    before(async () => {
      s = await track(startFireworks());
    });

    it('raw_output shows the auto-BOS (doubled when the text has it); token_ids; values the model’s', async () => {
      const bosId = tk.tokenOf(BOS, true).id;
      const r = await post(`${s.url}/completions`, echoBody('Hello world', { raw_output: true }));
      assert.strictEqual(r.status, 200);
      const c = r.json.choices[0];
      const want = refTokens('Hello world');
      assert.deepStrictEqual(c.raw_output.prompt_token_ids, want.map((t) => t.id));
      assert.strictEqual(c.raw_output.prompt_token_ids[0], bosId);
      assert.deepStrictEqual(c.logprobs.token_ids, want.map((t) => t.id));
      assertValues(c.logprobs.token_logprobs, refValues(want), 'fireworks');
      const dbl = await post(`${s.url}/completions`, echoBody(`${BOS}Hello`, { raw_output: true }));
      assert.deepStrictEqual(dbl.json.choices[0].raw_output.prompt_token_ids.slice(0, 2), [bosId, bosId]);
      const plain = await post(`${s.url}/completions`, echoBody('Hello world'));
      assert.strictEqual(plain.json.choices[0].raw_output, undefined, 'raw_output only on request');
    });

    it('text_offset: code points into the prompt as sent, BOS zero-width (chosen)', async () => {
      const r = await post(`${s.url}/completions`, echoBody('Hi 😀 there'));
      // BOS 0, "Hi" 0, " " 2, both emoji pieces 3, " the" 4 (5 in UTF-16), "re" 8.
      assert.deepStrictEqual(r.json.choices[0].logprobs.text_offset, [0, 0, 2, 3, 3, 4, 8]);
    });
  });

  describe('Together', () => {
    let s: EmulationServer;
    before(async () => {
      s = await track(startTogether());
    });

    it('puts the prompt log-probs in a top-level prompt field, without text_offset', async () => {
      const prompt = 'Together scores this prompt.';
      const r = await post(`${s.url}/completions`, echoBody(prompt));
      assert.strictEqual(r.status, 200, 'max_tokens 0 accepted (chosen)');
      assert.strictEqual(r.json.prompt.length, 1);
      const part = r.json.prompt[0];
      assert.strictEqual(part.text, prompt);
      assert.deepStrictEqual(Object.keys(part.logprobs).sort(), ['token_logprobs', 'tokens']);
      const want = refTokens(prompt);
      assert.deepStrictEqual(part.logprobs.tokens, want.map((t) => t.text));
      assertValues(part.logprobs.token_logprobs, refValues(want), 'together');
      const c = r.json.choices[0];
      assert.strictEqual(c.text, '');
      assert.strictEqual(c.logprobs.text_offset, undefined);
      assert.deepStrictEqual(c.logprobs.tokens, []);
    });

    it('refuses logprobs above 20, and max_tokens 0 when told to', async () => {
      assert.strictEqual((await post(`${s.url}/completions`, echoBody('x', { logprobs: 21 }))).status, 400);
      const strict = await track(startTogether({ maxTokensZero: 'reject' }));
      assert.strictEqual((await post(`${strict.url}/completions`, echoBody('x'))).status, 400);
      assert.strictEqual((await post(`${strict.url}/completions`, echoBody('x', { max_tokens: 1 }))).status, 200);
    });
  });

  describe('TGI', () => {
    const root = (s: EmulationServer) => s.url.replace(/\/v1$/, '');

    it('refuses max_tokens 0 on /v1/completions and max_new_tokens 0 on /generate with the validation error', async () => {
      const s = await track(startTgi());
      const r = await post(`${s.url}/completions`, echoBody('Hello'));
      assert.strictEqual(r.status, 422);
      assert.deepStrictEqual(r.json, { error: 'Input validation error: `max_new_tokens` must be strictly positive', error_type: 'validation' });
      const g = await post(`${root(s)}/generate`, { inputs: 'Hello', parameters: { max_new_tokens: 0 } });
      assert.strictEqual(g.status, 422);
      assert.strictEqual(g.json.error, 'Input validation error: `max_new_tokens` must be strictly positive');
    });

    it('answers max_tokens 1 with echo ignored and no log-probs; /generate prefill is empty by default', async () => {
      const s = await track(startTgi());
      const r = await post(`${s.url}/completions`, echoBody('Hello there', { max_tokens: 1 }));
      assert.strictEqual(r.status, 200);
      const c = r.json.choices[0];
      assert.strictEqual(c.logprobs, null);
      assert.ok(!c.text.startsWith('Hello'), 'generated text only');
      assert.strictEqual(r.json.usage.prompt_tokens, 0, 'counts the (empty) prefill');
      const g = await post(`${root(s)}/generate`, { inputs: 'Hello there', parameters: { max_new_tokens: 1, details: true, decoder_input_details: true } });
      assert.strictEqual(g.status, 200);
      assert.deepStrictEqual(g.json.details.prefill, []);
      assert.strictEqual(g.json.details.tokens.length, 1);
    });

    it('with --enable-prefill-logprobs, /generate prefill holds the prompt log-probs (BOS first, null)', async () => {
      const s = await track(startTgi({ prefillLogprobs: true, modelName: MODEL }));
      const prompt = 'Score me, TGI.';
      const g = await post(`${root(s)}/generate`, { inputs: prompt, parameters: { max_new_tokens: 1, decoder_input_details: true } });
      const want = refTokens(prompt);
      const prefill = g.json.details.prefill as Array<{ id: number; text: string; logprob: number | null }>;
      assert.deepStrictEqual(prefill.map((t) => t.id), want.map((t) => t.id));
      assertValues(prefill.map((t) => t.logprob), refValues(want), 'tgi prefill');
      const r = await post(`${s.url}/completions`, { model: MODEL, prompt, max_tokens: 1 });
      assert.strictEqual(r.json.choices[0].logprobs, null, 'still none on /v1/completions');
      assert.strictEqual(r.json.usage.prompt_tokens, want.length);
    });
  });

  describe('llama.cpp server', () => {
    it('accepts echo but returns no prompt log-probs', async () => {
      const s = await track(startLlamaCpp());
      const zero = await post(`${s.url}/completions`, echoBody('Hello there', { logprobs: 5 }));
      assert.strictEqual(zero.status, 200);
      assert.strictEqual(zero.json.choices[0].text, '');
      assert.strictEqual(zero.json.choices[0].logprobs, null);
      const one = await post(`${s.url}/completions`, echoBody('Hello there', { max_tokens: 1, logprobs: 5 }));
      const c = one.json.choices[0];
      assert.ok(!c.text.startsWith('Hello'), 'echo has no effect');
      assert.strictEqual(c.logprobs.content.length, 1, 'generated token only');
      assert.strictEqual(c.logprobs.token_logprobs, undefined);
    });
  });

  describe('lifecycle', () => {
    it('binds 127.0.0.1 and counts and logs requests', async () => {
      const s = await track(startVllm());
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      await post(`${s.url}/completions`, echoBody('logged'));
      await fetch(`${s.url}/models`);
      assert.strictEqual(s.requests(), 2);
      assert.strictEqual((s.log[0].body as { prompt: string }).prompt, 'logged');
      assert.strictEqual(s.log[1].path, '/v1/models');
    });

    it('stops by itself when idle', async () => {
      const s = await startVllm({ idleMs: 50 });
      // Each probe re-arms the idle timer; the pause between probes is longer than it, so the server closes.
      let stopped = false;
      for (let i = 0; i < 40 && !stopped; i++) {
        await new Promise((r) => setTimeout(r, 250));
        stopped = await fetch(`${s.url}/models`).then(
          () => false,
          () => true,
        );
      }
      assert.ok(stopped, 'still answering after 40 idle pauses');
    });
  });
});
