// A loopback completions server (the toy model's echo answers) that behaves
// like a loaded backend, for the replica / adaptive-concurrency tests and
// benchmarks:
// - capacity: it serves at most C requests at once; the rest wait in line,
//   as a vLLM replica's scheduler makes them wait (latency grows, throughput does not);
// - latency: each request takes a fixed time (uniform in [latencyMs, latencyMaxMs],
//   seeded) plus, like a GPU that is saturated, perTokenUs per prompt token on
//   one shared compute line (so busy time is what the "GPU" spent);
// - rate: it admits `rate` requests per second in fixed windows (windowMs)
//   and answers 429 above, saying so in the headers a hosted API sends:
//   Retry-After / retry-after-ms, x-ratelimit-limit-requests,
//   x-ratelimit-remaining-requests, x-ratelimit-reset-requests ("250ms");
// - failure: "503" answers every request 503, "drop" closes every connection.
// Standalone: node out/test/support/load-server.js --capacity 4 --latency-ms 20 …
// prints `listening http://127.0.0.1:PORT/v1` and, on SIGTERM or stdin end,
// one JSON line of its counters (busy time, CPU, 429s) before it exits.

import * as http from 'http';
import type { AddressInfo } from 'net';
import { ToyTokenizer } from './toy-tokenizer';
import { buildCompletionResponse, promptTokens, validateCompletionRequest } from './completions-server';
import { ProtocolError } from '../../src/worker/protocol';
import { readBody, parseBody, sendJson } from './http-util';
import { seededRandom } from './emulations/core';

export interface LoadServerOptions {
  port?: number;
  /** Requests served at once (default unlimited). */
  capacity?: number;
  /** Fixed time of a request, in ms (default 0). */
  latencyMs?: number;
  /** With it, each request's fixed time is uniform in [latencyMs, latencyMaxMs]. */
  latencyMaxMs?: number;
  /** Compute per prompt token, on one line shared by all requests, in µs (default 0). */
  perTokenUs?: number;
  /** Requests admitted per second (default unlimited). */
  rate?: number;
  /** The admission window, in ms (default 1000): rate × windowMs / 1000 requests per window. */
  windowMs?: number;
  /** What a 429 and the answers say about the limit: nothing, Retry-After only, or Retry-After and x-ratelimit-* (default). */
  hints?: 'none' | 'retry-after' | 'all';
  /** Answer every completions request with this failure. */
  fail?: '503' | 'drop';
  seed?: number;
  /**
   * How answers are made. 'toy' (default): the toy model's echo, as the other test
   * servers give it. 'words': one token per word (with its leading space) and
   * log-probs from a hash: the same JSON shape at a fraction of the server's CPU,
   * so that a benchmark's backend time is the emulated latency, not the toy model.
   */
  answers?: 'toy' | 'words';
}

/** The echo of `prompts` with one token per word: cheap to make, the shape of a real answer. */
export function wordEcho(model: string, prompts: string[], logprobs: number | null) {
  let total = 0;
  const choices = prompts.map((text, index) => {
    const tokens = text.match(/\s*\S+|\s+/g) ?? [];
    total += tokens.length;
    const lps: (number | null)[] = [];
    const offs: number[] = [];
    let at = 0;
    let h = 2166136261;
    for (const t of tokens) {
      offs.push(at);
      at += t.length;
      for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 16777619);
      lps.push(-((h >>> 0) % 5000) / 1000 - 0.01);
    }
    lps[0] = null;
    return {
      index,
      text,
      logprobs: logprobs === null ? null : { tokens, token_logprobs: lps, top_logprobs: lps.map((lp, i) => (lp === null ? null : { [tokens[i]]: lp })), text_offset: offs },
      finish_reason: 'length',
    };
  });
  return { id: 'cmpl-words', object: 'text_completion', created: Math.floor(Date.now() / 1000), model, choices, usage: { prompt_tokens: total, completion_tokens: 0, total_tokens: total } };
}

export interface LoadServerCounters {
  requests: number;
  served: number;
  rateLimited: number;
  failed: number;
  prompts: number;
  promptTokens: number;
  /** Time the compute line was busy, in ms. */
  computeBusyMs: number;
  /** Time at least one request was being served (after waiting for capacity), in ms. */
  busyMs: number;
  maxInService: number;
  maxWaiting: number;
}

export interface LoadServer {
  baseURL: string;
  port: number;
  counters: LoadServerCounters;
  /** Changes the failure mode while running (undefined: healthy). */
  setFail(f: LoadServerOptions['fail']): void;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function startLoadServer(opts: LoadServerOptions = {}): Promise<LoadServer> {
  const tokenizer = new ToyTokenizer({});
  const random = seededRandom(opts.seed ?? 1);
  const counters: LoadServerCounters = { requests: 0, served: 0, rateLimited: 0, failed: 0, prompts: 0, promptTokens: 0, computeBusyMs: 0, busyMs: 0, maxInService: 0, maxWaiting: 0 };
  let fail = opts.fail;
  const capacity = opts.capacity ?? Infinity;
  let inService = 0;
  let busySince = 0;
  const line: (() => void)[] = [];
  // The compute line: one request's tokens at a time.
  let computeFree = 0;
  const windowMs = opts.windowMs ?? 1000;
  const perWindow = opts.rate === undefined ? Infinity : Math.max(1, Math.round((opts.rate * windowMs) / 1000));
  let windowStart = 0;
  let used = 0;
  const hints = opts.hints ?? 'all';

  const admit = (): { ok: boolean; headers: Record<string, string> } => {
    if (perWindow === Infinity) return { ok: true, headers: {} };
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      windowStart = now - ((now - windowStart) % windowMs);
      if (now - windowStart >= windowMs) windowStart = now;
      used = 0;
    }
    const resetMs = Math.max(1, Math.ceil(windowStart + windowMs - now));
    const ok = used < perWindow;
    if (ok) used++;
    const headers: Record<string, string> = {};
    if (hints === 'all') {
      headers['x-ratelimit-limit-requests'] = String(perWindow);
      headers['x-ratelimit-remaining-requests'] = String(perWindow - used);
      headers['x-ratelimit-reset-requests'] = `${resetMs}ms`;
    }
    if (!ok && hints !== 'none') {
      headers['retry-after-ms'] = String(resetMs);
      headers['retry-after'] = String(Math.ceil(resetMs / 1000));
    }
    return { ok, headers };
  };

