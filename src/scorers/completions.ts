import OpenAI from 'openai';
import { extractSpan, spanByPrefixCount, type EchoedTokens, type SpanResult } from '../core/span';
import type { ScoreRequest, Scorer } from './scorer';

export interface CompletionsScorerOptions {
  baseURL: string;
  model: string;
  /** The key itself, resolved by the caller from an environment variable or secret storage. */
  apiKey?: string;
  batchSize?: number;
  maxRetries?: number;
  timeoutMs?: number;
  /** Top alternatives asked per token (the echo needs at least 0; 1 keeps responses small). */
  topLogprobs?: number;
}

/** Errors in a 200 response that the SDK does not retry: a body that is not JSON or lacks logprobs. */
class BadResponse extends Error {}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

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
    return `${status}: ${msg}`.replace(/\s+/g, ' ').slice(0, 500);
  }
  return (e instanceof Error ? e.message : String(e)).slice(0, 500);
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
  private readonly client: OpenAI;
  private readonly maxRetries: number;

  constructor(private readonly opts: CompletionsScorerOptions) {
    this.wantedBatch = Math.max(1, opts.batchSize ?? 8);
    this.maxRetries = opts.maxRetries ?? 5;
    this.client = new OpenAI({
      baseURL: opts.baseURL,
      // The SDK insists on a key; servers without one must not receive a made-up bearer token.
      apiKey: opts.apiKey ?? 'unused',
      defaultHeaders: opts.apiKey ? undefined : { Authorization: null },
      maxRetries: this.maxRetries,
      timeout: opts.timeoutMs ?? 60000,
    });
  }

  private async echo(prompts: string[], signal?: AbortSignal): Promise<EchoedTokens[]> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.client.completions.create(
          {
            model: this.opts.model,
            prompt: prompts.length === 1 ? prompts[0] : prompts,
            echo: true,
            max_tokens: 0,
            logprobs: this.opts.topLogprobs ?? 1,
            temperature: 0,
          },
          { signal },
        );
        return parseEcho(res, prompts.length);
      } catch (e) {
        const malformed = e instanceof BadResponse || e instanceof SyntaxError;
        if (!malformed || attempt >= this.maxRetries || signal?.aborted) throw e;
        await sleep(Math.min(500 * 2 ** attempt, 8000), signal);
      }
    }
  }

  get batchSize(): number {
    return this.listsRefused ? 1 : this.wantedBatch;
  }

  scoreBatch(requests: ScoreRequest[], signal?: AbortSignal): Promise<SpanResult[]> {
    return withChildSignal(signal, (s) => this.scoreLinked(requests, s));
  }

  private async scoreLinked(requests: ScoreRequest[], signal?: AbortSignal): Promise<SpanResult[]> {
    let echoes: EchoedTokens[];
    try {
      echoes = await this.echo(requests.map((r) => r.rendered.text), signal);
    } catch (e) {
      if (signal?.aborted) throw e;
      // One bad prompt (too long, say) fails a whole batch: retry one by one to keep the others.
      if (requests.length > 1 && e instanceof OpenAI.APIError && e.status === 400) {
        const out: SpanResult[] = [];
        for (const r of requests) out.push(...(await this.scoreLinked([r], signal)));
        // Every prompt passed alone: the server takes no lists (or not this many), so stop sending them.
        if (out.every((o) => o.ok || !o.error.startsWith('HTTP 400'))) this.listsRefused = true;
        return out;
      }
      const error = describeError(e);
      return requests.map(() => ({ ok: false as const, error }));
    }
    const results: SpanResult[] = [];
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i];
      let res = extractSpan(r.rendered, echoes[i], { endOfTurn: r.endOfTurn });
      if (!res.ok && res.needPrefixCount) res = await this.byPrefixCount(r, echoes[i], signal);
      results.push(res);
    }
    return results;
  }

  private async byPrefixCount(r: ScoreRequest, echo: EchoedTokens, signal?: AbortSignal): Promise<SpanResult> {
    try {
      const [prefix] = await this.echo([r.rendered.text.slice(0, r.rendered.responseStart)], signal);
      return spanByPrefixCount(r.rendered, echo, prefix.tokens.length);
    } catch (e) {
      if (signal?.aborted) throw e;
      return { ok: false, error: `prefix count failed: ${describeError(e)}` };
    }
  }
}

function parseEcho(res: unknown, n: number): EchoedTokens[] {
  const choices = (res as { choices?: unknown })?.choices;
  if (!Array.isArray(choices) || choices.length !== n) {
    throw new BadResponse(`the server answered ${Array.isArray(choices) ? choices.length : 'no'} choices for ${n} prompt(s)`);
  }
  const out: EchoedTokens[] = new Array(n);
  for (const c of choices) {
    const idx = typeof c?.index === 'number' ? c.index : choices.indexOf(c);
    const lp = c?.logprobs;
    if (!lp || !Array.isArray(lp.tokens) || !Array.isArray(lp.token_logprobs) || idx < 0 || idx >= n) {
      throw new BadResponse('the server answered without logprobs: does it support echo with logprobs for this model?');
    }
    out[idx] = { tokens: lp.tokens, token_logprobs: lp.token_logprobs, text_offset: lp.text_offset, entropy: lp.entropy };
  }
  if (out.some((e) => !e)) throw new BadResponse('the server answered choices with repeated indices');
  return out;
}
