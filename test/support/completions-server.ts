// A real HTTP server on 127.0.0.1 that speaks the legacy OpenAI / Fireworks
// completions protocol with echo (teacher forcing), backed by the
// deterministic toy model. It stands in for Fireworks / vLLM in tests and in
// the offline demo. It is a protocol counterpart, not a mock: requests are
// validated as a real server would, and the quirks of real servers (offset
// units, BOS handling, SentencePiece offsets, rate limits, faults) are options.
//
// Endpoints: GET /health, GET /v1/models, POST /v1/completions.
//
// Standalone: node out/test/support/completions-server.js [--port N] …
// prints exactly one line `listening http://127.0.0.1:PORT/v1` on stdout.

import * as http from 'http';
import { randomUUID } from 'crypto';
import { AddressInfo } from 'net';
import { hash32, PartialBytesMode, ToyToken, ToyTokenizer } from './toy-tokenizer';
import { ToyModel } from './toy-model';
import { ProtocolError, bad } from '../../src/worker/protocol';
import { parseBody, readBody, sendJson } from './http-util';

export type OffsetUnit = 'utf16' | 'codepoint' | 'utf8';

export interface CompletionsServerOptions {
  /** Port to bind on 127.0.0.1 (0 = any free port). Default 0. */
  port?: number;
  /** Unit of text_offset. Default 'codepoint' (Python servers: Fireworks, vLLM). */
  offsetUnit?: OffsetUnit;
  /** BOS token the server prepends to every prompt (e.g. '<s>', '<|begin_of_text|>'). Default none. */
  addBos?: string;
  /** How the prepended BOS shows in text_offset: 'zero-width' (correct) or 'as-text' (drift bug). Default 'zero-width'. */
  bosInOffsets?: 'zero-width' | 'as-text';
  /** SentencePiece-style drift: tokens starting with a space report the offset after it and are written with '▁'. */
  dropSpaceOffsets?: boolean;
  /** How byte pieces of non-BMP characters are written. Default 'replacement'. */
  partialBytes?: PartialBytesMode;
  /** Special tokens of the toy tokenizer (default: see DEFAULT_SPECIAL_TOKENS). */
  specialTokens?: Array<string | RegExp>;
  /** Required bearer token; 401 when missing or different. Never logged or echoed. */
  requireApiKey?: string;
  /** Largest list of prompts per request (400 above it). Default unlimited. */
  maxBatch?: number;
  /** Largest prompt in tokens, BOS included (400 'context_length_exceeded' above it). Default unlimited. */
  maxContextTokens?: number;
  /** Largest `logprobs` value accepted. Default 5 (the OpenAI legacy limit). */
  maxLogprobs?: number;
  /** Delay before every completions answer, in ms. Default 0. */
  latencyMs?: number;
  /** Add `logprobs.entropy` (first entry null) to every choice. Default false. */
  entropy?: boolean;
  /** Add `logprobs.token_ids` (Fireworks addition). Default false. */
  tokenIds?: boolean;
  /** Models served. When given, others get 404 model_not_found; GET /v1/models lists them. Default: any model accepted, lists ['toy-model']. */
  models?: string[];
  /** top_logprobs holds the chosen token alone (see EchoOptions): for benchmarks. */
  chosenTopOnly?: boolean;
  /** Keep every request in `requests` (default true); false for long benchmarks, whose millions of prompts would fill the server's memory. */
  record?: boolean;
  /** Called for every request (after it is recorded). */
  onRequest?: (r: RecordedRequest) => void;
  /**
   * Rewrites the correct answer before it is sent, to play a misbehaving
   * server: return the new answer, or a string sent as the raw body (for JSON
   * that JSON.stringify cannot write, such as -1e999).
   */
  transform?: (answer: CompletionResponse, prompts: string[]) => CompletionResponse | string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** Parsed JSON body; the raw string when it was not JSON; undefined when empty. */
  body: unknown;
  /** Lower-case header names; credentials replaced by 'present' / 'absent'. */
  headers: Record<string, string>;
  receivedAt: number;
}

