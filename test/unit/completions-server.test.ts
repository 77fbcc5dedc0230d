// Tests of the toy completions server, over real HTTP, with the `openai`
// client and plain fetch. Expected tokens and offsets are worked out by hand
// from the tokenizer's stated rules (GPT-2 pre-tokenizer, chunks of ≤ 4 code
// points, non-BMP characters as two byte pieces) and from Unicode facts
// (😀 = U+1F600 = F0 9F 98 80 in UTF-8, two UTF-16 units, one code point;
// é and ñ are one UTF-16 unit, one code point, two UTF-8 bytes).

import * as assert from 'assert';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { spawn } from 'child_process';
import OpenAI from 'openai';
import { CompletionsServer, CompletionsServerOptions, startCompletionsServer } from '../support/completions-server';
import { ToyTokenizer } from '../support/toy-tokenizer';
import { ToyModel } from '../support/toy-model';

const servers: CompletionsServer[] = [];
async function start(opts?: CompletionsServerOptions): Promise<CompletionsServer> {
  const s = await startCompletionsServer(opts);
  servers.push(s);
  return s;
}

function client(s: CompletionsServer, apiKey = 'sk-test'): OpenAI {
  return new OpenAI({ baseURL: s.baseURL, apiKey, maxRetries: 0, timeout: 10_000 });
}

