// The local worker: an HTTP server on 127.0.0.1 speaking the completions echo
// protocol (as Fireworks and vLLM do), backed by a transformers.js model.
//
//   GET  /health           {"status":"ok", model, device, dtype, ...}
//   GET  /v1/models        the one model served
//   POST /v1/completions   echo=true, max_tokens=0, logprobs=k: tokens,
//                          token_logprobs (first null), top_logprobs,
//                          text_offset (in code points, as Python servers),
//                          token_ids and entropy (additions)
//
// Prompts from all requests are packed into right-padded batches of at most
// maxBatchTokens (batch × longest sequence). Each batch's forward pass and the
// reduction of its logits to log-prob, top-k and entropy per position run in
// the model's own thread (thread.ts, forward-thread.ts): onnxruntime-node runs
// a session on the thread that calls it, so this thread parses requests and
// builds and writes responses while the next batch is computed.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { loadTokenizer, type Device, type Dtype, type LoadedModel, type ModelInfo } from './model';
import { bad, contextError, parseCompletionRequest, ProtocolError, type PromptInput } from './protocol';
import type { SeqScores } from './reduce';
import { ModelThread } from './thread';

export interface WorkerOptions {
  model: string;
  port?: number;
  device?: Device;
  dtype?: Dtype;
  /** Padded tokens (batch × longest) per forward pass. Default 4096. */
  maxBatchTokens?: number;
  /** Largest request body in bytes (413 above). Default 8 MiB. */
  maxBodyBytes?: number;
  /**
   * Where each batch's logits are reduced: 'onnx' (default) runs
   * src/worker/reduce.onnx in onnxruntime, falling back to 'js' (reduce.ts,
   * one pass per row on the JS thread) with one log line when it cannot load.
   */
  reduce?: 'onnx' | 'js';
  /** onnxruntime threads for the reduction (default 1; 0: onnxruntime's default, one per core). */
  reduceThreads?: number;
  /** The reduction graph (default: reduceGraphPath(), src/worker/reduce.onnx in the package). */
  reduceGraph?: string;
  /** Whether the model session's onnxruntime threads spin between runs (default false; see LoadOptions.spinning). */
  spinning?: boolean;
  log?: (line: string) => void;
}

/** The served model as the HTTP side sees it: tokenizer and token tables here, the ONNX session in the model thread. */
export type ServedModel = ModelInfo & { device: 'cpu' | 'cuda' };

export interface RunningWorker {
  baseURL: string;
  port: number;
  model: ServedModel;
  close(): Promise<void>;
}

interface Item {
  ids: number[];
  k: number;
  resolve: (s: SeqScores) => void;
  reject: (e: unknown) => void;
}

/** Runs forward pass + reduction of one right-padded batch (the model thread). */
export interface BatchEngine {
  run(seqs: { ids: number[]; k: number }[], maxLen: number): Promise<SeqScores[]>;
  /** Which reduction the last batch got. */
  readonly reduceMode: 'onnx' | 'js';
}

/**
 * Packs sequences into padded batches in queue order and hands them to the
 * engine, two at a time: while the thread computes one, the next waits there,
 * and the results of the one before are turned into responses here.
 */
export class Batcher {
  private queue: Item[] = [];
  private inFlight = 0;
  private scheduled = false;
  /** Batches in the engine at once: one computing, one waiting. */
  static readonly DEPTH = 2;
  /** Tokens scored, for /health. */
  stats = { batches: 0, sequences: 0, tokens: 0, paddedTokens: 0 };

  constructor(
    private readonly engine: BatchEngine,
    private readonly maxBatchTokens: number,
  ) {}

  /** Which reduction the last batch got. */
  get reduceMode(): 'onnx' | 'js' {
    return this.engine.reduceMode;
  }

  score(ids: number[], k: number): Promise<SeqScores> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ids, k, resolve, reject });
      // After the current task: the prompts of one request, queued together, share batches.
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  /** The next batch: queue order, as many as fit in the token budget (the first always fits). */
  private take(): Item[] | null {
    if (!this.queue.length) return null;
    const batch: Item[] = [];
    let maxLen = 0;
    while (this.queue.length) {
      const len = Math.max(maxLen, this.queue[0].ids.length);
      if (batch.length && (batch.length + 1) * len > this.maxBatchTokens) break;
      maxLen = len;
      batch.push(this.queue.shift()!);
    }
    return batch;
  }

  private pump(): void {
    while (this.inFlight < Batcher.DEPTH) {
      const batch = this.take();
      if (!batch) return;
      const maxLen = batch.reduce((m, it) => Math.max(m, it.ids.length), 0);
      this.inFlight++;
      let p: Promise<SeqScores[]>;
      try {
        p = this.engine.run(batch, maxLen);
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        (scores) => {
          this.stats.batches++;
          this.stats.sequences += batch.length;
          this.stats.tokens += batch.reduce((n, it) => n + it.ids.length, 0);
          this.stats.paddedTokens += batch.length * maxLen;
          batch.forEach((it, b) => it.resolve(scores[b]));
        },
        (e) => {
          for (const it of batch) it.reject(e);
        },
      ).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }
}