  const enter = async () => {
    if (inService >= capacity) {
      await new Promise<void>((r) => line.push(r));
      counters.maxWaiting = Math.max(counters.maxWaiting, line.length + 1);
    }
    if (inService++ === 0) busySince = performance.now();
    counters.maxInService = Math.max(counters.maxInService, inService);
  };
  const leave = () => {
    if (--inService === 0) counters.busyMs += performance.now() - busySince;
    const next = line.shift();
    if (next) next();
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const { raw } = await readBody(req);
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/health') return sendJson(res, 200, { status: 'ok' });
    if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: [{ id: 'toy-model', object: 'model' }] });
    if (path !== '/v1/completions' || req.method !== 'POST') return sendJson(res, 404, { error: { message: `Unknown path ${path}` } });
    counters.requests++;
    if (fail === 'drop') {
      counters.failed++;
      req.socket.destroy();
      return;
    }
    if (fail === '503') {
      counters.failed++;
      return sendJson(res, 503, { error: { message: 'The server is overloaded or not ready yet.', type: 'server_error' } });
    }
    const gate = admit();
    if (!gate.ok) {
      counters.rateLimited++;
      return sendJson(res, 429, { error: { message: 'Rate limit exceeded, please retry later.', type: 'rate_limit_error' } }, gate.headers);
    }
    let valid;
    try {
      valid = validateCompletionRequest(parseBody(raw), { maxLogprobs: 20 });
    } catch (e) {
      if (e instanceof ProtocolError) return sendJson(res, e.status, e.body());
      throw e;
    }
    await enter();
    try {
      const words = opts.answers === 'words';
      const answer = words ? wordEcho(valid.model, valid.prompts, valid.logprobs) : buildCompletionResponse(valid, { maxLogprobs: 20 }, tokenizer);
      const tokens = words ? answer.usage.prompt_tokens : valid.prompts.reduce((n, p) => n + promptTokens(tokenizer, p).length, 0);
      counters.prompts += valid.prompts.length;
      counters.promptTokens += tokens;
      const lo = opts.latencyMs ?? 0;
      const fixed = opts.latencyMaxMs !== undefined ? lo + random() * (opts.latencyMaxMs - lo) : lo;
      const compute = (tokens * (opts.perTokenUs ?? 0)) / 1000;
      const now = performance.now();
      // The tokens wait for the compute line, then hold it; the fixed part overlaps with other requests.
      const start = Math.max(now, computeFree);
      computeFree = start + compute;
      counters.computeBusyMs += compute;
      const wait = Math.max(fixed, computeFree - now) - (performance.now() - now);
      if (wait > 0) await sleep(wait);
      counters.served++;
      sendJson(res, 200, answer, gate.headers);
    } finally {
      leave();
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: String(err?.message ?? err) } });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        baseURL: `http://127.0.0.1:${port}/v1`,
        port,
        counters,
        setFail: (f) => (fail = f),
        close: () =>
          new Promise<void>((ok) => {
            server.close(() => ok());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Standalone: a separate process, so that a benchmark measures the client's CPU alone. */
export async function main(argv = process.argv.slice(2)): Promise<void> {
  const o: LoadServerOptions = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [k, v] = [argv[i], argv[i + 1]];
    const n = Number(v);
    switch (k) {
      case '--capacity': o.capacity = n; break;
      case '--latency-ms': o.latencyMs = n; break;
      case '--latency-max-ms': o.latencyMaxMs = n; break;
      case '--per-token-us': o.perTokenUs = n; break;
      case '--rate': o.rate = n; break;
      case '--window-ms': o.windowMs = n; break;
      case '--hints': o.hints = v as LoadServerOptions['hints']; break;
      case '--seed': o.seed = n; break;
      case '--answers': o.answers = v as LoadServerOptions['answers']; break;
      default:
        process.stderr.write(`unknown option ${k}\n`);
        process.exit(2);
    }
  }
  const s = await startLoadServer(o);
  const cpu0 = process.cpuUsage();
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    const cpu = process.cpuUsage(cpu0);
    process.stdout.write(JSON.stringify({ ...s.counters, cpuMs: (cpu.user + cpu.system) / 1000 }) + '\n', () => void s.close().then(() => process.exit(0)));
  };
  process.on('SIGTERM', finish);
  process.stdin.on('end', finish);
  process.stdin.resume();
  process.stdout.write(`listening ${s.baseURL}\n`);
}

if (require.main === module) void main();