export type Fault =
  | { kind: '429'; retryAfterSeconds?: number; retryAfterMs?: number }
  | { kind: '500' }
  | { kind: '503' }
  | { kind: 'slow'; ms: number }
  | { kind: 'drop' }
  | { kind: 'malformed' }
  | { kind: 'bad-shape' };

export interface CompletionsServer {
  /** 'http://127.0.0.1:PORT/v1' */
  baseURL: string;
  port: number;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Consumed one per POST /v1/completions, front first. */
  faults: Fault[];
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// Protocol types (the legacy completions response)

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number> | null> | null;
  text_offset: number[];
  token_ids?: number[];
  entropy?: Array<number | null>;
}

export interface CompletionChoice {
  index: number;
  text: string;
  logprobs: CompletionLogprobs | null;
  finish_reason: 'length' | 'stop';
}

export interface CompletionResponse {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: CompletionChoice[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

// The error body is the protocol's, shared with the worker (src/worker/protocol.ts).
export { readBody, sendJson } from './http-util';
export { ProtocolError, type OpenAIErrorBody } from '../../src/worker/protocol';

// ---------------------------------------------------------------------------
// Pure scoring: what one prompt's choice looks like.

/** Offset of UTF-16 index `i` of `text` in the given unit. */
export function offsetIn(text: string, i: number, unit: OffsetUnit): number {
  if (unit === 'utf16') return i;
  const head = text.slice(0, i);
  if (unit === 'utf8') return Buffer.byteLength(head, 'utf8');
  let n = 0;
  for (const _ of head) n++;
  return n;
}

function unitLength(s: string, unit: OffsetUnit): number {
  return offsetIn(s, s.length, unit);
}

export interface EchoOptions {
  offsetUnit?: OffsetUnit;
  addBos?: string;
  bosInOffsets?: 'zero-width' | 'as-text';
  dropSpaceOffsets?: boolean;
  entropy?: boolean;
  tokenIds?: boolean;
  /** top_logprobs holds the chosen token alone: ranking the candidate vocabulary for every token is most of the server's time, which long benchmarks cannot wait for. */
  chosenTopOnly?: boolean;
}

/** Tokens the server scores for a prompt (BOS first when it adds one). */
export function promptTokens(tokenizer: ToyTokenizer, prompt: string, addBos?: string): ToyToken[] {
  const toks = tokenizer.encode(prompt);
  if (addBos) {
    const bos = tokenizer.tokenOf(addBos, true);
    toks.unshift({ ...bos, start: 0, end: 0 });
  }
  return toks;
}

/**
 * The `logprobs` object for an echoed prompt with max_tokens 0. `k` is the
 * request's `logprobs` (null: no top_logprobs list, as when logprobs is absent
 * no logprobs object is returned at all; callers decide that).
 */
export function echoLogprobs(
  model: ToyModel,
  tokenizer: ToyTokenizer,
  prompt: string,
  k: number,
  opts: EchoOptions = {},
): CompletionLogprobs {
  const unit = opts.offsetUnit ?? 'codepoint';
  const toks = promptTokens(tokenizer, prompt, opts.addBos);
  const bosShift = opts.addBos && opts.bosInOffsets === 'as-text' ? unitLength(opts.addBos, unit) : 0;
  const out: CompletionLogprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  if (opts.tokenIds) out.token_ids = [];
  if (opts.entropy) out.entropy = [];
  // The model conditions on the whole context, as a transformer does: a running
  // hash of every earlier token, so a different system prompt changes every later log-prob.
  let context = 0;
  toks.forEach((t, i) => {
    const isBos = !!opts.addBos && i === 0;
    let text = t.text;
    let offset = isBos ? 0 : offsetIn(prompt, t.start, unit) + bosShift;
    if (opts.dropSpaceOffsets && !t.special && !t.partial) {
      if (text.startsWith(' ')) offset += 1; // a space is one unit in utf16, codepoint and utf8 alike
      text = text.replace(/ /g, '\u2581');
    }
    out.tokens.push(text);
    out.text_offset.push(offset);
    out.token_ids?.push(t.id);
    if (i === 0) {
      out.token_logprobs.push(null);
      out.top_logprobs!.push(null);
      out.entropy?.push(null);
      return;
    }
    context = hash32(`${context}\u0000${toks[i - 1].id}`);
    const prev = context;
    out.token_logprobs.push(model.logprob(prev, t.id));
    const top: Record<string, number> = {};
    if (opts.chosenTopOnly) {
      if (k > 0) top[opts.dropSpaceOffsets ? t.text.replace(/ /g, '\u2581') : t.text] = out.token_logprobs[i]!;
      out.top_logprobs!.push(top);
      out.entropy?.push(model.entropy(prev));
      return;
    }
    for (const e of model.topK(prev, { id: t.id, text: t.text }, k)) {
      const key = opts.dropSpaceOffsets ? e.token.replace(/ /g, '\u2581') : e.token;
      if (!(key in top)) top[key] = e.logprob;
    }
    out.top_logprobs!.push(top);
    out.entropy?.push(model.entropy(prev));
  });
  return out;
}

// ---------------------------------------------------------------------------
// Request validation

interface ValidRequest {
  model: string;
  prompts: string[];
  echo: boolean;
  logprobs: number | null;
}


export function validateCompletionRequest(body: unknown, opts: CompletionsServerOptions): ValidRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('Request body must be a JSON object.', null);
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') throw bad('you must provide a model parameter', 'model', 'missing_required_parameter');
  if (opts.models && !opts.models.includes(b.model)) {
    throw new ProtocolError(404, `The model \`${b.model}\` does not exist.`, 'invalid_request_error', 'model_not_found', 'model');
  }
  let prompts: string[];
  const p = b.prompt;
  if (p === undefined || p === null) throw bad('you must provide a prompt parameter', 'prompt', 'missing_required_parameter');
  if (typeof p === 'string') prompts = [p];
  else if (Array.isArray(p)) {
    if (p.length === 0) throw bad('prompt must not be an empty list', 'prompt');
    if (p.every((x) => typeof x === 'string')) prompts = p as string[];
    else if (p.every((x) => typeof x === 'number') || p.every((x) => Array.isArray(x))) {
      throw bad('Token-id prompts (lists of integers) are not supported by this server; send the prompt as text.', 'prompt', 'unsupported_prompt_type');
    } else throw bad('prompt must be a string or a list of strings', 'prompt', 'invalid_type');
  } else throw bad('prompt must be a string or a list of strings', 'prompt', 'invalid_type');
  if (opts.maxBatch !== undefined && prompts.length > opts.maxBatch) {
    throw bad(`Too many prompts in one request: ${prompts.length} (this server accepts at most ${opts.maxBatch}).`, 'prompt', 'batch_too_large');
  }
  if (b.echo !== undefined && b.echo !== null && typeof b.echo !== 'boolean') throw bad('echo must be a boolean', 'echo', 'invalid_type');
  const echo = b.echo === true;
  // OpenAI's default max_tokens is 16; this server cannot generate, so only 0 is accepted.
  const maxTokens = b.max_tokens === undefined || b.max_tokens === null ? 16 : b.max_tokens;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 0) {
    throw bad('max_tokens must be a non-negative integer', 'max_tokens', 'invalid_type');
  }
  if (maxTokens > 0) {
    throw bad(
      `max_tokens=${maxTokens} is not supported: this server only scores prompts (send echo=true, max_tokens=0; note max_tokens defaults to 16 when omitted).`,
      'max_tokens',
      'unsupported_parameter',
    );
  }
  let logprobs: number | null = null;
  if (b.logprobs !== undefined && b.logprobs !== null) {
    if (typeof b.logprobs !== 'number' || !Number.isInteger(b.logprobs) || b.logprobs < 0) {
      throw bad('logprobs must be a non-negative integer', 'logprobs', 'invalid_type');
    }
    const max = opts.maxLogprobs ?? 5;
    if (b.logprobs > max) throw bad(`logprobs must be at most ${max}, got ${b.logprobs}`, 'logprobs', 'invalid_value');
    logprobs = b.logprobs;
  }
  if (b.stream === true) throw bad('stream=true is not supported by this server', 'stream', 'unsupported_parameter');
  if (b.n !== undefined && b.n !== null && b.n !== 1) throw bad('n must be 1 for echo scoring', 'n', 'unsupported_parameter');
  return { model: b.model, prompts, echo, logprobs };
}