/** text_offset of every token in code points of the prompt text; tokens not in the text (a BOS the tokenizer adds) are zero-width. */
export function codePointOffsets(textBytes: Uint8Array, ids: number[], model: Pick<LoadedModel, 'tokenBytes' | 'added'>): number[] {
  const n = textBytes.length;
  const cpAt = new Int32Array(n + 1);
  let count = -1;
  for (let i = 0; i < n; i++) {
    if ((textBytes[i] & 0xc0) !== 0x80) count++;
    cpAt[i] = Math.max(count, 0);
  }
  cpAt[n] = count + 1;
  const out: number[] = [];
  let cursor = 0;
  for (const id of ids) {
    const tb = model.tokenBytes[id];
    let match = tb.length > 0 && cursor + tb.length <= n;
    for (let j = 0; match && j < tb.length; j++) if (textBytes[cursor + j] !== tb[j]) match = false;
    out.push(cpAt[cursor]);
    if (match) cursor += tb.length;
    else if (!model.added.has(id)) cursor = Math.min(n, cursor + tb.length);
  }
  return out;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A body already serialized (sendJson writes it as it is). */
class RawJson {
  constructor(readonly text: string) {}
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body instanceof RawJson ? body.text : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<{ raw: string; tooLarge: boolean; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers['content-length'] ?? 0) > limit;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) tooLarge = true;
      if (!tooLarge) chunks.push(c);
    });
    req.on('end', () => resolve({ raw: tooLarge ? '' : Buffer.concat(chunks).toString('utf8'), tooLarge, size }));
    req.on('error', reject);
  });
}

/** Whether a request's `model` names the served folder: its name, its path, or any path ending in its name. */
function namesModel(requested: string, m: ServedModel): boolean {
  const r = requested.replace(/[\\/]+$/, '');
  return r === m.id || path.resolve(r) === m.dir || path.basename(r) === m.id;
}

