// Fireworks' /inference/v1/completions as it answers a teacher-forcing request
// (facts and sources: test/support/emulations/servers.md, "Fireworks"):
//
//  * echo with max_tokens 0 returns the prompt's log-probs in the OpenAI shape
//    plus logprobs.token_ids;
//  * "most models automatically prepend the BOS token": a BOS is added to every
//    text prompt, also one that already starts with the BOS text;
//  * with raw_output: true each choice carries raw_output {prompt_fragments,
//    prompt_token_ids, completion, completion_token_ids}, the documented way to
//    see the BOS;
//  * prompts: string, list of strings, ids, list of id lists.
//
// Not documented, chosen here: text_offset in code points into the prompt as
// sent with the BOS zero-width at 0 (`bosInOffsets: 'as-text'` gives vLLM's
// cumulative token lengths instead); top_logprobs limit 5; token strings as
// vLLM writes them.

import { CommonOptions, EmulationServer, jsonReply, Reply, serve } from './core';
import { createEchoHandler, EchoFlavor } from './vllm';

export interface FireworksOptions extends CommonOptions {
  /** Largest logprobs accepted. Default 5 (chosen). */
  maxLogprobs?: number;
  /** How the added BOS shows in text_offset. Default 'zero-width' (chosen). */
  bosInOffsets?: 'zero-width' | 'as-text';
}

function fireworksError(message: string): Reply {
  return jsonReply(400, { error: { object: 'error', type: 'invalid_request_error', message } });
}

export function startFireworks(opts: FireworksOptions = {}): Promise<EmulationServer> {
  const flavor: EchoFlavor = {
    name: 'fireworks',
    offsets: opts.bosInOffsets === 'as-text' ? 'token-lengths' : 'prompt',
    maxLogprobs: 5,
    negInfTokens: [],
    fireworksFields: true,
    error: fireworksError,
  };
  return serve(createEchoHandler(opts, flavor), opts);
}
