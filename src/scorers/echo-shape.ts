import type { EchoedTokens } from '../core/span';

/** The echoed prompt of one choice, in the OpenAI legacy shape whatever the server wrote. */
export type Echo = EchoedTokens & { token_ids?: number[] };

/** A 200 answer that cannot be read as an echo: the SDK does not retry these, the scorer does. */
export class BadResponse extends Error {}

const NO_LOGPROBS = 'the server answered without prompt log-probs: does it support echo with logprobs for this model?';

/** Fireworks' raw_output carries the prompt's token ids. */
function rawPromptIds(c: unknown): number[] | undefined {
  const raw = (c as { raw_output?: { prompt_token_ids?: unknown } } | null)?.raw_output;
  return Array.isArray(raw?.prompt_token_ids) ? (raw!.prompt_token_ids as number[]) : undefined;
}

function asEcho(lp: Record<string, unknown> | undefined | null, c: unknown): Echo | undefined {
  if (!lp || !Array.isArray(lp.tokens) || !Array.isArray(lp.token_logprobs)) return undefined;
  return {
    tokens: lp.tokens as string[],
    token_logprobs: lp.token_logprobs as (number | null)[],
    token_ids: (lp.token_ids ?? rawPromptIds(c)) as number[] | undefined,
    text_offset: lp.text_offset as number[] | undefined,
    entropy: lp.entropy as (number | null)[] | undefined,
    top_logprobs: lp.top_logprobs as EchoedTokens['top_logprobs'],
  };
}

/**
 * Where a server puts the prompt's log-probs. vLLM, Fireworks and our worker
 * put them in `choices[i].logprobs` (prompt tokens first, then any generated
 * ones). Together puts them in a top-level `prompt: [{ text, logprobs }]`,
 * one entry per prompt, without an index: the choices then hold only what was
 * generated.
 */
export type EchoSource = 'choices' | 'prompt-field';

export interface ParsedChoice {
  index: unknown;
  echo?: Echo;
}

/** Reads every choice's echo from a completions answer; throws BadResponse when there is nothing to read. */
export function readChoices(res: unknown, n: number): { source: EchoSource; choices: ParsedChoice[] } {
  const body = res as { choices?: unknown; prompt?: unknown } | null;
  const prompts = body?.prompt;
  if (Array.isArray(prompts) && prompts.length && prompts.every((p) => p && typeof p === 'object' && 'logprobs' in p)) {
    // Positions only: a list answer in this shape is matched by order, which the caller must not trust for n > 1.
    return { source: 'prompt-field', choices: prompts.map((p) => ({ index: n === 1 ? 0 : undefined, echo: asEcho((p as { logprobs?: Record<string, unknown> }).logprobs, p) })) };
  }
  const choices = body?.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    throw new BadResponse(`the server answered ${Array.isArray(choices) ? 'no' : 'without'} choices for ${n} prompt(s)`);
  }
  return {
    source: 'choices',
    choices: choices.map((c) => ({
      index: (c as { index?: unknown } | null)?.index,
      echo: asEcho((c as { logprobs?: Record<string, unknown> } | null)?.logprobs, c),
    })),
  };
}

export { NO_LOGPROBS };

/**
 * Drops what a server generated after the prompt when it would not take
 * max_tokens 0 (TGI-like servers need at least 1). With max_tokens 1 one token
 * is always generated, and it may be a special token (EOS, end of turn) that
 * the choice's text leaves out while its logprobs keep it; so the echo keeps
 * exactly `promptTokens` tokens where the server says how many the prompt had
 * (usage.prompt_tokens of a one-prompt answer), and loses its last one otherwise.
 */
export function withoutGenerated(echo: Echo, promptTokens?: number): Echo {
  const cut = typeof promptTokens === 'number' && Number.isInteger(promptTokens) && promptTokens > 0 && promptTokens <= echo.tokens.length ? promptTokens : echo.tokens.length - 1;
  if (cut <= 0 || cut >= echo.tokens.length) return echo;
  const slice = <T>(a: T[] | null | undefined) => (Array.isArray(a) ? a.slice(0, cut) : a ?? undefined);
  return {
    ...echo,
    tokens: echo.tokens.slice(0, cut),
    token_logprobs: echo.token_logprobs.slice(0, cut),
    text_offset: slice(echo.text_offset),
    entropy: slice(echo.entropy),
    top_logprobs: slice(echo.top_logprobs),
    token_ids: slice(echo.token_ids),
  };
}

/** usage.prompt_tokens of an answer, when it is a count. */
export function promptTokensOf(res: unknown): number | undefined {
  const n = (res as { usage?: { prompt_tokens?: unknown } } | null)?.usage?.prompt_tokens;
  return typeof n === 'number' ? n : undefined;
}