/** Build the full response for a validated request (pure apart from id/created). */
export function buildCompletionResponse(req: ValidRequest, opts: CompletionsServerOptions, tokenizer: ToyTokenizer): CompletionResponse {
  const model = new ToyModel(req.model, tokenizer);
  const choices: CompletionChoice[] = [];
  let promptTokensTotal = 0;
  req.prompts.forEach((prompt, index) => {
    const toks = promptTokens(tokenizer, prompt, opts.addBos);
    if (toks.length === 0) throw bad(`prompt ${index} is empty: the prompt cannot be empty`, 'prompt', 'empty_prompt');
    if (opts.maxContextTokens !== undefined && toks.length > opts.maxContextTokens) {
      throw bad(
        `This model's maximum context length is ${opts.maxContextTokens} tokens. However, you requested ${toks.length} tokens (${toks.length} in the prompt, 0 for the completion). Please reduce the length of the prompt.`,
        'prompt',
        'context_length_exceeded',
      );
    }
    promptTokensTotal += toks.length;
    let logprobs: CompletionLogprobs | null = null;
    if (req.logprobs !== null) {
      logprobs = req.echo
        ? echoLogprobs(model, tokenizer, prompt, req.logprobs, opts)
        : { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [], ...(opts.tokenIds ? { token_ids: [] } : {}), ...(opts.entropy ? { entropy: [] } : {}) };
    }
    choices.push({ index, text: req.echo ? prompt : '', logprobs, finish_reason: 'length' });
  });
  return {
    id: 'cmpl-' + randomUUID().replace(/-/g, ''),
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: req.model,
    choices,
    usage: { prompt_tokens: promptTokensTotal, completion_tokens: 0, total_tokens: promptTokensTotal },
  };
}

