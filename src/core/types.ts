// Shared data contracts of the core. Everything here is plain data so that the
// CLI, the extension and the webview can pass it around as JSON.

export type Role = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: Role;
  content: string;
}

/** One accepted line of a log, normalised. Unknown fields stay in `raw`. */
export interface LogRecord {
  /** 1-based line number in the log file. */
  line: number;
  /**
   * The record's id (the mapped `fields.id`, else prompt_id, metadata.prompt_id, id,
   * question_id, uid, sample_id: see field-map.ts) or `line:N` when it has none;
   * `${id}#${i}` for the i-th (0-based) sampled response of a record with several.
   */
  id: string;
  /** For one of several sampled responses of a record: the record's id (all its samples share it and `line`). */
  group?: string;
  /** For one of several sampled responses: its 0-based index in the record's list. */
  sample?: number;
  /** The plain prompt (CJE shape) when the record has one. */
  prompt?: string;
  /** The conversation before the response (chat shape), without any system prompt a policy adds. */
  messages?: ChatMessage[];
  response: string;
  baseLogprob?: number | null;
  targetLogprobs?: Record<string, number | null>;
  judgeScore?: number | null;
  oracleLabel?: number | null;
  /** The parsed JSON object exactly as it was on the line. */
  raw: Record<string, unknown>;
}

/** A line that could not be used, with where and why. */
export interface LogIssue {
  file: string;
  line: number;
  /** Dotted path of the offending field, when one is to blame. */
  field?: string;
  reason: string;
}

/** A completions template, loaded from templates/<name>.json. */
export interface TemplateSpec {
  name: string;
  description: string;
  /** Model families this template is the published chat format of. */
  families: string[];
  /** Beginning-of-sequence token text the template writes at the very start ('' for none). */
  bos: string;
  /** End-of-sequence token text of the tokenizer. */
  eos: string;
  /** Whether the model's tokenizer (and so a completions server) prepends BOS by itself. */
  tokenizerAddsBos: boolean;
  /** Text written before/after each message of a role. `{content}` is not used: content goes between. */
  turns: Record<'system' | 'user' | 'assistant', { prefix: string; suffix: string }>;
  /**
   * How a system message is placed when the format has no system turn of its own. 'unsupported': the
   * template raises on one; 'drop': the template silently leaves it out (original Phi-3-mini).
   */
  systemHandling: 'own-turn' | 'merge-into-first-user' | 'merge-into-last-user' | 'unsupported' | 'drop';
  /** Separator used when merging a system prompt into a user message. */
  systemMergeSeparator?: string;
  /** Text that opens the assistant turn to be scored (usually turns.assistant.prefix). */
  generationPrefix: string;
  /** The token(s) that close the assistant response: the end-of-turn whose probability may be scored. */
  endOfTurn: string;
  /** Text written after endOfTurn when more turns follow (e.g. "\n" for chatml). */
  afterEndOfTurn?: string;
  /** Default system prompt the family's chat template inserts when the conversation has none. */
  defaultSystemPrompt?: string | null;
  /** Roles whose message content the published template trims (Jinja `| trim`); true for all roles. Never applied to the scored response. */
  trimContent?: boolean | Array<'system' | 'user' | 'assistant'>;
  /**
   * Text the template writes at the start of the system turn before the system content (e.g. Llama 3.1's
   * knowledge/date lines). Where `renderDate` is set, "{date}" in it is replaced by the date of rendering.
   */
  systemPreamble?: string;
  /**
   * The template writes the date it is rendered on: Jinja `strftime_now(format)` where the renderer defines
   * strftime_now (transformers, vLLM), else `fallback` (Llama 3.2: "%d %b %Y", "26 Jul 2024"). The renderer
   * writes the date given in its options (a calendar date YYYY-MM-DD, formatted with `format`: %d %m %Y %y %b %B %a %A %%,
   * English month names as Python's C locale), or `fallback` when none is given, at "{date}" in systemPreamble.
   */
  renderDate?: { format: string; fallback: string };
  /** A system message whose content is empty is not written at all (Phi-3.5: `if role == 'system' and content`). */
  dropEmptySystem?: boolean;
  /**
   * With a merged system prompt, the template trims the merged text (system block + separator + user content)
   * as a whole instead of the user content alone (Llama 2: `('<<SYS>>\n' + sys + '\n<</SYS>>\n\n' + user).strip()`):
   * leading whitespace of that user message survives. Applies where trimContent covers the user role.
   */
  trimAfterSystemMerge?: boolean;
  /**
   * Earlier assistant messages (history, not the scored response) that contain `marker` are written as the
   * text after its LAST occurrence (Jinja `content.split(marker)[-1]`), then with every leading character
   * that is in `stripLeading` removed (Qwen 3: `.lstrip('\n')`, so "\n" strips newlines only and keeps
   * spaces; DeepSeek R1: none). A message without the marker is written unchanged.
   */
  stripReasoningFromHistory?: { marker: string; stripLeading?: string };
  /** Model-version variants: the first whose `match` regex matches the model name applies. */
  variants?: TemplateVariant[];
  /** Where the format was taken from (model repo / file of the published chat_template). */
  source?: string;
  /** Free-form notes about traps of this family, shown in hovers and docs. */
  notes?: string[];
}

