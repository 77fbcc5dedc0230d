import OpenAI from 'openai';
import type { EndpointProfile } from '../core/endpoint-profile';
import { redact, rememberSecret } from '../core/secrets';
import { extractSpan, spanByPrefixCount, spanFromIds, type EchoedTokens, type SpanResult } from '../core/span';
import { BadResponse, NO_LOGPROBS, promptTokensOf, readChoices, withoutGenerated, type Echo, type ParsedChoice } from './echo-shape';
import type { IdEncoder, SeparateIds } from './separate-tokenization';
import type { ScoreRequest, Scorer } from './scorer';
import { AdaptiveLimit, sleep } from './aimd';
import { readRateLimitHints } from './rate-limit-headers';
import { ReplicaPool, type Replica } from './replicas';

export interface CompletionsScorerOptions {
  /** The endpoint, or several replicas of it (each request goes to the least busy; see replicas.ts). */
  baseURL: string | string[];
  model: string;
  /** The key itself, resolved by the caller from an environment variable or secret storage. */
  apiKey?: string;
  batchSize?: number;
  maxRetries?: number;
  timeoutMs?: number;
  /** Top alternatives asked per token (the echo needs at least 0; 1 keeps responses small). */
  topLogprobs?: number;
  /** Separate tokenization: prompts are sent as token ids made by this encoder. */
  separate?: IdEncoder;
  /**
   * 0 (default): nothing is generated. 1 for servers that refuse 0 (TGI and
   * others): the one generated token is cut from the echo before the span is read.
   */
  maxTokens?: 0 | 1;
  /** Hears long waits (a capped Retry-After), for the progress line. */
  onWait?: (message: string) => void;
  /**
   * Requests in flight per replica at most (the policy's concurrency); maxInFlight
   * is this × replicas. The scorer keeps itself below that with an adaptive limit
   * (aimd.ts). Unset: no bound of its own (the caller's holds).
   */
  concurrency?: number;
  /** false: a fixed limit of concurrency × replicas (no halving on 429s or latency). Default true. */
  adaptive?: boolean;
}

/** The longest a Retry-After is honoured: a server asking for an hour gets retried after this, or the user cancels. */
export const RETRY_AFTER_CAP_MS = 60_000;

/**
 * How long to wait before retrying, or undefined when the error is not worth a
 * retry. Retried: 408, 409, 429, 5xx (honouring retry-after-ms / Retry-After
 * up to the cap, and x-should-retry), connections refused or reset before an
 * answer, a body cut off mid-way ("terminated"), and 200 answers that are not
 * readable JSON echoes.
 */