// ---------------------------------------------------------------------------
// HTTP

const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'api-key', 'proxy-authorization'];

function redactHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  for (const k of CREDENTIAL_HEADERS) {
    if (k === 'authorization' || k in out) out[k] = k in out && out[k] !== '' ? 'present' : 'absent';
  }
  return out;
}


function sendError(res: http.ServerResponse, e: ProtocolError, headers: Record<string, string> = {}): void {
  sendJson(res, e.status, e.body(), headers);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


export function startCompletionsServer(opts: CompletionsServerOptions = {}): Promise<CompletionsServer> {
  const tokenizer = new ToyTokenizer({ partialBytes: opts.partialBytes, specialTokens: opts.specialTokens });
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const created = Math.floor(Date.now() / 1000);

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const { raw, tooLarge } = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    const body = parseBody(raw);
    const rec: RecordedRequest = { method: req.method ?? '', path, body, headers: redactHeaders(req.headers), receivedAt: Date.now() };
    if (opts.record !== false) requests.push(rec);
    opts.onRequest?.(rec);

    const isCompletions = path === '/v1/completions';
    if (isCompletions && req.method === 'POST') {
      const fault = faults.shift();
      if (fault) {
        switch (fault.kind) {
          case '429': {
            const h: Record<string, string> = {};
            if (fault.retryAfterSeconds !== undefined) h['retry-after'] = String(fault.retryAfterSeconds);
            if (fault.retryAfterMs !== undefined) h['retry-after-ms'] = String(fault.retryAfterMs);
            return sendError(res, new ProtocolError(429, 'Rate limit exceeded, please retry later.', 'rate_limit_error', 'rate_limit_exceeded'), h);
          }
          case '500':
            return sendError(res, new ProtocolError(500, 'The server had an error while processing your request.', 'server_error', 'internal_error'));
          case '503':
            return sendError(res, new ProtocolError(503, 'The server is overloaded or not ready yet.', 'server_error', 'service_unavailable'));
          case 'drop':
            req.socket.destroy();
            return;
          case 'malformed': {
            const text = '{"id":"cmpl-malformed","object":"text_completion","choices":[{"index":0,"text":"';
            res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
            res.end(text);
            return;
          }
          case 'bad-shape':
            return sendJson(res, 200, {
              id: 'cmpl-badshape',
              object: 'text_completion',
              created: Math.floor(Date.now() / 1000),
              model: typeof (body as { model?: unknown })?.model === 'string' ? (body as { model: string }).model : 'unknown',
              choices: [{ index: 0, text: '', finish_reason: 'length' }],
              usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
            });
          case 'slow':
            await sleep(fault.ms);
            break; // then answer normally
        }
      }
    }

    if (path === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, new ProtocolError(405, 'Method not allowed', 'invalid_request_error', 'method_not_allowed'));
      return sendJson(res, 200, { status: 'ok' });
    }

    if (path.startsWith('/v1/') && opts.requireApiKey !== undefined) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      if (!m || m[1].trim() !== opts.requireApiKey) {
        return sendError(
          res,
          new ProtocolError(401, auth ? 'Incorrect API key provided.' : 'You didn\'t provide an API key. Send it as "Authorization: Bearer <key>".', 'invalid_request_error', 'invalid_api_key'),
        );
      }
    }

    if (path === '/v1/models') {
      if (req.method !== 'GET') return sendError(res, new ProtocolError(405, 'Method not allowed', 'invalid_request_error', 'method_not_allowed'));
      const ids = opts.models ?? ['toy-model'];
      return sendJson(res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created, owned_by: 'cje-toy' })) });
    }

    if (isCompletions) {
      if (req.method !== 'POST') return sendError(res, new ProtocolError(405, 'Method not allowed', 'invalid_request_error', 'method_not_allowed'));
      if (tooLarge) return sendError(res, new ProtocolError(413, 'Request body too large', 'invalid_request_error', 'request_too_large'));
      if (typeof body === 'string') return sendError(res, bad('We could not parse the JSON body of your request.', null, 'invalid_json'));
      if (opts.latencyMs) await sleep(opts.latencyMs);
      try {
        const valid = validateCompletionRequest(body, opts);
        const answer = buildCompletionResponse(valid, opts, tokenizer);
        const sent = opts.transform ? opts.transform(answer, valid.prompts) : answer;
        if (typeof sent !== 'string') return sendJson(res, 200, sent);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(sent) });
        return void res.end(sent);
      } catch (e) {
        if (e instanceof ProtocolError) return sendError(res, e);
        throw e;
      }
    }

    return sendError(res, new ProtocolError(404, `Unknown path ${path}`, 'invalid_request_error', 'not_found'));
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendError(res, new ProtocolError(500, 'Internal error in the toy server: ' + String(err?.message ?? err), 'server_error', null));
      else res.destroy();
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        baseURL: `http://127.0.0.1:${port}/v1`,
        port,
        requests,
        faults,
        close: () =>
          new Promise<void>((res) => {
            server.close(() => res());
            server.closeAllConnections();
          }),
      });
    });
  });
}

