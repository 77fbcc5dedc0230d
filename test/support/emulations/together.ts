// Together's /v1/completions as it answers a teacher-forcing request (facts and
// sources: test/support/emulations/servers.md, "Together"):
//
//  * with echo: true and logprobs the prompt's log-probs come back in a
//    top-level `prompt: [{text, logprobs: {tokens, token_logprobs}}]`, not in
//    the choices; there is no text_offset and no top_logprobs for the prompt;
//    choices[].logprobs covers the generated tokens only;
//  * logprobs is an integer between 0 and 20;
//  * object "text.completion".
//
// Not documented, chosen here: max_tokens 0 accepted (`maxTokensZero:
// 'reject'` answers 400); the first prompt token's log-prob null; a BOS added
// to text prompts; list prompts give one `prompt` entry each; token-id prompts
// refused; choice text is the generated text only.

import {
  BOS_LLAMA3,
  CommonOptions,
  EmulationServer,
  greedyTokens,
  isObject,
  jsonReply,
  modelLogprobs,
  optInt,
  Reply,
  serve,
  Vocabulary,
} from './core';
import { vllmTokenStrings } from './vllm';

export interface TogetherOptions extends CommonOptions {
  /** What max_tokens 0 gets (undocumented). Default 'accept'. */
  maxTokensZero?: 'accept' | 'reject';
}

const MAX_LOGPROBS = 20;

function togetherError(message: string, param: string | null): Reply {
  return jsonReply(400, { error: { message, type: 'invalid_request_error', param, code: null } });
}

export function startTogether(opts: TogetherOptions = {}): Promise<EmulationServer> {
  const vocab = new Vocabulary();
  const bos = opts.bos === undefined ? BOS_LLAMA3 : opts.bos;
  const served = opts.modelName ?? 'toy-model';
  const traits = { chat: opts.chat, negInfTokens: opts.negInfTokens ?? [] };
  let serial = 0;

  return serve((req) => {
    if (req.method === 'GET' && req.path === '/v1/models') return jsonReply(200, [{ id: served, object: 'model', type: 'language' }]);
    if (req.path !== '/v1/completions') return jsonReply(404, { error: { message: 'Not found', type: 'invalid_request_error', param: null, code: null } });
    if (req.method !== 'POST') return jsonReply(405, { error: { message: 'Method not allowed', type: 'invalid_request_error', param: null, code: null } });
    const b = req.body;
    if (!isObject(b)) return togetherError('Request body must be a JSON object', null);
    let prompts: string[];
    if (typeof b.prompt === 'string') prompts = [b.prompt];
    else if (Array.isArray(b.prompt) && b.prompt.length > 0 && b.prompt.every((x) => typeof x === 'string')) prompts = b.prompt as string[];
    else return togetherError('prompt must be a string', 'prompt');
    const maxTokens = optInt(b, 'max_tokens') ?? 16;
    const logprobs = optInt(b, 'logprobs');
    if (Number.isNaN(maxTokens)) return togetherError('max_tokens must be a non-negative integer', 'max_tokens');
    if (maxTokens === 0 && opts.maxTokensZero === 'reject') return togetherError('max_tokens must be at least 1', 'max_tokens');
    if (Number.isNaN(logprobs) || (logprobs !== undefined && logprobs > MAX_LOGPROBS)) {
      return togetherError(`logprobs must be an integer between 0 and ${MAX_LOGPROBS}`, 'logprobs');
    }
    const echo = b.echo === true;
    const modelName = typeof b.model === 'string' && b.model !== '' ? b.model : served;

    let promptTotal = 0;
    let completionTotal = 0;
    const promptParts: unknown[] = [];
    const choices = prompts.map((text, index) => {
      const seq = vocab.encodeText(text, bos);
      const values = modelLogprobs(modelName, seq, traits);
      const generated = maxTokens > 0 ? greedyTokens(modelName, vocab, seq, maxTokens) : [];
      promptTotal += seq.tokens.length;
      completionTotal += generated.length;
      if (echo) {
        promptParts.push({
          text,
          logprobs:
            logprobs !== undefined
              ? { tokens: vllmTokenStrings(seq), token_logprobs: values.map((v, i) => (i === 0 ? null : Math.max(v, -9999))) }
              : null,
        });
      }
      return {
        index,
        text: generated.map((g) => g.token.text).join(''),
        seed: null,
        finish_reason: 'length',
        logprobs: logprobs !== undefined ? { tokens: generated.map((g) => g.token.text), token_logprobs: generated.map((g) => g.logprob) } : null,
      };
    });
    return jsonReply(200, {
      id: `together-${++serial}`,
      object: 'text.completion',
      created: Math.floor(Date.now() / 1000),
      model: modelName,
      prompt: promptParts,
      choices,
      usage: { prompt_tokens: promptTotal, completion_tokens: completionTotal, total_tokens: promptTotal + completionTotal },
    });
  }, opts);
}