async function post(s: CompletionsServer, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${s.baseURL}/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
const json = async (r: Response): Promise<Json> => r.json();

async function score(s: CompletionsServer, prompt: string | string[], extra: Record<string, unknown> = {}): Promise<Json> {
  const r = await post(s, { model: 'toy-a', prompt, echo: true, max_tokens: 0, logprobs: 1, ...extra });
  const body = await json(r);
  assert.strictEqual(r.status, 200, JSON.stringify(body));
  return body;
}

const EMOJI_TEXT = 'Olé 😀 niño!';

afterEach(async () => {
  while (servers.length) await servers.pop()!.close();
});

describe('toy tokenizer', () => {
  it('splits by the GPT-2 pattern, chunks of ≤ 4 code points, UTF-16 start/end', () => {
    const t = new ToyTokenizer();
    const toks = t.encode('internationalization is fun');
    assert.deepStrictEqual(
      toks.map((x) => x.text),
      ['inte', 'rnat', 'iona', 'liza', 'tion', ' is', ' fun'],
    );
    assert.deepStrictEqual(toks.map((x) => [x.start, x.end]), [[0, 4], [4, 8], [8, 12], [12, 16], [16, 20], [20, 23], [23, 27]]);
  });

  it('matches special tokens first, whole', () => {
    const t = new ToyTokenizer();
    assert.deepStrictEqual(
      t.encode('<|im_start|>user\nhi<|im_end|>').map((x) => x.text),
      ['<|im_start|>', 'user', '\n', 'hi', '<|im_end|>'],
    );
    assert.deepStrictEqual(
      t.encode('<s>[INST] hi [/INST]</s><｜User｜>').map((x) => x.text),
      ['<s>', '[INST]', ' hi', ' ', '[/INST]', '</s>', '<｜User｜>'],
    );
    assert.ok(t.encode('<s>').every((x) => x.special));
    // With no special tokens the same characters are ordinary text, and get another id.
    const plain = new ToyTokenizer({ specialTokens: [] });
    assert.deepStrictEqual(plain.encode('<s>').map((x) => x.text), ['<', 's', '>']);
    assert.notStrictEqual(plain.tokenOf('<s>', false).id, t.tokenOf('<s>').id);
  });

  it('gives stable ids and round-trips text, emoji included', () => {
    const a = new ToyTokenizer().encode(EMOJI_TEXT);
    const b = new ToyTokenizer({ partialBytes: 'bytes' }).encode(EMOJI_TEXT);
    assert.deepStrictEqual(a.map((x) => x.id), b.map((x) => x.id), 'ids depend on bytes, not on how pieces are written');
    assert.strictEqual(new ToyTokenizer().decode(a), EMOJI_TEXT);
    // Byte pieces of 😀: F0 9F | 98 80.
    assert.deepStrictEqual(a.filter((x) => x.partial).map((x) => x.bytes), [[0xf0, 0x9f], [0x98, 0x80]]);
  });
});

describe('toy model', () => {
  it('is deterministic per model name, finite and negative', () => {
    const tok = new ToyTokenizer();
    const [x, y] = tok.encode('the cat');
    const m1 = new ToyModel('a', tok);
    const m2 = new ToyModel('a', tok);
    const m3 = new ToyModel('b', tok);
    assert.strictEqual(m1.logprob(x.id, y.id), m2.logprob(x.id, y.id));
    assert.notStrictEqual(m1.logprob(x.id, y.id), m3.logprob(x.id, y.id));
    for (let i = 0; i < 200; i++) {
      const v = m1.logprob(i, i * 7919);
      assert.ok(Number.isFinite(v) && v < 0, String(v));
    }
  });
});

describe('completions server: protocol', () => {
  it('answers an echo request from the openai client in the legacy completions shape', async () => {
    const s = await start();
    const prompt = 'the cat sat on the mat';
    const c = await client(s).completions.create({ model: 'toy-a', prompt, echo: true, max_tokens: 0, logprobs: 1 });
    assert.match(c.id, /^cmpl-/);
    assert.strictEqual(c.object, 'text_completion');
    assert.strictEqual(c.model, 'toy-a');
    assert.ok(Number.isInteger(c.created) && Math.abs(c.created - Date.now() / 1000) < 60);
    assert.strictEqual(c.choices.length, 1);
    const ch = c.choices[0];
    assert.strictEqual(ch.index, 0);
    assert.strictEqual(ch.text, prompt, 'echo with max_tokens 0: text is the prompt');
    assert.strictEqual(ch.finish_reason, 'length');
    const lp = ch.logprobs!;
    // "the" " cat" " sat" " on" " the" " mat"
    assert.deepStrictEqual(lp.tokens, ['the', ' cat', ' sat', ' on', ' the', ' mat']);
    assert.deepStrictEqual(lp.text_offset, [0, 3, 7, 11, 14, 18]);
    assert.strictEqual(lp.token_logprobs!.length, 6);
    assert.strictEqual(lp.token_logprobs![0], null, 'first prompt token has no log-prob');
    assert.strictEqual(lp.top_logprobs![0], null);
    for (let i = 1; i < 6; i++) {
      const v = lp.token_logprobs![i];
      assert.ok(Number.isFinite(v) && v < 0, `token ${i}: ${v}`);
      const top = lp.top_logprobs![i] as Record<string, number>;
      assert.strictEqual(top[lp.tokens![i]], v, 'the chosen token is in top_logprobs with its own log-prob');
      assert.ok(Object.keys(top).length >= 1 && Object.keys(top).length <= 2, 'logprobs=1: up to logprobs+1 entries');
    }
    assert.deepStrictEqual(c.usage, { prompt_tokens: 6, completion_tokens: 0, total_tokens: 6 });
  });

  it('keeps top_logprobs consistent for k = 3 and k = 0', async () => {
    const s = await start();
    const body = await score(s, 'a b c d e f g h i j k l m n o p', { logprobs: 3 });
    const lp = body.choices[0].logprobs;
    let sawOutside = false;
    for (let i = 1; i < lp.tokens.length; i++) {
      const top: Record<string, number> = lp.top_logprobs[i];
      const chosen = lp.token_logprobs[i];
      const n = Object.keys(top).length;
      assert.strictEqual(top[lp.tokens[i]], chosen);
      assert.ok(n === 3 || n === 4, `k=3 gives 3 or 4 entries, got ${n}`);
      if (n === 4) {
        // The chosen token was added because it is not in the top 3: it is below all of them.
        sawOutside = true;
        for (const [t, v] of Object.entries(top)) if (t !== lp.tokens[i]) assert.ok(v >= chosen, `${t} ${v} < ${chosen}`);
      }
    }
    assert.ok(sawOutside, 'with ~66 candidates a single letter is rarely in the top 3');
    const zero = (await score(s, 'the cat sat', { logprobs: 0 })).choices[0].logprobs;
    for (let i = 1; i < zero.tokens.length; i++) assert.deepStrictEqual(Object.keys(zero.top_logprobs[i]), [zero.tokens[i]]);
  });

  it('gives identical numbers for one model name, different ones for another, and is causal', async () => {
    const s = await start();
    const a1 = (await score(s, 'the cat sat')).choices[0].logprobs.token_logprobs;
    const a2 = (await score(s, 'the cat sat')).choices[0].logprobs.token_logprobs;
    const b = (await score(s, 'the cat sat', { model: 'toy-b' })).choices[0].logprobs.token_logprobs;
    const ran = (await score(s, 'the cat ran')).choices[0].logprobs.token_logprobs;
    assert.deepStrictEqual(a1, a2);
    assert.notDeepStrictEqual(a1.slice(1), b.slice(1));
    assert.strictEqual(ran[1], a1[1], 'a shared prefix scores the same');
    assert.notStrictEqual(ran[2], a1[2]);
  });

  for (const [unit, offsets] of [
    // Olé | ' ' | 😀(piece 1) | 😀(piece 2) | ' niñ' | 'o' | '!'
    ['utf16', [0, 3, 4, 4, 6, 10, 11]], // 😀 is two UTF-16 units
    ['codepoint', [0, 3, 4, 4, 5, 9, 10]], // 😀 is one code point
    ['utf8', [0, 4, 5, 5, 9, 14, 15]], // é, ñ are 2 bytes; 😀 is 4
  ] as const) {
    it(`reports text_offset in ${unit} for accented letters and emoji`, async () => {
      const s = await start({ offsetUnit: unit });
      const lp = (await score(s, EMOJI_TEXT)).choices[0].logprobs;
      assert.deepStrictEqual(lp.text_offset, offsets);
      assert.deepStrictEqual(lp.tokens, ['Olé', ' ', '\ufffd', '\ufffd\ufffd', ' niñ', 'o', '!']);
    });
  }

  it('default offset unit is code points (like Python servers)', async () => {
    const s = await start();
    assert.deepStrictEqual((await score(s, EMOJI_TEXT)).choices[0].logprobs.text_offset, [0, 3, 4, 4, 5, 9, 10]);
  });

  it("writes byte pieces in OpenAI's bytes: form when asked", async () => {
    const s = await start({ partialBytes: 'bytes' });
    const lp = (await score(s, EMOJI_TEXT)).choices[0].logprobs;
    assert.deepStrictEqual(lp.tokens.slice(2, 4), ['bytes:\\xf0\\x9f', 'bytes:\\x98\\x80']);
  });

  it('answers a batch with one choice per prompt in order, each as if sent alone', async () => {
    const s = await start();
    const prompts = ['the cat sat', 'Olé 😀', 'x'];
    const batch = await score(s, prompts);
    assert.deepStrictEqual(batch.choices.map((c: Json) => c.index), [0, 1, 2]);
    assert.deepStrictEqual(batch.choices.map((c: Json) => c.text), prompts);
    let total = 0;
    for (let i = 0; i < prompts.length; i++) {
      const alone = (await score(s, prompts[i])).choices[0];
      assert.deepStrictEqual(batch.choices[i].logprobs, alone.logprobs);
      total += alone.logprobs.tokens.length;
    }
    assert.strictEqual(batch.usage.prompt_tokens, total);
  });

  it('returns logprobs null when logprobs is not asked for', async () => {
    const s = await start();
    const body = await score(s, 'the cat', { logprobs: undefined });
    assert.strictEqual(body.choices[0].logprobs, null);
    assert.strictEqual(body.choices[0].text, 'the cat');
  });

  it('adds entropy and token_ids only when enabled', async () => {
    const plain = (await score(await start(), 'the cat sat')).choices[0].logprobs;
    assert.ok(!('entropy' in plain) && !('token_ids' in plain));
    const s = await start({ entropy: true, tokenIds: true });
    const lp = (await score(s, 'the cat sat')).choices[0].logprobs;
    assert.strictEqual(lp.entropy.length, 3);
    assert.strictEqual(lp.entropy[0], null);
    const n = new ToyModel('toy-a').candidateCount;
    for (const h of lp.entropy.slice(1)) assert.ok(h > 0 && h <= Math.log(n) + 1e-9, String(h));
    const ids = new ToyTokenizer().encode('the cat sat').map((t) => t.id);
    assert.deepStrictEqual(lp.token_ids, ids);
  });

  it('serves /health and /v1/models', async () => {
    const s = await start({ models: ['m1', 'm2'] });
    const h = await fetch(`http://127.0.0.1:${s.port}/health`);
    assert.strictEqual(h.status, 200);
    const models = await client(s).models.list();
    assert.deepStrictEqual(models.data.map((m) => m.id), ['m1', 'm2']);
    const r = await post(s, { model: 'other', prompt: 'x', echo: true, max_tokens: 0, logprobs: 1 });
    assert.strictEqual(r.status, 404);
    assert.strictEqual((await json(r)).error.code, 'model_not_found');
  });
});

describe('completions server: validation', () => {
  const ok = { model: 'toy-a', prompt: 'the cat sat', echo: true, max_tokens: 0, logprobs: 1 };
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['missing model', { ...ok, model: undefined }, /model/],
    ['prompt of a wrong type', { ...ok, prompt: 42 }, /prompt/],
    ['token-id prompt', { ...ok, prompt: [1, 2, 3] }, /token/i],
    ['nested token-id prompt', { ...ok, prompt: [[1, 2]] }, /token/i],
    ['max_tokens > 0', { ...ok, max_tokens: 5 }, /max_tokens.*not supported/],
    ['max_tokens omitted (defaults to 16)', { ...ok, max_tokens: undefined }, /max_tokens/],
    ['logprobs above 5', { ...ok, logprobs: 6 }, /logprobs/],
    ['negative logprobs', { ...ok, logprobs: -1 }, /logprobs/],
    ['empty prompt', { ...ok, prompt: '' }, /empty/],
  ];
  for (const [name, body, re] of cases) {
    it(`400 for ${name}`, async () => {
      const s = await start();
      const r = await post(s, body);
      assert.strictEqual(r.status, 400);
      const e = (await json(r)).error;
      assert.match(e.message, re);
      assert.strictEqual(e.type, 'invalid_request_error');
      assert.ok('code' in e);
    });
  }

  it('400 for a body that is not JSON', async () => {
    const s = await start();
    const r = await post(s, '{"model": ');
    assert.strictEqual(r.status, 400);
  });

  it('accepts echo without logprobs and a list at maxBatch, refuses one above', async () => {
    const s = await start({ maxBatch: 2 });
    assert.strictEqual((await post(s, { ...ok, prompt: ['a', 'b'] })).status, 200);
    const r = await post(s, { ...ok, prompt: ['a', 'b', 'c'] });
    assert.strictEqual(r.status, 400);
    assert.match((await json(r)).error.message, /at most 2/);
  });

  it("refuses a prompt longer than maxContextTokens, BOS counted, as 'context length exceeded'", async () => {
    const s = await start({ maxContextTokens: 4, addBos: '<s>' });
    assert.strictEqual((await post(s, { ...ok, prompt: 'the cat sat' })).status, 200); // <s> the cat sat = 4
    const r = await post(s, { ...ok, prompt: 'the cat sat on' }); // 5
    assert.strictEqual(r.status, 400);
    const e = (await json(r)).error;
    assert.strictEqual(e.code, 'context_length_exceeded');
    assert.match(e.message, /maximum context length is 4 tokens/);
  });
});