export function retryDelay(e: unknown, attempt: number): { ms: number; asked?: number } | undefined {
  const backoff = Math.min(500 * 2 ** attempt, 8000) * (1 - Math.random() * 0.25);
  if (e instanceof BadResponse || e instanceof SyntaxError) return { ms: backoff };
  if (e instanceof OpenAI.APIConnectionTimeoutError || e instanceof OpenAI.APIConnectionError) return { ms: backoff };
  if (e instanceof OpenAI.APIError) {
    const h = e.headers;
    const should = h?.get('x-should-retry');
    if (should === 'false') return undefined;
    const status = e.status ?? 0;
    if (should !== 'true' && !(status === 408 || status === 409 || status === 429 || status >= 500)) return undefined;
    let asked: number | undefined;
    const ms = Number.parseFloat(h?.get('retry-after-ms') ?? '');
    if (Number.isFinite(ms) && ms >= 0) asked = ms;
    else {
      const ra = h?.get('retry-after');
      if (ra) {
        const secs = Number.parseFloat(ra);
        asked = Number.isFinite(secs) ? secs * 1000 : Date.parse(ra) - Date.now();
        if (!Number.isFinite(asked) || asked < 0) asked = undefined;
      }
    }
    return asked === undefined ? { ms: backoff } : { ms: Math.min(asked, RETRY_AFTER_CAP_MS), asked };
  }
  // The body was cut off after the status line: undici says "terminated" (its cause: the socket closed).
  const msg = e instanceof Error ? e.message : '';
  const code = (e as { cause?: { code?: string } })?.cause?.code ?? (e as { code?: string })?.code;
  if (msg === 'terminated' || code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE') return { ms: backoff };
  return undefined;
}


export { sleep };

/** What a failed request says about where to send it next. */
type FailureKind = 'rate-limited' | 'replica' | 'retry' | 'fatal';

function failureKind(e: unknown): FailureKind {
  if (e instanceof BadResponse || e instanceof SyntaxError) return 'retry';
  if (e instanceof OpenAI.APIConnectionTimeoutError || e instanceof OpenAI.APIConnectionError) return 'replica';
  if (e instanceof OpenAI.APIError) {
    const should = e.headers?.get('x-should-retry');
    if (should === 'false') return 'fatal';
    const status = e.status ?? 0;
    if (status === 429) return 'rate-limited';
    if (status === 408 || status >= 500) return 'replica';
    return status === 409 || should === 'true' ? 'retry' : 'fatal';
  }
  return retryDelay(e, 0) ? 'replica' : 'fatal';
}

/** The body as the SDK reads it: JSON when the server says so, else the text (which the echo check then refuses). */
async function readJson(response: Response): Promise<unknown> {
  const type = response.headers.get('content-type')?.split(';')[0]?.trim() ?? '';
  if (type.includes('application/json') || type.endsWith('+json')) return response.headers.get('content-length') === '0' ? undefined : response.json();
  return response.text();
}

/** Approximate prompt tokens of a request: what "outstanding work" counts per replica. */
function workOf(prompts: string[] | number[][]): number {
  let w = 0;
  for (const p of prompts) w += 1 + (typeof p === 'string' ? p.length / 4 : p.length);
  return w;
}

/**
 * A signal that follows `parent` for the length of one batch. The SDK leaves a
 * listener on every signal it is given, so handing it the run's long-lived
 * signal would pile up one listener per request.
 */
async function withChildSignal<T>(parent: AbortSignal | undefined, fn: (signal?: AbortSignal) => Promise<T>): Promise<T> {
  if (!parent) return fn(undefined);
  const child = new AbortController();
  const onAbort = () => child.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(child.signal);
  } finally {
    parent.removeEventListener('abort', onAbort);
  }
}

/** An error message fit for a results file: status and server message, never request headers. */
export function describeError(e: unknown): string {
  if (e instanceof OpenAI.APIError) {
    const status = e.status ? `HTTP ${e.status}` : 'request failed';
    const msg = (e.error as { message?: string } | undefined)?.message ?? e.message;
    return redact(`${status}: ${msg}`.replace(/\s+/g, ' ')).slice(0, 500);
  }
  return redact(e instanceof Error ? e.message : String(e)).slice(0, 500);
}

/**
 * Scores over an OpenAI-compatible /v1/completions endpoint with echo: the
 * server returns the log-prob of every token of the prompt, the response
 * included, without generating anything (max_tokens 0).
 */
export class CompletionsScorer implements Scorer {
  private readonly wantedBatch: number;
  /** Set once the server refused a list of prompts that it accepted one by one. */
  private listsRefused = false;
  /** Set once the server's answer to a list could not be matched to its prompts without doubt. */
  private listsUnreliable = false;
  private readonly pool: ReplicaPool<OpenAI>;
  private readonly limiter: AdaptiveLimit;
  private readonly perReplica: number;
  private readonly maxRetries: number;
  private maxTokens: 0 | 1;

  constructor(private readonly opts: CompletionsScorerOptions) {
    this.wantedBatch = Math.max(1, opts.batchSize ?? 8);
    this.maxRetries = opts.maxRetries ?? 5;
    this.maxTokens = opts.maxTokens ?? 0;
    rememberSecret(opts.apiKey);
    const urls = Array.isArray(opts.baseURL) ? opts.baseURL : [opts.baseURL];
    this.pool = new ReplicaPool(
      urls.map((url) => ({
        url,
        client: new OpenAI({
          baseURL: url,
          // The SDK insists on a key; servers without one must not receive a made-up bearer token.
          apiKey: opts.apiKey ?? 'unused',
          defaultHeaders: opts.apiKey ? undefined : { Authorization: null },
          // Retries are ours (retryDelay): the SDK's wait follows any Retry-After, however long, and cannot be cancelled.
          maxRetries: 0,
          timeout: opts.timeoutMs ?? 60000,
        }),
      })),
    );
    // Without a concurrency of its own the caller's bound is the only one (the pipeline's, from the policy).
    this.perReplica = opts.concurrency === undefined ? 256 : Math.max(1, opts.concurrency);
    const ceiling = this.perReplica * this.pool.size;
    // Not adaptive: a floor at the ceiling pins the limit there.
    this.limiter = new AdaptiveLimit({ ceiling, floor: opts.adaptive === false ? ceiling : 1 });
  }