export interface TemplateVariant {
  name: string;
  /** Case-insensitive regular expression tested against the policy's model name. */
  match: string;
  /** Fields of TemplateSpec this variant replaces. */
  overrides: Partial<Omit<TemplateSpec, 'name' | 'variants'>>;
}

/** The flat text a model sees and where the scored response lies in it (UTF-16 indices). */
export interface RenderedPrompt {
  text: string;
  /** Start of the response text. */
  responseStart: number;
  /** End of the response text (exclusive). */
  responseEnd: number;
  /** End of the scored span: responseEnd plus the end-of-turn token when it is scored. */
  scoredEnd: number;
  /** The template and variant that produced it. */
  template: string;
  variant?: string;
}

export type ProviderName = 'fireworks' | 'openai-compatible' | 'local' | 'tgi';

export interface PolicyConfig {
  provider: ProviderName;
  model: string;
  template: string;
  templateVariant?: string;
  systemPrompt?: string;
  /**
   * The completions API, ending in /v1; or several replicas of one model (vLLM
   * data-parallel servers, worker processes), each request going to the least busy.
   * The first entry stands for the list in the fingerprint (see primaryBaseURL).
   */
  baseURL?: string | string[];
  /** Name of the environment variable that holds the API key (never the key itself). */
  apiKeyEnv?: string;
  concurrency?: number;
  batchSize?: number;
  /** Whether the end-of-turn token after the response is part of the scored span (default true). */
  scoreEndOfTurn?: boolean;
  /**
   * 'joined' (default): the flat text is sent and the server tokenizes it whole,
   * as the model saw it when it generated. 'separate': prompt and response are
   * tokenized apart with the model's own tokenizer and sent as token ids, as SFT
   * code does. Part of the fingerprint.
   */
  tokenization?: 'joined' | 'separate';
  /** For 'separate': a folder with tokenizer.json (relative to the config) or an installed tokenizer package; a local policy's model folder by default. */
  tokenizer?: string;
  /**
   * The calendar date (YYYY-MM-DD) the behavior prompts were rendered on, for templates that write the date
   * of rendering (Llama 3.2: "Today Date: 04 Mar 2026"). Wins over a record's own date (see render-date.ts);
   * without either, the template's fallback date is written. No effect on templates that write no such date.
   */
  date?: string;
  maxRetries?: number;
  timeoutMs?: number;
  /** Alternatives asked per token (default 1). Above 1 the scores keep them, for the token view. Not part of the fingerprint. */
  topLogprobs?: number;
}

