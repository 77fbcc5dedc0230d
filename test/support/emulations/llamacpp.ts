// llama.cpp's llama-server /v1/completions (facts and sources:
// test/support/emulations/servers.md, "llama.cpp"): the request is accepted, echo has no
// effect, and logprobs cover generated tokens only, so a teacher-forcing
// request gets no prompt log-probs at all. max_tokens 0 evaluates the prompt
// and generates nothing (text "", logprobs null). A BOS is inserted for string
// prompts; prompts may be strings, lists, or token ids.

import {
  BOS_LLAMA3,
  CommonOptions,
  EmulationServer,
  greedyTokens,
  isObject,
  jsonReply,
  optInt,
  parsePromptField,
  serve,
  Vocabulary,
} from './core';

export type LlamaCppOptions = CommonOptions;

export function startLlamaCpp(opts: LlamaCppOptions = {}): Promise<EmulationServer> {
  const vocab = new Vocabulary();
  const bos = opts.bos === undefined ? BOS_LLAMA3 : opts.bos;
  const served = opts.modelName ?? 'toy-model.gguf';
  let serial = 0;
  const error = (message: string) => jsonReply(400, { error: { code: 400, message, type: 'invalid_request_error' } });

  return serve((req) => {
    if (req.method === 'GET' && (req.path === '/health' || req.path === '/v1/health')) return jsonReply(200, { status: 'ok' });
    if (req.method === 'GET' && (req.path === '/v1/models' || req.path === '/models')) {
      return jsonReply(200, { object: 'list', data: [{ id: served, object: 'model', created: 0, owned_by: 'llamacpp', meta: null }] });
    }
    if (req.method === 'GET' && req.path === '/props') return jsonReply(200, { model_path: served, total_slots: 1, build_info: 'b0000-emulated' });
    if (req.path !== '/v1/completions' || req.method !== 'POST') return jsonReply(404, { error: { code: 404, message: 'File Not Found', type: 'not_found_error' } });
    const b = req.body;
    if (!isObject(b)) return error('Invalid JSON body');
    const prompts = parsePromptField(b.prompt);
    if (!prompts) return error('"prompt" must be a string, a list of tokens, or a list of mixed strings and tokens');
    const maxTokens = optInt(b, 'max_tokens') ?? 16;
    const logprobs = optInt(b, 'logprobs');
    if (Number.isNaN(maxTokens)) return error('max_tokens must be an integer');
    const n = Number.isNaN(logprobs) ? 0 : logprobs ?? 0;
    let promptTotal = 0;
    let completionTotal = 0;
    const choices = prompts.map((p, index) => {
      const seq = p.kind === 'text' ? vocab.encodeText(p.text, bos) : vocab.decodeIds(p.ids);
      const generated = maxTokens > 0 ? greedyTokens(served, vocab, seq, maxTokens) : [];
      promptTotal += seq.tokens.length;
      completionTotal += generated.length;
      const bytes = (s: string) => Array.from(Buffer.from(s, 'utf8'));
      return {
        text: generated.map((g) => g.token.text).join(''),
        index,
        logprobs:
          b.logprobs !== undefined && b.logprobs !== null && generated.length > 0
            ? {
                content: generated.map((g) => ({
                  id: g.token.id,
                  token: g.token.text,
                  bytes: bytes(g.token.text),
                  logprob: g.logprob,
                  top_logprobs: n > 0 ? [{ id: g.token.id, token: g.token.text, bytes: bytes(g.token.text), logprob: g.logprob }] : [],
                })),
              }
            : null,
        finish_reason: 'length',
      };
    });
    return jsonReply(200, {
      choices,
      created: Math.floor(Date.now() / 1000),
      model: served,
      system_fingerprint: 'b0000-emulated',
      object: 'text_completion',
      usage: { completion_tokens: completionTotal, prompt_tokens: promptTotal, total_tokens: promptTotal + completionTotal },
      id: `chatcmpl-emulated-${++serial}`,
    });
  }, opts);
}