  /** Batches the pipeline may keep in flight: concurrency × replicas; the adaptive limit stays at or below it. */
  get maxInFlight(): number | undefined {
    return this.opts.concurrency === undefined ? undefined : this.perReplica * this.pool.size;
  }

  /** The adaptive limit's state now (for progress lines and benchmarks). */
  get limit() {
    return this.limiter.stats;
  }

  /** Per replica: its URL, answers served, and whether it takes requests now. */
  get replicaStats(): { url: string; served: number; up: boolean }[] {
    return this.pool.replicas.map((r) => ({ url: r.url, served: r.served, up: this.pool.isUp(r) }));
  }

  private async echo(prompts: string[] | number[][], signal?: AbortSignal): Promise<EchoAnswer> {
    const work = workOf(prompts);
    const tried = new Set<Replica<OpenAI>>();
    let failovers = 0;
    for (let attempt = 0; ; ) {
      const permit = await this.limiter.acquire(signal);
      const replica = this.pool.pick(work, tried);
      const t0 = performance.now();
      try {
        const response = await replica.client.completions
          .create(
            {
              model: this.opts.model,
              prompt: prompts.length === 1 ? prompts[0] : prompts,
              echo: true,
              max_tokens: this.maxTokens,
              logprobs: this.opts.topLogprobs ?? 1,
              temperature: 0,
            },
            { signal },
          )
          .asResponse();
        // Latency to the answer's headers: the server's time, not the time this process then takes to
        // read a large body while other answers queue behind it (which is no reason to send fewer).
        const latencyMs = performance.now() - t0;
        this.limiter.observe(readRateLimitHints((h) => response.headers.get(h)));
        const parsed = parseEcho(await readJson(response), prompts, this.maxTokens);
        if (replica.failures > 0 && this.pool.size > 1) this.opts.onWait?.(`replica ${replica.url} answers again`);
        this.pool.succeeded(replica);
        this.limiter.ceiling = this.perReplica * Math.max(1, this.pool.upCount);
        permit.done({ kind: 'ok', latencyMs });
        return parsed;
      } catch (e) {
        if (signal?.aborted) {
          permit.done({ kind: 'cancelled' });
          throw e;
        }
        const kind = failureKind(e);
        const headers = e instanceof OpenAI.APIError ? e.headers : undefined;
        const hints = headers ? readRateLimitHints((h) => headers.get(h)) : {};
        if (kind === 'rate-limited') {
          permit.done({ kind: 'rate-limited' });
          // Retry-After is the server's word for everyone: no request starts before it is over.
          this.limiter.observe(hints);
        } else {
          permit.done({ kind: 'failed' });
          if (kind === 'replica') {
            this.pool.failed(replica);
            this.limiter.ceiling = this.perReplica * Math.max(1, this.pool.upCount);
            // Said once per outage, where the user looks: a list with a dead entry scores on, slower.
            if (this.pool.size > 1 && replica.failures === 1) {
              this.opts.onWait?.(`replica ${replica.url} failed (${describeError(e)}); its requests go to the other ${this.pool.size - 1} until it answers again`);
            }
          }
        }
        tried.add(replica);
        if (kind === 'fatal') throw e;
        // Another replica is up: send it there at once; that is no retry of the same server.
        if (kind === 'replica' && failovers < this.pool.size - 1 && this.pool.hasUpOtherThan(tried)) {
          failovers++;
          continue;
        }
        if (attempt >= this.maxRetries) throw e;
        let wait = retryDelay(e, attempt++);
        if (wait === undefined) throw e;
        // A 429 that names no wait: the halved limit already slows every request down, so this one
        // needs only a short pause (a long one would leave it behind the run, a tail of seconds).
        if (kind === 'rate-limited' && wait.asked === undefined) wait = { ms: Math.min(wait.ms, 250 * 2 ** Math.min(attempt, 3)) };
        if (wait.asked !== undefined && wait.asked > wait.ms) this.opts.onWait?.(`the server asked to wait ${Math.round(wait.asked / 1000)} s; waiting ${Math.round(wait.ms / 1000)} s (the cap) before retrying`);
        // A Retry-After is waited in acquire (the pause above); other failures back off here. Both end at once on Ctrl-C.
        if (kind !== 'rate-limited' || wait.asked === undefined) await sleep(wait.ms, signal);
        // Every replica was tried: start over with the one that comes back first.
        if (tried.size >= this.pool.size) tried.clear();
      } finally {
        this.pool.release(replica, work);
      }
    }
  }