export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  // The folder is checked and the tokenizer loaded here (clear startup errors first), the ONNX sessions in the model thread.
  const info = await loadTokenizer(opts.model, { dtype: opts.dtype });
  const thread = await ModelThread.start(
    { dir: info.dir, config: info.config, device: opts.device, dtype: opts.dtype, reduce: opts.reduce ?? 'onnx', reduceThreads: opts.reduceThreads, reduceGraph: opts.reduceGraph, spinning: opts.spinning ?? false },
    opts.log,
  );
  const model: ServedModel = { ...info, device: thread.device };
  const maxBatchTokens = opts.maxBatchTokens ?? 4096;
  const maxBody = opts.maxBodyBytes ?? 8 * 1024 * 1024;
  const batcher = new Batcher(thread, maxBatchTokens);
  const enc = new TextEncoder();
  const dec = new TextDecoder('utf-8', { fatal: false });
  const started = Date.now();

  async function completions(body: unknown) {
    const req = parseCompletionRequest(body);
    if (!namesModel(req.model, model)) {
      throw new ProtocolError(404, `The model \`${req.model}\` does not exist: this worker serves ${model.id} (${model.dir}).`, 'invalid_request_error', 'model_not_found', 'model');
    }
    // Every prompt is checked before any is scored: one bad prompt fails the request, as on OpenAI's servers.
    const prepared = req.prompts.map((p: PromptInput, i) => {
      let ids: number[];
      let textBytes: Uint8Array;
      let text: string;
      if ('text' in p) {
        ids = model.encode(p.text);
        text = p.text;
        textBytes = enc.encode(p.text);
      } else {
        ids = p.ids;
        const badAt = ids.findIndex((id) => id >= model.vocabSize);
        if (badAt !== -1) throw bad(`prompt ${i}: token ${badAt} is ${ids[badAt]}, which is not a token id of this model (0..${model.vocabSize - 1})`, 'prompt', 'invalid_token_id');
        textBytes = concatBytes(ids.map((id) => model.tokenBytes[id]));
        text = dec.decode(textBytes);
      }
      if (ids.length === 0) throw bad(`prompt ${i} is empty after tokenization`, 'prompt', 'empty_prompt');
      if (ids.length > model.maxPositions) throw contextError(ids.length, model.maxPositions, i);
      return { ids, text, textBytes };
    });
    const k = req.logprobs ?? 0;
    const choice = (p: (typeof prepared)[number], index: number, st: SeqScores | null) => {
      let logprobs: Record<string, unknown> | null = null;
      if (req.logprobs !== null && st) {
        const top: (Record<string, number> | null)[] = [null];
        const lps: (number | null)[] = [null];
        const ent: (number | null)[] = [null];
        for (let t = 0; t < st.length; t++) {
          const d: Record<string, number> = {};
          // As OpenAI and vLLM do: the scored token is always listed, beside the k best.
          const target = p.ids[t + 1];
          d[model.tokenText[target]] = st.logprob[t];
          for (let j = t * st.k; j < (t + 1) * st.k; j++) {
            const id = st.topIds[j];
            const key = model.tokenText[id];
            if (!(key in d) || id === target) d[key] = st.topLogprobs[j];
          }
          top.push(d);
          lps.push(st.logprob[t]);
          ent.push(st.entropy[t]);
        }
        logprobs = {
          tokens: p.ids.map((id) => model.tokenText[id]),
          token_logprobs: lps,
          top_logprobs: top,
          text_offset: codePointOffsets(p.textBytes, p.ids, model),
          token_ids: p.ids,
          entropy: ent,
        };
      } else if (req.logprobs !== null) {
        logprobs = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [], token_ids: [], entropy: [] };
      }
      return { index, text: req.echo ? p.text : '', logprobs, finish_reason: 'length' };
    };
    // Each prompt's choice is built and serialized as soon as its batch is back, while later batches are computed;
    // the body is JSON.stringify of { id, object, created, model, choices, usage }, put together from those pieces.
    const scoring = req.echo && req.logprobs !== null;
    const json = (p: (typeof prepared)[number], index: number, st: SeqScores | null) => JSON.stringify(choice(p, index, st));
    const choices = await Promise.all(prepared.map((p, index) => (scoring ? batcher.score(p.ids, k).then((st) => json(p, index, st)) : json(p, index, null))));
    const total = prepared.reduce((n, p) => n + p.ids.length, 0);
    const head = JSON.stringify({
      id: `cmpl-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: model.id,
    });
    const usage = JSON.stringify({ prompt_tokens: total, completion_tokens: 0, total_tokens: total });
    return new RawJson(`${head.slice(0, -1)},"choices":[${choices.join(',')}],"usage":${usage}}`);
  }

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = (req.url ?? '/').split('?')[0];
    const { raw, tooLarge, size } = await readBody(req, maxBody);
    try {
      if (url === '/health' || url === '/v1/health') {
        if (req.method !== 'GET') throw new ProtocolError(405, `${req.method} is not allowed on ${url}; use GET`, 'invalid_request_error', 'method_not_allowed');
        return sendJson(res, 200, {
          status: 'ok',
          model: model.id,
          path: model.dir,
          device: model.device,
          dtype: model.dtype,
          max_model_len: model.maxPositions,
          max_batch_tokens: maxBatchTokens,
          reduce: batcher.reduceMode,
          uptime_s: Math.round((Date.now() - started) / 1000),
          ...batcher.stats,
        });
      }
      if (url === '/v1/models') {
        if (req.method !== 'GET') throw new ProtocolError(405, `${req.method} is not allowed on ${url}; use GET`, 'invalid_request_error', 'method_not_allowed');
        return sendJson(res, 200, {
          object: 'list',
          data: [{ id: model.id, object: 'model', created: Math.floor(started / 1000), owned_by: 'cje-worker', root: model.dir, max_model_len: model.maxPositions }],
        });
      }
      if (url === '/v1/completions') {
        if (req.method !== 'POST') throw new ProtocolError(405, `${req.method} is not allowed on ${url}; use POST`, 'invalid_request_error', 'method_not_allowed');
        if (tooLarge) {
          throw new ProtocolError(413, `the request body is ${size} bytes; the cje worker accepts at most ${maxBody} bytes (send fewer prompts per request)`, 'invalid_request_error', 'request_too_large');
        }
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch (e) {
          throw bad(`the request body is not valid JSON (${(e as Error).message})`, null, 'invalid_json');
        }
        return sendJson(res, 200, await completions(body));
      }
      throw new ProtocolError(404, `no route ${req.method} ${url} (the cje worker serves GET /health, GET /v1/models, POST /v1/completions)`, 'invalid_request_error', 'not_found');
    } catch (e) {
      if (e instanceof ProtocolError) return sendJson(res, e.status, e.body());
      opts.log?.(`cje worker: internal error: ${(e as Error).stack ?? e}`);
      return sendJson(res, 500, new ProtocolError(500, `internal error: ${(e as Error).message}`, 'server_error', 'internal_error').body());
    }
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      opts.log?.(`cje worker: ${(e as Error).message}`);
      if (!res.headersSent) sendJson(res, 500, new ProtocolError(500, 'internal error', 'server_error', 'internal_error').body());
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === 'EADDRINUSE' ? `port ${opts.port} on 127.0.0.1 is in use (use --port 0 for any free port)` : e.message)),
      );
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
  } catch (e) {
    await thread.close();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    port,
    model,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await thread.close();
    },
  };
}