describe('completions server: faults', () => {
  const body = { model: 'toy-a', prompt: 'the cat', echo: true, max_tokens: 0, logprobs: 1 };

  it('429 with Retry-After and retry-after-ms, surfaced by the openai client as a rate limit', async () => {
    const s = await start();
    s.faults.push({ kind: '429', retryAfterSeconds: 2, retryAfterMs: 1500 });
    const r = await post(s, body);
    assert.strictEqual(r.status, 429);
    assert.strictEqual(r.headers.get('retry-after'), '2');
    assert.strictEqual(r.headers.get('retry-after-ms'), '1500');
    assert.strictEqual((await json(r)).error.type, 'rate_limit_error');
    s.faults.push({ kind: '429' });
    await assert.rejects(
      client(s).completions.create({ model: 'toy-a', prompt: 'x', echo: true, max_tokens: 0, logprobs: 1 }),
      (e: unknown) => e instanceof OpenAI.RateLimitError && e.status === 429,
    );
  });

  for (const kind of ['500', '503'] as const) {
    it(`${kind} answers with that status once, then serves normally`, async () => {
      const s = await start();
      s.faults.push({ kind });
      const r = await post(s, body);
      assert.strictEqual(r.status, Number(kind));
      assert.ok((await json(r)).error);
      assert.strictEqual((await post(s, body)).status, 200);
      assert.strictEqual(s.faults.length, 0);
    });
  }

  it('slow delays the answer, which is still correct', async () => {
    const s = await start();
    const normal = await score(s, 'the cat');
    s.faults.push({ kind: 'slow', ms: 300 });
    const t0 = Date.now();
    const slow = await score(s, 'the cat');
    assert.ok(Date.now() - t0 >= 280, `took ${Date.now() - t0} ms`);
    assert.deepStrictEqual(slow.choices, normal.choices);
  });

  it('drop closes the connection without a response', async () => {
    const s = await start();
    s.faults.push({ kind: 'drop' });
    await assert.rejects(post(s, body));
    s.faults.push({ kind: 'drop' });
    await assert.rejects(
      client(s).completions.create({ model: 'toy-a', prompt: 'x', echo: true, max_tokens: 0, logprobs: 1 }),
      (e: unknown) => e instanceof OpenAI.APIConnectionError,
    );
  });

  it('malformed answers 200 with a body that is not JSON', async () => {
    const s = await start();
    s.faults.push({ kind: 'malformed' });
    const r = await post(s, body);
    assert.strictEqual(r.status, 200);
    const text = await r.text();
    assert.throws(() => JSON.parse(text));
  });

  it('bad-shape answers 200 JSON whose choice has no logprobs', async () => {
    const s = await start();
    s.faults.push({ kind: 'bad-shape' });
    const c = await client(s).completions.create({ model: 'toy-a', prompt: 'x', echo: true, max_tokens: 0, logprobs: 1 });
    assert.strictEqual(c.choices[0].logprobs ?? undefined, undefined);
  });

  it('consumes one fault per completions POST only, and records every request', async () => {
    const s = await start();
    s.faults.push({ kind: '500' }, { kind: '503' });
    assert.strictEqual((await fetch(`http://127.0.0.1:${s.port}/health`)).status, 200);
    assert.strictEqual((await fetch(`${s.baseURL}/models`)).status, 200);
    assert.strictEqual(s.faults.length, 2, 'GETs do not consume faults');
    assert.strictEqual((await post(s, body)).status, 500);
    assert.strictEqual((await post(s, body)).status, 503);
    assert.strictEqual((await post(s, body)).status, 200);
    assert.deepStrictEqual(
      s.requests.map((r) => `${r.method} ${r.path}`),
      ['GET /health', 'GET /v1/models', 'POST /v1/completions', 'POST /v1/completions', 'POST /v1/completions'],
    );
    assert.deepStrictEqual(s.requests[2].body, body);
  });
});