  /** Where probes should ask: this scorer's first replica, key included (never written anywhere). */
  get endpoint(): { baseURL: string; model: string; apiKey?: string; timeoutMs?: number } {
    return { baseURL: this.pool.replicas[0].url, model: this.opts.model, apiKey: this.opts.apiKey, timeoutMs: this.opts.timeoutMs };
  }

  /** Every replica's URL, the first (the one probed) included. */
  get baseURLs(): string[] {
    return this.pool.replicas.map((r) => r.url);
  }

  adopt(profile: EndpointProfile): void {
    if (profile.probes.maxTokens === 1) this.maxTokens = 1;
    if (profile.probes.listPrompts === false) this.listsRefused = true;
  }

  get batchSize(): number {
    return this.listsRefused || this.listsUnreliable ? 1 : this.wantedBatch;
  }

  scoreBatch(requests: ScoreRequest[], signal?: AbortSignal): Promise<SpanResult[]> {
    return withChildSignal(signal, (s) => this.scoreLinked(requests, s));
  }

  private async scoreLinked(requests: ScoreRequest[], signal?: AbortSignal): Promise<SpanResult[]> {
    let answer: EchoAnswer;
    let sent: SeparateIds[] | undefined;
    try {
      if (this.opts.separate) {
        const enc = this.opts.separate;
        sent = requests.map((r) => enc.encode(r.rendered));
      }
      answer = await this.echo(sent ? sent.map((s) => s.ids) : requests.map((r) => r.rendered.text), signal);
    } catch (e) {
      if (signal?.aborted) throw e;
      // One bad prompt (too long, say) fails a whole batch: retry one by one to keep the others.
      if (requests.length > 1 && e instanceof OpenAI.APIError && e.status === 400) {
        const out = await this.oneByOne(requests, signal);
        // Every prompt passed alone: the server takes no lists (or not this many), so stop sending them.
        if (out.every((o) => o.ok || !o.error.startsWith('HTTP 400'))) this.listsRefused = true;
        return out;
      }
      const error = describeError(e);
      return requests.map(() => ({ ok: false as const, failure: 'shape' as const, error }));
    }
    if (answer.unmatched && requests.length > 1) {
      // Choices without trustworthy indices cannot be told apart: ask for each prompt alone.
      this.listsUnreliable = true;
      return this.oneByOne(requests, signal);
    }
    const results: SpanResult[] = [];
    const alone: number[] = [];
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i];
      const echo = answer.echoes[i];
      if (!echo) {
        alone.push(i);
        results.push({ ok: false, failure: 'shape', error: 'the server answered no choice for this prompt' });
        continue;
      }
      if (sent) {
        results.push(spanFromIds(r.rendered, echo, sent[i]));
        continue;
      }
      let res = extractSpan(r.rendered, echo, { endOfTurn: r.endOfTurn });
      if (!res.ok && res.needPrefixCount) res = await this.byPrefixCount(r, echo, signal);
      results.push(res);
    }
    if (requests.length > 1 && alone.length) {
      const again = await this.oneByOne(alone.map((i) => requests[i]), signal);
      alone.forEach((i, k) => (results[i] = again[k]));
    }
    // An echo that spells another prompt of the batch means the server mixed up its choices: send those alone.
    const misspelled = results.map((r, i) => (!r.ok && r.failure === 'spelling' && answer.echoes[i] ? i : -1)).filter((i) => i >= 0);
    if (requests.length > 1 && misspelled.length) {
      const mixedUp = !sent && misspelled.some((i) => answer.echoes.some((e, j) => j !== i && e && extractSpan(requests[i].rendered, e).ok));
      if (mixedUp) this.listsUnreliable = true;
      const again = await this.oneByOne(misspelled.map((i) => requests[i]), signal);
      misspelled.forEach((i, k) => {
        const r = again[k];
        results[i] = r.ok || !mixedUp ? r : { ...r, error: `${r.error} (the server also mixed up the choices of a batch)` };
      });
    }
    return results;
  }

  private async oneByOne(requests: ScoreRequest[], signal?: AbortSignal): Promise<SpanResult[]> {
    const out: SpanResult[] = [];
    for (const r of requests) out.push(...(await this.scoreLinked([r], signal)));
    return out;
  }

  private async byPrefixCount(r: ScoreRequest, echo: EchoedTokens, signal?: AbortSignal): Promise<SpanResult> {
    try {
      const { echoes: [prefix] } = await this.echo([r.rendered.text.slice(0, r.rendered.responseStart)], signal);
      if (!prefix) return { ok: false, failure: 'shape', error: 'prefix count failed: the server answered no choice' };
      return spanByPrefixCount(r.rendered, echo, prefix);
    } catch (e) {
      if (signal?.aborted) throw e;
      return { ok: false, error: `prefix count failed: ${describeError(e)}` };
    }
  }
}

