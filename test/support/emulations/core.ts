// Shared core of the loopback server emulations: the toy model behind them
// (with the BOS, "instruct" and -inf traits every server shares), the
// per-answer perturbations (noise, stale prefix cache, batch variance) and the
// HTTP lifecycle (127.0.0.1, port 0, request log, idle stop).
//
// Nothing here imports src/: these servers are the independent counterpart the
// scorer and `cje doctor` are tested against. The facts each server emulates,
// with their sources, are in the module of that server.

import * as http from 'http';
import { AddressInfo } from 'net';
import { hash32, ToyToken, ToyTokenizer } from '../toy-tokenizer';
import { CANDIDATE_VOCAB, ToyModel } from '../toy-model';
import { parseBody, readBody, sendJson } from '../http-util';

// ---------------------------------------------------------------------------
// The instruct trait: a template-sanity probe ("What is 2+2?" → "4") must see
// an obvious answer only under the chat format the model was tuned on.

export type ChatFormat = 'llama3' | 'chatml';

export const ASSISTANT_HEADERS: Readonly<Record<ChatFormat, string>> = Object.freeze({
  llama3: '<|start_header_id|>assistant<|end_header_id|>\n\n',
  chatml: '<|im_start|>assistant\n',
});
export const SANITY_QUESTION = 'What is 2+2?';
export const SANITY_ANSWER = '4';
/** Total log-prob of the answer's token(s) right after the right assistant header. */
export const INSTRUCT_ANSWER_LOGPROB = -0.05;
/**
 * Subtracted from the toy value of the answer's token(s) when the header is
 * missing or another format's: the toy value alone is above -2 for about one
 * context in six, which would let a wrong template pass the probe by chance.
 */
export const WRONG_TEMPLATE_PENALTY = 5;

/** Llama 3's reserved tokens were never trained: the emulated model gives them -inf. */
export const DEFAULT_NEG_INF_TOKENS: ReadonlyArray<string> = Object.freeze(['<|reserved_special_token_0|>']);

export const BOS_LLAMA3 = '<|begin_of_text|>';

export interface ModelTraits {
  /** Chat format the model was tuned on (enables the instruct trait). */
  chat?: ChatFormat;
  /** Token strings whose log-prob is -inf wherever they occur after position 0. */
  negInfTokens?: ReadonlyArray<string>;
}

/** A prompt token with its place in the text the model saw (BOS: zero width at 0). */
export interface EmuToken {
  id: number;
  /** The toy tokenizer's piece (U+FFFD-based for byte pieces). */
  text: string;
  bytes: number[];
  special: boolean;
  partial: boolean;
  /** UTF-16 range in `modelText` of the sequence. */
  start: number;
  end: number;
}

export interface TokenSequence {
  tokens: EmuToken[];
  /** The text the tokens spell (the prompt for text prompts; decoded ids otherwise). */
  modelText: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Every token any emulation in this process has produced (toy ids are hashes,
 * so an id can only be decoded once its text has been seen): text prompts sent
 * before, the candidate vocabulary and the special tokens named here.
 */
const KNOWN_TOKENS = new Map<number, ToyToken>();

/** Tokenizer plus the process-wide registry of tokens, so token-id prompts can be decoded. */
export class Vocabulary {
  readonly tokenizer = new ToyTokenizer();
  private readonly byId = KNOWN_TOKENS;

  constructor() {
    for (const s of CANDIDATE_VOCAB) this.register(this.tokenizer.tokenOf(s));
    for (const s of [...DEFAULT_NEG_INF_TOKENS, BOS_LLAMA3, '<s>', ...Object.values(ASSISTANT_HEADERS)]) this.encodeText(s, null);
  }

  private register(t: ToyToken): void {
    if (!this.byId.has(t.id)) this.byId.set(t.id, t);
  }