export interface CjeConfig {
  behavior: string;
  /** Where the log's records keep each field cje reads: our name → dotted path in the user's records (field-map.ts). */
  fields?: import('./field-map').FieldMap;
  policies: Record<string, PolicyConfig>;
  /** Tolerance (nats) for logged-vs-rescored checks. */
  logprobTolerance?: number;
  /**
   * Custom completions templates defined in the config, by name; a policy's
   * `template` may name one of them. Each either extends a shipped template
   * (fields given replace the shipped ones; `turns` merge per role) or gives
   * every required TemplateSpec field itself.
   */
  templates?: Record<string, CustomTemplateSpec>;
  /** Which score lines keep their per-token detail (default "flagged"; see src/core/score-line-form.ts). */
  tokens?: 'all' | 'flagged' | 'none';
}

/** A template written in the config: a shipped template's fields overridden, or a whole TemplateSpec. */
export interface CustomTemplateSpec extends Partial<Omit<TemplateSpec, 'name' | 'variants' | 'source' | 'turns'>> {
  /** Name of the shipped template this one starts from. */
  extends?: string;
  turns?: Partial<Record<'system' | 'user' | 'assistant', Partial<{ prefix: string; suffix: string }>>>;
}

/** How the response span was located among the echoed tokens. */
export type SpanMethod =
  | 'text_offset' // server offsets, verified against the token strings
  | 'token_text' // offsets unusable; walked the token strings over the text
  | 'prefix_count' // no usable offsets or strings: counted the prompt's tokens (approximate)
  | 'token_ids'; // prompt and response sent as separate token ids: the span is known by construction

export interface SpanInfo {
  method: SpanMethod;
  /** The unit the server's text_offset turned out to be in. */
  offsetUnit?: 'utf16' | 'codepoint' | 'utf8';
  /** A constant shift applied to the offsets (e.g. a BOS decoded as text). */
  offsetShift?: number;
  approximate: boolean;
  /** Index of the first and one past the last scored token in the echo. */
  firstToken: number;
  endToken: number;
  endOfTurnScored: boolean;
  /** Tokens that straddle the prompt/response boundary, reported never hidden. */
  straddle?: { index: number; token: string; side: 'start' | 'end'; included: boolean }[];
  /**
   * How the scored tokens were made: the server tokenized the joined text
   * (echo of a text prompt), or prompt and response were tokenized apart and
   * their ids concatenated (the SFT convention; the span is known by construction).
   */
  tokenization: 'joined' | 'separate';
  notes?: string[];
}

/** One line of the scores sidecar JSONL. */
export interface ScoreLine {
  /** sha256 of flattened prompt + response + policy fingerprint. */
  key: string;
  record: string;
  line: number;
  policy: string;
  fingerprint: string;
  logprob: number | null;
  tokens: string[];
  token_logprobs: number[];
  /** How many tokens the span has (set by unpackScoreLine for every stored form, also where the tokens are not kept). */
  n_tokens?: number;
  entropy?: (number | null)[];
  /** Mean per-token entropy, where the server gave entropies (kept in a packed line when the entropies are not). */
  mean_entropy?: number | null;
  /** This record repeats the prompt and response of the record on that log line: same numbers, its own line. */
  duplicate_of?: number;
  /** Top alternatives per token of the span (token → log-prob), kept when the policy asks for topLogprobs > 1. */
  top_logprobs?: (Record<string, number> | null)[];
  span: SpanInfo | null;
  error: string | null;
  /** Why a kept number is doubtful (an approximate prefix count, a near-zero single token, …); absent when every check passed. */
  suspect?: string[];
  /** Version of the answer checks the line passed (absent: written before the checks existed). */
  checks?: number;
  /**
   * Hash of the policy's fingerprint without its tokenization: two policies
   * with the same seam_group and different span.tokenization score the same
   * text joined and apart, and their difference is the seam effect.
   */
  seam_group?: string;
  /** Set when this line reuses the result of an identical-fingerprint policy. */
  reused_from?: string;
  model: string;
  template: string;
  provider: ProviderName;
  scored_at: string;
}