interface EchoAnswer {
  /** The echo for each prompt, by position; missing where none could be matched. */
  echoes: (Echo | undefined)[];
  /** Why the choices could not be matched to the prompts by their indices. */
  unmatched?: string;
}

/**
 * Matches each choice to its prompt by `index`. Without an index on every
 * choice, or with indices that repeat or fall outside the list, the order of a
 * list answer proves nothing: then the answer is `unmatched` and the caller
 * sends each prompt alone (one prompt, one choice: no doubt).
 */
function parseEcho(res: unknown, prompts: string[] | number[][], maxTokens: number): EchoAnswer {
  const n = prompts.length;
  const { source, choices } = readChoices(res, n);
  const echoes: (Echo | undefined)[] = new Array(n).fill(undefined);
  const what = source === 'prompt-field' ? 'prompt entries' : 'choices';
  // usage counts the prompt tokens of all prompts together: it places the cut only for one.
  const promptTokens = n === 1 ? promptTokensOf(res) : undefined;
  const place = (i: number, c: ParsedChoice) => {
    if (c.echo) echoes[i] = maxTokens > 0 && source === 'choices' ? withoutGenerated(c.echo, promptTokens) : c.echo;
  };
  if (n === 1) {
    if (choices.length !== 1) return { echoes, unmatched: `the server answered ${choices.length} ${what} for 1 prompt` };
    if (!choices[0].echo) throw new BadResponse(NO_LOGPROBS);
    place(0, choices[0]);
    return { echoes };
  }
  if (choices.length !== n) return { echoes, unmatched: `the server answered ${choices.length} ${what} for ${n} prompts` };
  const seen = new Set<number>();
  for (const c of choices) {
    const idx = c.index;
    if (typeof idx !== 'number' || !Number.isInteger(idx)) return { echoes: new Array(n).fill(undefined), unmatched: `the server answered ${what} without an index: their order proves nothing` };
    if (idx < 0 || idx >= n) return { echoes: new Array(n).fill(undefined), unmatched: `the server answered a choice with index ${idx} for ${n} prompts` };
    if (seen.has(idx)) return { echoes: new Array(n).fill(undefined), unmatched: `the server answered two choices with index ${idx}` };
    seen.add(idx);
    // One choice without logprobs: its prompt is asked again alone, the others stand.
    place(idx, c);
  }
  if (echoes.every((e) => !e)) throw new BadResponse(NO_LOGPROBS);
  return { echoes };
}