  /** Tokens of a text prompt; `bos` (when given) is prepended as a zero-width token, as a tokenizer's add_special_tokens does. */
  encodeText(text: string, bos: string | null): TokenSequence {
    const toks = this.tokenizer.encode(text);
    toks.forEach((t) => this.register(t));
    const out: EmuToken[] = toks.map((t) => ({ ...t }));
    if (bos) {
      const b = this.tokenizer.tokenOf(bos, true);
      this.register(b);
      out.unshift({ ...b, start: 0, end: 0 });
    }
    return { tokens: out, modelText: text };
  }

  tokenOf(text: string): ToyToken {
    const t = this.tokenizer.tokenOf(text);
    this.register(t);
    return t;
  }

  /**
   * Tokens of a token-id prompt. Any id in [0, 2^31) is valid as in a real
   * vocabulary; an id whose text no emulation has produced decodes as
   * `<id:N>` (chosen) and is still scored by its id.
   */
  decodeIds(ids: number[]): TokenSequence {
    const tokens: EmuToken[] = [];
    let text = '';
    let pendingBytes: number[] = [];
    let pendingStart = 0;
    for (const id of ids) {
      const known = this.byId.get(id);
      const t = known ?? this.tokenizer.tokenOf(`<id:${id}>`, true);
      const tok: EmuToken = { id, text: t.text, bytes: t.bytes, special: t.special, partial: t.partial, start: text.length, end: text.length };
      if (t.partial) {
        // Byte pieces of one character: both span the whole character once it is complete.
        if (pendingBytes.length === 0) pendingStart = text.length;
        pendingBytes = pendingBytes.concat(t.bytes);
        tokens.push(tok);
        if (pendingBytes.length >= 4) {
          text += utf8.decode(new Uint8Array(pendingBytes));
          for (let i = tokens.length - 1; i >= 0 && tokens[i].partial && tokens[i].end === tokens[i].start; i--) {
            tokens[i].start = pendingStart;
            tokens[i].end = text.length;
          }
          pendingBytes = [];
        }
        continue;
      }
      tok.start = text.length;
      text += known ? utf8.decode(new Uint8Array(t.bytes)) : t.text;
      tok.end = text.length;
      tokens.push(tok);
    }
    return { tokens, modelText: text };
  }
}

/** The running context hash the toy model conditions on (same recurrence as completions-server). */
export function contextStates(tokens: ReadonlyArray<{ id: number }>): number[] {
  const out: number[] = [0];
  let context = 0;
  for (let i = 1; i < tokens.length; i++) {
    context = hash32(`${context}\u0000${tokens[i - 1].id}`);
    out.push(context);
  }
  return out;
}

/**
 * The model's log-prob of every token given the ones before (index 0: NaN,
 * no context). -Infinity for the -inf tokens.
 */
export function modelLogprobs(modelName: string, seq: TokenSequence, traits: ModelTraits): number[] {
  const model = new ToyModel(modelName);
  const ctx = contextStates(seq.tokens);
  const negInf = new Set(traits.negInfTokens ?? []);
  const out = seq.tokens.map((t, i) => (i === 0 ? NaN : negInf.has(t.text) ? -Infinity : model.logprob(ctx[i], t.id)));
  if (traits.chat) applyInstruct(seq, traits.chat, out);
  return out;
}

function applyInstruct(seq: TokenSequence, chat: ChatFormat, values: number[]): void {
  const q = seq.modelText.indexOf(SANITY_QUESTION);
  if (q < 0) return;
  const p = seq.modelText.indexOf(SANITY_ANSWER, q + SANITY_QUESTION.length);
  if (p < 0) return;
  const covering: number[] = [];
  seq.tokens.forEach((t, i) => {
    if (i > 0 && t.start <= p && p < t.end) covering.push(i);
  });
  if (covering.length === 0) return;
  const rightHeader = seq.modelText.slice(0, p).endsWith(ASSISTANT_HEADERS[chat]);
  for (const i of covering) values[i] = rightHeader ? INSTRUCT_ANSWER_LOGPROB / covering.length : values[i] - WRONG_TEMPLATE_PENALTY;
}

/** Greedy continuation from the candidate vocabulary (what a server "generates" for max_tokens ≥ 1). */
export function greedyTokens(modelName: string, vocab: Vocabulary, seq: TokenSequence, n: number): Array<{ token: ToyToken; logprob: number }> {
  const model = new ToyModel(modelName);
  const ids = seq.tokens.map((t) => t.id);
  const out: Array<{ token: ToyToken; logprob: number }> = [];
  const candidates = CANDIDATE_VOCAB.map((s) => vocab.tokenOf(s));
  for (let k = 0; k < n; k++) {
    const ctx = contextStates([...ids.map((id) => ({ id })), { id: 0 }]);
    const prev = ctx[ctx.length - 1];
    let best = candidates[0];
    let bestLp = -Infinity;
    for (const c of candidates) {
      const lp = model.logprob(prev, c.id);
      if (lp > bestLp) {
        best = c;
        bestLp = lp;
      }
    }
    out.push({ token: best, logprob: bestLp });
    ids.push(best.id);
  }
  return out;
}

/** The top-k alternatives after the context of token i (toy values). */
export function topAlternatives(modelName: string, seq: TokenSequence, i: number, k: number): Array<{ token: string; id: number; logprob: number }> {
  const model = new ToyModel(modelName);
  const ctx = contextStates(seq.tokens);
  const t = seq.tokens[i];
  return model.topK(ctx[i], { id: t.id, text: t.text }, k);
}

// ---------------------------------------------------------------------------
// Perturbations

/** Seeded uniform [0, 1) generator (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic uniform [0, 1) from any key. */
export function unitHash(key: string): number {
  return hash32(key) / 4294967296;
}

/** Log-probs stay log-probs: never above 0. */
export function capAtZero(v: number): number {
  return v > 0 ? 0 : v;
}

/**
 * A stale prefix cache: a sequence that shares a token prefix (2 tokens or
 * more) with one served earlier gets, for the shared tokens, the cached
 * values: the fresh ones off by a fixed amount per (position, token) of up to
 * ±magnitude/2, as KV blocks computed in another state would give. The first
 * (cold) answer is right; every answer from the cache differs from it, and
 * cache hits agree with each other.
 */
export class StalePrefixCache {
  private readonly entries: number[][] = [];