// ---------------------------------------------------------------------------
// Standalone mode

export interface CliOptions extends CompletionsServerOptions {
  idleExitSeconds?: number;
  exitOnStdinEnd?: boolean;
}

export const USAGE = `usage: node out/test/support/completions-server.js [options]
  --port N                       port on 127.0.0.1 (default 0: any free port)
  --offset-unit U                utf16 | codepoint | utf8 (default codepoint)
  --add-bos TOKEN                prepend this BOS token to every prompt
  --bos-in-offsets M             zero-width | as-text (default zero-width)
  --drop-space-offsets           SentencePiece-style offsets and '▁' token strings
  --partial-bytes M              replacement | bytes (default replacement)
  --max-batch N                  most prompts per request
  --max-context-tokens N         longest prompt in tokens
  --max-logprobs N               largest logprobs accepted (default 5)
  --latency-ms N                 delay before each completions answer
  --entropy                      add logprobs.entropy
  --token-ids                    add logprobs.token_ids
  --models a,b                   served models (others: 404)
  --api-key-env VAR              require the bearer token held in environment variable VAR
  --idle-exit-seconds N          exit after N seconds without a request
  --exit-on-stdin-end            exit when stdin closes
  --no-record                    keep no list of requests (long benchmarks)
  --chosen-top-only              top_logprobs holds the chosen token alone (fast, for benchmarks)
Prints one line 'listening http://127.0.0.1:PORT/v1' and serves until SIGTERM/SIGINT or its parent exits.`;

