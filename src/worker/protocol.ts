// The completions echo protocol as the worker speaks it: request validation
// and the OpenAI error body. Pure: no model, no HTTP.

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ProtocolError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = 'invalid_request_error',
    readonly code: string | null = 'invalid_request',
    readonly param: string | null = null,
  ) {
    super(message);
  }
  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const bad = (message: string, param: string | null = null, code: string | null = 'invalid_request') =>
  new ProtocolError(400, message, 'invalid_request_error', code, param);

/** One prompt of a request: text to tokenize, or token ids as given. */
export type PromptInput = { text: string } | { ids: number[] };

export interface CompletionRequest {
  model: string;
  prompts: PromptInput[];
  echo: boolean;
  /** Top alternatives per token; null: no logprobs object in the answer. */
  logprobs: number | null;
}

export const MAX_LOGPROBS = 20;

const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);

/** Validates a POST /v1/completions body; throws ProtocolError with the OpenAI error body. */
export function parseCompletionRequest(body: unknown): CompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw bad('the request body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (typeof b.model !== 'string' || b.model === '') throw bad('you must provide a model parameter', 'model', 'missing_required_parameter');
  const prompts = parsePrompts(b.prompt);
  if (b.echo !== undefined && b.echo !== null && typeof b.echo !== 'boolean') throw bad('echo must be a boolean', 'echo', 'invalid_type');
  const maxTokens = b.max_tokens === undefined || b.max_tokens === null ? 16 : b.max_tokens;
  if (!isInt(maxTokens) || maxTokens < 0) throw bad('max_tokens must be a non-negative integer', 'max_tokens', 'invalid_type');
  if (maxTokens > 0) {
    throw bad(
      `max_tokens=${maxTokens} is not supported: the cje worker only scores prompts (send echo=true, max_tokens=0; max_tokens defaults to 16 when omitted)`,
      'max_tokens',
      'unsupported_parameter',
    );
  }
  let logprobs: number | null = null;
  if (b.logprobs !== undefined && b.logprobs !== null && b.logprobs !== false) {
    const lp = b.logprobs === true ? 1 : b.logprobs;
    if (!isInt(lp) || lp < 0) throw bad('logprobs must be a non-negative integer', 'logprobs', 'invalid_type');
    if (lp > MAX_LOGPROBS) throw bad(`logprobs must be at most ${MAX_LOGPROBS}, got ${lp}`, 'logprobs', 'invalid_value');
    logprobs = lp;
  }
  if (b.stream === true) throw bad('stream=true is not supported by the cje worker', 'stream', 'unsupported_parameter');
  if (b.n !== undefined && b.n !== null && b.n !== 1) throw bad('n must be 1 for echo scoring', 'n', 'unsupported_parameter');
  return { model: b.model, prompts, echo: b.echo === true, logprobs };
}

/**
 * The `prompt` field in every shape the protocol allows: a string, a list of
 * strings, a list of token ids, or a list of token-id lists; none may be empty.
 */
export function parsePrompts(p: unknown): PromptInput[] {
  let prompts: PromptInput[];
  if (p === undefined || p === null) throw bad('you must provide a prompt parameter', 'prompt', 'missing_required_parameter');
  if (typeof p === 'string') prompts = [{ text: p }];
  else if (Array.isArray(p)) {
    if (p.length === 0) throw bad('prompt is an empty list: the prompt cannot be empty', 'prompt', 'empty_prompt');
    if (p.every((x) => typeof x === 'string')) prompts = (p as string[]).map((text) => ({ text }));
    else if (p.every((x) => typeof x === 'number')) prompts = [{ ids: checkIds(p as number[], 0) }];
    else if (p.every((x) => Array.isArray(x))) prompts = (p as unknown[][]).map((ids, i) => ({ ids: checkIds(ids, i) }));
    else throw bad('prompt must be a string, a list of strings, a list of token ids or a list of token id lists', 'prompt', 'invalid_type');
  } else throw bad('prompt must be a string, a list of strings, a list of token ids or a list of token id lists', 'prompt', 'invalid_type');
  prompts.forEach((q, i) => {
    if ('text' in q ? q.text === '' : q.ids.length === 0) throw bad(`prompt ${i} is empty: the prompt cannot be empty`, 'prompt', 'empty_prompt');
  });
  return prompts;
}

function checkIds(ids: unknown[], i: number): number[] {
  for (let j = 0; j < ids.length; j++) {
    const x = ids[j];
    if (!isInt(x) || x < 0) throw bad(`prompt ${i}: token ${j} is ${JSON.stringify(x)}, not a token id (a non-negative integer)`, 'prompt', 'invalid_token_id');
  }
  return ids as number[];
}

export function contextError(tokens: number, max: number, index: number): ProtocolError {
  return bad(
    `This model's maximum context length is ${max} tokens. However, you requested ${tokens} tokens (${tokens} in prompt ${index}, 0 for the completion). Please reduce the length of the prompt.`,
    'prompt',
    'context_length_exceeded',
  );
}