describe('completions server: quirks of real servers', () => {
  it('BOS added by the server, zero-width in offsets', async () => {
    const s = await start({ addBos: '<s>' });
    const c = await score(s, 'the cat sat');
    const lp = c.choices[0].logprobs;
    assert.deepStrictEqual(lp.tokens, ['<s>', 'the', ' cat', ' sat']);
    assert.deepStrictEqual(lp.text_offset, [0, 0, 3, 7]);
    assert.strictEqual(lp.token_logprobs[0], null);
    assert.ok(lp.token_logprobs[1] < 0, 'the first prompt token is scored, conditioned on BOS');
    assert.strictEqual(c.choices[0].text, 'the cat sat');
    assert.strictEqual(c.usage.prompt_tokens, 4);
  });

  it('BOS drift: decoded as text, every later offset shifted by its length', async () => {
    const s = await start({ addBos: '<s>', bosInOffsets: 'as-text' });
    const lp = (await score(s, 'the cat sat')).choices[0].logprobs;
    assert.deepStrictEqual(lp.text_offset, [0, 3, 6, 10]);
  });

  it('double BOS when the prompt already starts with it', async () => {
    const s = await start({ addBos: '<s>' });
    const lp = (await score(s, '<s>the cat')).choices[0].logprobs;
    assert.deepStrictEqual(lp.tokens, ['<s>', '<s>', 'the', ' cat']);
    assert.deepStrictEqual(lp.text_offset, [0, 0, 3, 6]);
  });

  it('SentencePiece space drift: offsets after the space, ▁ in token strings', async () => {
    const s = await start({ dropSpaceOffsets: true });
    const lp = (await score(s, 'the cat sat')).choices[0].logprobs;
    assert.deepStrictEqual(lp.tokens, ['the', '▁cat', '▁sat']);
    assert.deepStrictEqual(lp.text_offset, [0, 4, 8]);
  });

  it('401 for a wrong or missing key, without echoing or recording it', async () => {
    const s = await start({ requireApiKey: 'sk-right-123' });
    await assert.rejects(
      client(s, 'sk-wrong-456').completions.create({ model: 'toy-a', prompt: 'x', echo: true, max_tokens: 0, logprobs: 1 }),
      (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401 && !String(e.message).includes('sk-'),
    );
    const r = await post(s, { model: 'toy-a', prompt: 'x', echo: true, max_tokens: 0, logprobs: 1 });
    assert.strictEqual(r.status, 401);
    assert.ok(!(await r.text()).includes('sk-'));
    const good = await client(s, 'sk-right-123').completions.create({ model: 'toy-a', prompt: 'x', echo: true, max_tokens: 0, logprobs: 1 });
    assert.strictEqual(good.choices[0].text, 'x');
    assert.deepStrictEqual(s.requests.map((q) => q.headers.authorization), ['present', 'absent', 'present']);
    const recorded = JSON.stringify(s.requests);
    assert.ok(!recorded.includes('sk-right-123') && !recorded.includes('sk-wrong-456'));
    assert.strictEqual((await fetch(`http://127.0.0.1:${s.port}/health`)).status, 200, 'health needs no key');
  });
});

describe('completions server: network', () => {
  it('listens on 127.0.0.1 only', async () => {
    const s = await start();
    assert.strictEqual(new URL(s.baseURL).hostname, '127.0.0.1');
    const others = Object.values(os.networkInterfaces())
      .flat()
      .filter((i): i is os.NetworkInterfaceInfo => !!i && !i.internal)
      .map((i) => i.address);
    const tryConnect = (host: string) =>
      new Promise<string>((resolve) => {
        const sock = net.connect({ host, port: s.port });
        sock.setTimeout(2000, () => { sock.destroy(); resolve('timeout'); });
        sock.on('connect', () => { sock.destroy(); resolve('connected'); });
        sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
    assert.strictEqual(await tryConnect('127.0.0.1'), 'connected', 'the check itself can connect');
    for (const host of [...others, '::1']) assert.notStrictEqual(await tryConnect(host), 'connected', host);
  });
});

describe('completions server: standalone', () => {
  const script = path.join(__dirname, '..', 'support', 'completions-server.js');

  function launch(args: string[]) {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const firstLine = new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(out.slice(0, nl));
      });
      child.on('exit', (code) => reject(new Error(`exited ${code} before listening`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, firstLine, exited, stdout: () => out };
  }

  it('prints one listening line, serves with its options, stops on SIGTERM', async () => {
    const p = launch(['--port', '0', '--offset-unit', 'utf8', '--max-batch', '1']);
    try {
      const line = await p.firstLine;
      const m = /^listening (http:\/\/127\.0\.0\.1:(\d+)\/v1)$/.exec(line);
      assert.ok(m, line);
      const base = m[1];
      const r = await fetch(`${base}/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'toy-a', prompt: EMOJI_TEXT, echo: true, max_tokens: 0, logprobs: 1 }),
      });
      assert.deepStrictEqual((await json(r)).choices[0].logprobs.text_offset, [0, 4, 5, 5, 9, 14, 15]);
      const r2 = await fetch(`${base}/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'toy-a', prompt: ['a', 'b'], echo: true, max_tokens: 0, logprobs: 1 }),
      });
      assert.strictEqual(r2.status, 400);
      p.child.kill('SIGTERM');
      assert.strictEqual(await p.exited, 0);
      assert.strictEqual(p.stdout(), line + '\n', 'exactly one line on stdout');
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('exits by itself after --idle-exit-seconds', async () => {
    const p = launch(['--idle-exit-seconds', '0.5']);
    try {
      await p.firstLine;
      const t0 = Date.now();
      assert.strictEqual(await p.exited, 0);
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      p.child.kill('SIGKILL');
    }
  });

  it('exits on stdin end when asked, and rejects unknown options', async () => {
    const p = launch(['--exit-on-stdin-end']);
    try {
      await p.firstLine;
      p.child.stdin.end();
      assert.strictEqual(await p.exited, 0);
    } finally {
      p.child.kill('SIGKILL');
    }
    const bad = launch(['--no-such-flag']);
    assert.strictEqual(await bad.exited, 2);
  });
});