export function parseCliArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
  const o: CliOptions = {};
  const need = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    return v;
  };
  const int = (v: string, flag: string, min = 0): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer ≥ ${min}, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--port': o.port = int(need(i, a), a); i++; break;
      case '--offset-unit': {
        const v = need(i, a); i++;
        if (v !== 'utf16' && v !== 'codepoint' && v !== 'utf8') throw new Error(`--offset-unit must be utf16, codepoint or utf8, got '${v}'`);
        o.offsetUnit = v; break;
      }
      case '--add-bos': o.addBos = need(i, a); i++; break;
      case '--bos-in-offsets': {
        const v = need(i, a); i++;
        if (v !== 'zero-width' && v !== 'as-text') throw new Error(`--bos-in-offsets must be zero-width or as-text, got '${v}'`);
        o.bosInOffsets = v; break;
      }
      case '--drop-space-offsets': o.dropSpaceOffsets = true; break;
      case '--partial-bytes': {
        const v = need(i, a); i++;
        if (v !== 'replacement' && v !== 'bytes') throw new Error(`--partial-bytes must be replacement or bytes, got '${v}'`);
        o.partialBytes = v; break;
      }
      case '--max-batch': o.maxBatch = int(need(i, a), a, 1); i++; break;
      case '--max-context-tokens': o.maxContextTokens = int(need(i, a), a, 1); i++; break;
      case '--max-logprobs': o.maxLogprobs = int(need(i, a), a); i++; break;
      case '--latency-ms': o.latencyMs = int(need(i, a), a); i++; break;
      case '--entropy': o.entropy = true; break;
      case '--token-ids': o.tokenIds = true; break;
      case '--models': o.models = need(i, a).split(',').map((s) => s.trim()).filter(Boolean); i++; break;
      case '--api-key-env': {
        const name = need(i, a); i++;
        const key = env[name];
        if (!key) throw new Error(`--api-key-env: environment variable ${name} is not set`);
        o.requireApiKey = key; break;
      }
      case '--idle-exit-seconds': o.idleExitSeconds = Number(need(i, a)); i++;
        if (!(o.idleExitSeconds > 0)) throw new Error('--idle-exit-seconds needs a positive number');
        break;
      case '--exit-on-stdin-end': o.exitOnStdinEnd = true; break;
      case '--no-record': o.record = false; break;
      case '--chosen-top-only': o.chosenTopOnly = true; break;
      case '-h': case '--help': throw new Error(USAGE);
      default: throw new Error(`unknown option '${a}'\n${USAGE}`);
    }
  }
  return o;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  let cli: CliOptions;
  try {
    cli = parseCliArgs(argv);
  } catch (e) {
    process.stderr.write(String((e as Error).message) + '\n');
    process.exit(2);
  }
  let idleTimer: NodeJS.Timeout | undefined;
  let server: CompletionsServer | undefined;
  let closing = false;
  const shutdown = (code: number) => {
    if (closing) return;
    closing = true;
    const done = () => process.exit(code);
    if (server) server.close().then(done, done);
    else done();
    setTimeout(done, 2000).unref();
  };
  const armIdle = () => {
    if (!cli.idleExitSeconds) return;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = setTimeout(() => shutdown(0), cli.idleExitSeconds * 1000);
  };
  try {
    server = await startCompletionsServer({ ...cli, onRequest: () => armIdle() });
  } catch (e) {
    process.stderr.write(`cannot listen: ${(e as Error).message}\n`);
    process.exit(1);
  }
  armIdle();
  process.on('SIGTERM', () => shutdown(0));
  process.on('SIGINT', () => shutdown(0));
  // Never outlive the process that started us: when the parent exits we are re-parented.
  const parent = process.ppid;
  setInterval(() => {
    let alive = process.ppid === parent;
    if (alive) {
      try {
        process.kill(parent, 0);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') alive = false;
      }
    }
    if (!alive) shutdown(0);
  }, 500).unref();
  if (cli.exitOnStdinEnd) {
    process.stdin.on('end', () => shutdown(0));
    process.stdin.on('close', () => shutdown(0));
    process.stdin.resume();
  }
  process.stdout.write(`listening ${server.baseURL}\n`);
}

if (require.main === module) {
  void main();
}