  constructor(private readonly magnitude: number) {}

  apply(seq: TokenSequence, values: number[]): number[] {
    const ids = seq.tokens.map((t) => t.id);
    let bestLen = 0;
    for (const e of this.entries) {
      let n = 0;
      while (n < ids.length && n < e.length && ids[n] === e[n]) n++;
      bestLen = Math.max(bestLen, n);
    }
    const out = values.slice();
    if (bestLen >= 2) {
      for (let i = 1; i < bestLen; i++) out[i] = capAtZero(values[i] + (unitHash(`stale\u0000${i}\u0000${ids[i]}`) - 0.5) * this.magnitude);
    }
    this.entries.push(ids);
    return out;
  }
}

/** Batch variance: a prompt inside a list of n > 1 gets values shifted by up to ±magnitude/2. */
export function batchShift(values: number[], seq: TokenSequence, batchSize: number, magnitude: number): number[] {
  if (batchSize <= 1 || magnitude === 0) return values;
  return values.map((v, i) => (i === 0 ? v : capAtZero(v + (unitHash(`batch\u0000${batchSize}\u0000${i}\u0000${seq.tokens[i].id}`) - 0.5) * magnitude)));
}

// ---------------------------------------------------------------------------
// HTTP lifecycle

export interface RecordedRequest {
  method: string;
  path: string;
  /** Parsed JSON body; the raw text when it was not JSON; undefined when empty. */
  body: unknown;
}

export interface EmulationServer {
  /** Base URL ending in /v1 (TGI's native /generate is at the root, without /v1). */
  url: string;
  close(): Promise<void>;
  /** Requests received so far (all paths). */
  requests(): number;
  /** Every request, in order. */
  log: RecordedRequest[];
}

export interface CommonOptions {
  /** Stop serving after this long without a request (ms). Default 30 000. */
  idleMs?: number;
  /** Model name served by GET /v1/models (any model name is accepted). Default 'toy-model'. */
  modelName?: string;
  /** BOS text the server's tokenizer adds to text prompts; null for none. Default '<|begin_of_text|>'. */
  bos?: string | null;
  /** Chat format of the instruct trait (none by default). */
  chat?: ChatFormat;
  /** Token strings the model gives -inf (defaults differ per server). */
  negInfTokens?: ReadonlyArray<string>;
}

export type Reply =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; text: string; contentType?: string };

