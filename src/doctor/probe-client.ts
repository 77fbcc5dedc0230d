import { knownSecrets, redact as redactSecrets } from '../core/secrets';
import { sleep } from '../scorers/completions';
import { BadResponse, promptTokensOf, readChoices, withoutGenerated, type Echo } from '../scorers/echo-shape';

export interface ProbeEndpoint {
  baseURL: string;
  model: string;
  /** Sent as a bearer token, never written anywhere: every message is redacted of it. */
  apiKey?: string;
  timeoutMs?: number;
}

export type EchoOutcome =
  | { kind: 'ok'; status: number; echoes: (Echo | undefined)[]; source: 'choices' | 'prompt-field'; body: unknown }
  /** A 200 that holds no prompt log-probs (llama.cpp's server, TGI without prefill log-probs). */
  | { kind: 'no-logprobs'; status: number; message: string; body: unknown }
  | { kind: 'http'; status: number; message: string }
  | { kind: 'network'; message: string };

const redact = (text: string, secret: string | undefined) => redactSecrets(text, [secret, ...knownSecrets()]);

/**
 * One /completions request, read raw: the doctor wants to see each answer as
 * it is. Only what says nothing about the server's behaviour is retried (a
 * connection that failed, 408, 429, 5xx), a few times, so that one busy moment
 * is not taken for a verdict.
 */
export async function echoRequest(
  ep: ProbeEndpoint,
  prompt: string | string[] | number[] | number[][],
  opts: { maxTokens?: number; logprobs?: number; signal?: AbortSignal } = {},
): Promise<EchoOutcome> {
  for (let attempt = 0; ; attempt++) {
    const r = await echoOnce(ep, prompt, opts);
    const transient = r.kind === 'network' || (r.kind === 'http' && (r.status === 408 || r.status === 429 || r.status >= 500));
    if (!transient || attempt >= PROBE_RETRIES || opts.signal?.aborted) return r;
    await sleep(Math.min(PROBE_WAIT_CAP_MS, 500 * 2 ** attempt), opts.signal);
  }
}

const PROBE_RETRIES = 3;
const PROBE_WAIT_CAP_MS = 5000;

async function echoOnce(
  ep: ProbeEndpoint,
  prompt: string | string[] | number[] | number[][],
  opts: { maxTokens?: number; logprobs?: number; signal?: AbortSignal } = {},
): Promise<EchoOutcome> {
  const url = ep.baseURL.replace(/\/+$/, '') + '/completions';
  const body = { model: ep.model, prompt, echo: true, max_tokens: opts.maxTokens ?? 0, logprobs: opts.logprobs ?? 1, temperature: 0 };
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (ep.apiKey) headers.authorization = `Bearer ${ep.apiKey}`;
  const timeout = AbortSignal.timeout(ep.timeoutMs ?? 30000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal });
    text = await res.text();
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { kind: 'network', message: redact(`${(e as Error).message}${cause?.code ? ` (${cause.code})` : cause?.message ? ` (${cause.message})` : ''}`, ep.apiKey) };
  }
  // Redacted before it is cut: a key across the cut would otherwise leave its first half.
  if (!res.ok) return { kind: 'http', status: res.status, message: redact(`HTTP ${res.status}: ${serverMessage(text)}`, ep.apiKey).slice(0, 300) };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'no-logprobs', status: res.status, message: 'the answer is not JSON', body: undefined };
  }
  const prompts = (Array.isArray(prompt) && (typeof prompt[0] === 'string' || Array.isArray(prompt[0])) ? prompt : [prompt]) as string[] | number[][];
  try {
    const { source, choices } = readChoices(json, prompts.length);
    // Lists are matched by index here too; an answer without indices is read in order only for one prompt.
    const echoes: (Echo | undefined)[] = new Array(prompts.length).fill(undefined);
    choices.forEach((c, pos) => {
      const i = typeof c.index === 'number' ? c.index : prompts.length === 1 ? 0 : pos;
      if (c.echo && i >= 0 && i < prompts.length) echoes[i] = (opts.maxTokens ?? 0) > 0 && source === 'choices' ? withoutGenerated(c.echo, prompts.length === 1 ? promptTokensOf(json) : undefined) : c.echo;
    });
    if (echoes.every((e) => !e)) return { kind: 'no-logprobs', status: res.status, message: 'no choice carries logprobs with tokens and token_logprobs', body: json };
    return { kind: 'ok', status: res.status, echoes, source, body: json };
  } catch (e) {
    if (e instanceof BadResponse) return { kind: 'no-logprobs', status: res.status, message: e.message, body: json };
    throw e;
  }
}

function serverMessage(text: string): string {
  let msg = text;
  try {
    const j = JSON.parse(text) as { error?: unknown; message?: unknown; detail?: unknown };
    const e = j.error;
    msg = String((e && typeof e === 'object' ? (e as { message?: unknown }).message : e) ?? j.message ?? j.detail ?? text);
  } catch {
    /* not JSON: the text itself */
  }
  return msg.replace(/\s+/g, ' ');
}
