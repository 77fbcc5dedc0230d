// Hugging Face text-generation-inference (TGI) as it answers a teacher-forcing
// attempt (facts and sources: test/support/emulations/servers.md, "TGI"):
//
//  * /v1/completions maps max_tokens to max_new_tokens (default 100), never
//    reads echo, and builds every choice with logprobs null and the generated
//    text only; usage.prompt_tokens counts the prefill details (0 when they are
//    off); more prompts than max_client_batch_size (4) is a 422;
//  * max_new_tokens 0 is refused everywhere with 422
//    {"error": "Input validation error: `max_new_tokens` must be strictly
//    positive", "error_type": "validation"};
//  * native /generate with decoder_input_details returns details.prefill
//    [{id, text, logprob}] (first logprob null), the only place TGI gives prompt
//    log-probs, and since TGI 3 only when launched with
//    --enable-prefill-logprobs (option `prefillLogprobs`); otherwise prefill is
//    [] without an error;
//  * inputs are tokenized with add_special_tokens: the BOS is added.
//
// `url` ends in /v1 like the others; /generate, / and /info are at its root.

import {
  BOS_LLAMA3,
  CommonOptions,
  EmulationServer,
  greedyTokens,
  isObject,
  jsonReply,
  modelLogprobs,
  modelsList,
  Reply,
  serve,
  TokenSequence,
  Vocabulary,
} from './core';

export interface TgiOptions extends CommonOptions {
  /** TGI ≥ 3 launched with --enable-prefill-logprobs. Default false (TGI 3's default). */
  prefillLogprobs?: boolean;
  /** Reported by /info. Default '3.3.6'. */
  version?: string;
}

export const TGI_MAX_NEW_TOKENS_ERROR = 'Input validation error: `max_new_tokens` must be strictly positive';
const MAX_CLIENT_BATCH_SIZE = 4;

function validationError(message: string): Reply {
  return jsonReply(422, { error: message, error_type: 'validation' });
}

export function startTgi(opts: TgiOptions = {}): Promise<EmulationServer> {
  const vocab = new Vocabulary();
  const bos = opts.bos === undefined ? BOS_LLAMA3 : opts.bos;
  const served = opts.modelName ?? 'toy-model';
  const version = opts.version ?? '3.3.6';
  const traits = { chat: opts.chat, negInfTokens: opts.negInfTokens ?? [] };

  const prefill = (modelName: string, seq: TokenSequence) => {
    if (!opts.prefillLogprobs) return [];
    const values = modelLogprobs(modelName, seq, traits);
    return seq.tokens.map((t, i) => ({ id: t.id, text: t.text, logprob: i === 0 || !Number.isFinite(values[i]) ? null : values[i] }));
  };

  /** One generation as TGI's generate_internal does it; a Reply on validation failure. */
  const generate = (modelName: string, inputs: string, maxNew: number, details: boolean, decoderInputDetails: boolean) => {
    if (maxNew === 0) return validationError(TGI_MAX_NEW_TOKENS_ERROR);
    if (inputs === '') return validationError('Input validation error: `inputs` cannot be empty');
    const seq = vocab.encodeText(inputs, bos);
    const generated = greedyTokens(modelName, vocab, seq, maxNew);
    return {
      seq,
      generated_text: generated.map((g) => g.token.text).join(''),
      details:
        details || decoderInputDetails
          ? {
              finish_reason: 'length',
              generated_tokens: generated.length,
              seed: null,
              prefill: decoderInputDetails ? prefill(modelName, seq) : [],
              tokens: generated.map((g) => ({ id: g.token.id, text: g.token.text, logprob: g.logprob, special: false })),
            }
          : null,
    };
  };

  return serve((req) => {
    if (req.method === 'GET' && req.path === '/health') return { status: 200, text: '' };
    if (req.method === 'GET' && req.path === '/info') {
      return jsonReply(200, { model_id: served, version, max_client_batch_size: MAX_CLIENT_BATCH_SIZE, max_input_tokens: 4095, max_total_tokens: 4096, router: 'text-generation-router' });
    }
    if (req.method === 'GET' && req.path === '/v1/models') return jsonReply(200, modelsList(served, served));
    const b = req.body;

    if (req.method === 'POST' && (req.path === '/generate' || req.path === '/')) {
      if (!isObject(b) || typeof b.inputs !== 'string') {
        return { status: 422, text: 'Failed to deserialize the JSON body into the target type: missing field `inputs`' };
      }
      const p = isObject(b.parameters) ? b.parameters : {};
      const maxNew = typeof p.max_new_tokens === 'number' ? p.max_new_tokens : 20;
      const r = generate(served, b.inputs, maxNew, p.details === true, p.decoder_input_details === true);
      if ('status' in r) return r;
      const body = r.details ? { generated_text: r.generated_text, details: r.details } : { generated_text: r.generated_text };
      return jsonReply(200, req.path === '/' ? [body] : body);
    }

    if (req.method === 'POST' && req.path === '/v1/completions') {
      if (!isObject(b)) return { status: 422, text: 'Failed to deserialize the JSON body into the target type: expected a JSON object' };
      let prompts: string[];
      if (typeof b.prompt === 'string') prompts = [b.prompt];
      else if (Array.isArray(b.prompt) && b.prompt.every((x) => typeof x === 'string')) prompts = b.prompt as string[];
      else return { status: 422, text: 'Failed to deserialize the JSON body into the target type: prompt: data did not match any variant' };
      if (prompts.length > MAX_CLIENT_BATCH_SIZE) {
        return jsonReply(422, { error: `Number of prompts exceeds the maximum allowed batch size of ${MAX_CLIENT_BATCH_SIZE}`, error_type: 'batch size exceeded' });
      }
      const maxNew = typeof b.max_tokens === 'number' ? b.max_tokens : 100;
      const modelName = served;
      let promptTokens = 0;
      let completionTokens = 0;
      const choices = [];
      for (const [index, prompt] of prompts.entries()) {
        // details: true and decoder_input_details: !stream, as TGI's completions handler asks.
        const r = generate(modelName, prompt, maxNew, true, true);
        if ('status' in r) return r;
        promptTokens += r.details!.prefill.length;
        completionTokens += r.details!.generated_tokens;
        choices.push({ finish_reason: 'length', index, logprobs: null, text: r.generated_text });
      }
      return jsonReply(200, {
        object: 'text_completion',
        id: '',
        created: Math.floor(Date.now() / 1000),
        model: served,
        system_fingerprint: `${version}-native`,
        choices,
        usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
      });
    }
    return jsonReply(404, { error: 'Not Found', error_type: 'not_found' });
  }, opts);
}