export type Handler = (req: RecordedRequest) => Reply;

export function jsonReply(status: number, json: unknown): Reply {
  return { status, json };
}

export function serve(handler: Handler, opts: CommonOptions): Promise<EmulationServer> {
  const log: RecordedRequest[] = [];
  const idleMs = opts.idleMs ?? 30_000;
  let idle: NodeJS.Timeout | undefined;
  let closed: Promise<void> | undefined;

  const server = http.createServer((req, res) => {
    armIdle();
    readBody(req)
      .then(({ raw }) => {
        const body = parseBody(raw);
        const rec: RecordedRequest = { method: req.method ?? '', path: (req.url ?? '/').split('?')[0], body };
        log.push(rec);
        let reply: Reply;
        try {
          reply = handler(rec);
        } catch (e) {
          reply = { status: 500, json: { error: { message: 'emulation error: ' + String((e as Error)?.message ?? e) } } };
        }
        if ('json' in reply) return sendJson(res, reply.status, reply.json, reply.headers);
        res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(reply.text) });
        res.end(reply.text);
      })
      .catch(() => res.destroy());
  });
  // Never the reason a test process stays alive.
  server.unref();

  const close = (): Promise<void> => {
    if (!closed) {
      if (idle) clearTimeout(idle);
      closed = new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    return closed;
  };
  const armIdle = () => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => void close(), idleMs);
    idle.unref();
  };

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      armIdle();
      const port = (server.address() as AddressInfo).port;
      resolve({ url: `http://127.0.0.1:${port}/v1`, close, requests: () => log.length, log });
    });
  });
}

/** GET /v1/models answer, OpenAI shape. */
export function modelsList(name: string, ownedBy: string): unknown {
  return { object: 'list', data: [{ id: name, object: 'model', created: 0, owned_by: ownedBy }] };
}

// ---------------------------------------------------------------------------
// Request parsing shared by the OpenAI-style servers

export type PromptInput = { kind: 'text'; text: string } | { kind: 'ids'; ids: number[] };

/** string | string[] | number[] | number[][] → prompts; null when the shape is none of these. */
export function parsePromptField(p: unknown): PromptInput[] | null {
  const isIds = (x: unknown): x is number[] => Array.isArray(x) && x.length > 0 && x.every((n) => Number.isInteger(n) && n >= 0 && n < 2 ** 31);
  if (typeof p === 'string') return [{ kind: 'text', text: p }];
  if (!Array.isArray(p) || p.length === 0) return null;
  if (p.every((x) => typeof x === 'string')) return (p as string[]).map((text) => ({ kind: 'text', text }));
  if (isIds(p)) return [{ kind: 'ids', ids: p }];
  if (p.every(isIds)) return (p as number[][]).map((ids) => ({ kind: 'ids', ids }));
  return null;
}

export function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** An optional non-negative integer field: undefined when absent, NaN when malformed. */
export function optInt(b: Record<string, unknown>, key: string): number | undefined {
  const v = b[key];
  if (v === undefined || v === null) return undefined;
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : NaN;
}

/** Python's len(): code points. */
export function pyLen(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** Code-point index of UTF-16 index i in s. */
export function codePointIndex(s: string, i: number): number {
  return pyLen(s.slice(0, i));
}
