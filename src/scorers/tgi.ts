import { redact, rememberSecret } from '../core/secrets';
import { extractSpan, type EchoedTokens, type SpanResult } from '../core/span';
import { RETRY_AFTER_CAP_MS, sleep } from './completions';
import type { ScoreRequest, Scorer } from './scorer';
import { ReplicaPool, type Replica } from './replicas';

export interface TgiScorerOptions {
  /** The server's root (http://host:8080), where /generate is; a list: replicas (the least busy is asked, a failing one skipped). */
  baseURL: string | string[];
  apiKey?: string;
  maxRetries?: number;
  timeoutMs?: number;
  /** Requests in flight per replica (the policy's concurrency): maxInFlight is this × replicas. */
  concurrency?: number;
}

export const NO_PREFILL =
  'TGI answered without prefill log-probs: TGI ≥ 3 gives them only when started with --enable-prefill-logprobs';

export type GenerateOutcome = { ok: true; echo: EchoedTokens & { token_ids: number[] } } | { ok: false; status: number; error: string; retryMs?: number };

/**
 * One teacher-forcing request to TGI's native /generate: TGI has no echo on
 * /v1/completions and refuses max_new_tokens 0, so one token is generated and
 * ignored, and the prompt's log-probs are read from details.prefill.
 */
export async function tgiGenerate(opts: TgiScorerOptions & { baseURL: string }, text: string, signal?: AbortSignal): Promise<GenerateOutcome> {
  rememberSecret(opts.apiKey);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 60000);
  let res: Response;
  let body: string;
  try {
    res = await fetch(opts.baseURL.replace(/\/+$/, '').replace(/\/v1$/, '') + '/generate', {
      method: 'POST',
      headers,
      body: JSON.stringify({ inputs: text, parameters: { max_new_tokens: 1, details: true, decoder_input_details: true } }),
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    body = await res.text();
  } catch (e) {
    if (signal?.aborted) throw e;
    return { ok: false, status: 0, error: redact(`request failed: ${(e as Error).message}`), retryMs: 500 };
  }
  if (!res.ok) {
    const ra = Number.parseFloat(res.headers.get('retry-after') ?? '');
    const retry = res.status === 429 || res.status >= 500 ? Math.min(Number.isFinite(ra) ? ra * 1000 : 500, RETRY_AFTER_CAP_MS) : undefined;
    let msg = body;
    try {
      const j = JSON.parse(body) as { error?: unknown };
      if (typeof j.error === 'string') msg = j.error;
    } catch {
      /* the text itself */
    }
    return { ok: false, status: res.status, error: redact(`HTTP ${res.status}: ${msg}`.replace(/\s+/g, ' ')).slice(0, 500), retryMs: retry };
  }
  let prefill: unknown;
  try {
    prefill = (JSON.parse(body) as { details?: { prefill?: unknown } }).details?.prefill;
  } catch {
    return { ok: false, status: res.status, error: 'the answer is not JSON', retryMs: 500 };
  }
  if (!Array.isArray(prefill) || prefill.length === 0) return { ok: false, status: res.status, error: NO_PREFILL };
  const toks = prefill as { id?: unknown; text?: unknown; logprob?: unknown }[];
  return {
    ok: true,
    echo: {
      tokens: toks.map((t) => (typeof t.text === 'string' ? t.text : '')),
      token_logprobs: toks.map((t) => (typeof t.logprob === 'number' ? t.logprob : null)),
      token_ids: toks.map((t) => (typeof t.id === 'number' ? t.id : -1)),
    },
  };
}

/** Scores through TGI's /generate, one prompt per request (TGI batches on the server; `concurrency` keeps it fed). */
export class TgiScorer implements Scorer {
  readonly batchSize = 1;
  private readonly pool: ReplicaPool<string>;
  constructor(private readonly opts: TgiScorerOptions) {
    const urls = Array.isArray(opts.baseURL) ? opts.baseURL : [opts.baseURL];
    this.pool = new ReplicaPool(urls.map((url) => ({ url, client: url })));
  }

  get maxInFlight(): number | undefined {
    return this.opts.concurrency === undefined ? undefined : this.opts.concurrency * this.pool.size;
  }

  /** Where probes should ask: the first replica (key included, never written anywhere). */
  get endpoint(): { baseURL: string; apiKey?: string; timeoutMs?: number } {
    return { baseURL: this.pool.replicas[0].url, apiKey: this.opts.apiKey, timeoutMs: this.opts.timeoutMs };
  }

  /** One prompt on the least busy replica; no answer or a 5xx marks it down and the next try goes elsewhere. */
  private async generate(text: string, tried: Set<Replica<string>>, signal?: AbortSignal): Promise<GenerateOutcome> {
    const replica = this.pool.pick(text.length / 4, tried);
    try {
      const res = await tgiGenerate({ ...this.opts, baseURL: replica.url }, text, signal);
      if (res.ok) this.pool.succeeded(replica);
      else if (res.status === 0 || res.status >= 500) {
        this.pool.failed(replica);
        tried.add(replica);
      }
      return res;
    } finally {
      this.pool.release(replica, text.length / 4);
    }
  }

  async scoreBatch(requests: ScoreRequest[], signal?: AbortSignal): Promise<SpanResult[]> {
    const out: SpanResult[] = [];
    for (const r of requests) {
      const tried = new Set<Replica<string>>();
      let res = await this.generate(r.rendered.text, tried, signal);
      // Another replica is up: ask it at once (no retry spent); then the usual capped, cancellable back-off.
      while (!res.ok && tried.size > 0 && tried.size < this.pool.size && this.pool.hasUpOtherThan(tried)) res = await this.generate(r.rendered.text, tried, signal);
      for (let attempt = 0; !res.ok && res.retryMs !== undefined && attempt < (this.opts.maxRetries ?? 5); attempt++) {
        await sleep(Math.min(res.retryMs * 2 ** attempt, RETRY_AFTER_CAP_MS), signal);
        if (tried.size >= this.pool.size) tried.clear();
        res = await this.generate(r.rendered.text, tried, signal);
      }
      out.push(res.ok ? extractSpan(r.rendered, res.echo, { endOfTurn: r.endOfTurn }) : { ok: false, failure: 'shape', error: res.error });
    }
    return out;
  }
}
