// vLLM's OpenAI-compatible /v1/completions, as it answers a teacher-forcing
// request (facts and sources: test/support/emulations/servers.md, "vLLM"):
//
//  * echo with max_tokens 0 is accepted and returns the prompt's log-probs;
//    max_tokens 0 without echo is refused;
//  * logprobs {tokens, token_logprobs, top_logprobs, text_offset}: position 0
//    null; text_offset[0] = 0 and then the previous offset + Python len() of
//    the previous token string (code points, counted on the token strings, so
//    a BOS moves every later offset by its text's length);
//  * a byte piece whose text would end in U+FFFD is echoed as "" unless it
//    completes its character, which it then spells (LogprobsProcessor
//    _verify_tokens);
//  * the tokenizer's BOS is added to every text prompt (add_special_tokens,
//    default true), even one that already starts with the BOS text: double BOS;
//    token-id prompts are taken as given; list prompts give one choice each;
//  * -inf is clamped to -9999; top_logprobs is the prompt token then the top N;
//    logprobs above max_logprobs (default 20) is a 400;
//  * choices also carry prompt_logprobs, and prompt_token_ids with
//    return_token_ids.
//
// Options add the behaviours that make identical-policy weights differ from 1:
// per-answer noise, a stale prefix cache, batch variance.

import {
  BOS_LLAMA3,
  batchShift,
  capAtZero,
  codePointIndex,
  CommonOptions,
  DEFAULT_NEG_INF_TOKENS,
  EmulationServer,
  EmuToken,
  greedyTokens,
  isObject,
  jsonReply,
  modelLogprobs,
  modelsList,
  optInt,
  parsePromptField,
  pyLen,
  RecordedRequest,
  Reply,
  seededRandom,
  serve,
  StalePrefixCache,
  topAlternatives,
  TokenSequence,
  Vocabulary,
} from './core';

export const VLLM_NEG_INF_CLAMP = -9999;

export interface VllmOptions extends CommonOptions {
  /** Largest logprobs / prompt_logprobs accepted (vLLM's --max-logprobs). Default 20. */
  maxLogprobs?: number;
  /** Per-answer nondeterminism: each token log-prob gets an independent uniform shift in [-noise/2, +noise/2]. Default 0. */
  noise?: number;
  /** Seed of the noise. Default 1. */
  seed?: number;
  /** Serve shared prefixes from a stale cache (true: ±0.5 nats; a number: that magnitude). Default off. */
  stalePrefixCache?: boolean | number;
  /** A prompt inside a list of several answers values shifted by up to ±batchVariant/2. Default 0. */
  batchVariant?: number;
}

const DEFAULT_MAX_TOKENS = 16;

function vllmError(message: string, param: string | null = null, status = 400): Reply {
  return jsonReply(status, { error: { message, type: 'BadRequestError', param, code: status } });
}

/** Where the vLLM-shaped servers differ (Fireworks reuses this handler). */
export interface EchoFlavor {
  /** Name in ids and owned_by. */
  name: string;
  /** 'token-lengths': vLLM's cumulative len(token); 'prompt': code points into the prompt, BOS zero-width. */
  offsets: 'token-lengths' | 'prompt';
  /** Largest logprobs accepted by default. */
  maxLogprobs: number;
  /** Token strings the model gives -inf by default. */
  negInfTokens: ReadonlyArray<string>;
  /** Fireworks: logprobs.token_ids and choices[].raw_output on request. */
  fireworksFields: boolean;
  error: (message: string, param?: string | null) => Reply;
}

export const VLLM_FLAVOR: EchoFlavor = {
  name: 'vllm',
  offsets: 'token-lengths',
  maxLogprobs: 20,
  negInfTokens: DEFAULT_NEG_INF_TOKENS,
  fireworksFields: false,
  error: vllmError,
};

/** The string vLLM reports for each token (byte pieces corrected as _verify_tokens does). */
export function vllmTokenStrings(seq: TokenSequence): string[] {
  return seq.tokens.map((t: EmuToken, i: number) => {
    if (!t.partial) return t.text;
    const next = seq.tokens[i + 1];
    const completes = !(next && next.partial && next.start === t.start && next.end === t.end);
    return completes ? seq.modelText.slice(t.start, t.end) : '';
  });
}

export function createEchoHandler(opts: VllmOptions, flavor: EchoFlavor): (req: RecordedRequest) => Reply {
  const serverName = flavor.name;
  const fail = flavor.error;
  const vocab = new Vocabulary();
  const bos = opts.bos === undefined ? BOS_LLAMA3 : opts.bos;
  const maxLogprobs = opts.maxLogprobs ?? flavor.maxLogprobs;
  const served = opts.modelName ?? 'toy-model';
  const traits = { chat: opts.chat, negInfTokens: opts.negInfTokens ?? flavor.negInfTokens };
  const rng = seededRandom(opts.seed ?? 1);
  const noise = opts.noise ?? 0;
  const cache = opts.stalePrefixCache ? new StalePrefixCache(typeof opts.stalePrefixCache === 'number' ? opts.stalePrefixCache : 0.5) : null;
  let serial = 0;

  return (req) => {
    if (req.method === 'GET' && req.path === '/health') return { status: 200, text: '' };
    if (req.method === 'GET' && req.path === '/version') return jsonReply(200, { version: '0.11.0' });
    if (req.method === 'GET' && req.path === '/v1/models') return jsonReply(200, modelsList(served, serverName));
    if (req.path !== '/v1/completions') return jsonReply(404, { detail: 'Not Found' });
    if (req.method !== 'POST') return jsonReply(405, { detail: 'Method Not Allowed' });

    const b = req.body;
    if (!isObject(b)) return fail('The request body must be a JSON object.');
    const prompts = parsePromptField(b.prompt);
    if (!prompts) return fail('prompt must be a string, array of strings, array of tokens, or array of token arrays', 'prompt');
    const echo = b.echo === true;
    const maxTokens = optInt(b, 'max_tokens') ?? DEFAULT_MAX_TOKENS;
    const logprobs = optInt(b, 'logprobs');
    const promptLogprobsReq = optInt(b, 'prompt_logprobs');
    if (Number.isNaN(maxTokens)) return fail('max_tokens must be a non-negative integer', 'max_tokens');
    if (maxTokens === 0 && !echo) return fail('max_tokens must be at least 1, got 0.', 'max_tokens');
    if (Number.isNaN(logprobs) || Number.isNaN(promptLogprobsReq)) return fail('logprobs must be a non-negative integer', 'logprobs');
    if (logprobs !== undefined && logprobs > maxLogprobs) {
      return fail(`Requested sample logprobs of ${logprobs}, which is greater than max allowed: ${maxLogprobs}`, 'logprobs');
    }
    if (promptLogprobsReq !== undefined && promptLogprobsReq > maxLogprobs) {
      return fail(`Requested prompt logprobs of ${promptLogprobsReq}, which is greater than max allowed: ${maxLogprobs}`, 'prompt_logprobs');
    }
    const addSpecial = b.add_special_tokens !== false;
    const returnIds = b.return_token_ids === true;
    const modelName = typeof b.model === 'string' && b.model !== '' ? b.model : served;
    // vLLM asks the engine for prompt log-probs = logprobs when echoing.
    const promptK = promptLogprobsReq ?? (echo ? logprobs : undefined);

    let promptTotal = 0;
    let completionTotal = 0;
    const choices = prompts.map((p, index) => {
      const seq = p.kind === 'text' ? vocab.encodeText(p.text, addSpecial ? bos : null) : vocab.decodeIds(p.ids);
      let values = modelLogprobs(modelName, seq, traits);
      if (cache) values = cache.apply(seq, values);
      values = batchShift(values, seq, prompts.length, opts.batchVariant ?? 0);
      if (noise > 0) values = values.map((v, i) => (i === 0 ? v : capAtZero(v + (rng() - 0.5) * noise)));
      const clamp = (v: number) => Math.max(v, VLLM_NEG_INF_CLAMP);
      const strings = vllmTokenStrings(seq);
      const generated = maxTokens > 0 ? greedyTokens(modelName, vocab, seq, maxTokens) : [];
      promptTotal += seq.tokens.length;
      completionTotal += generated.length;

      const promptText = p.kind === 'text' ? p.text : seq.modelText;
      const genText = generated.map((g) => g.token.text).join('');
      const text = echo ? promptText + genText : genText;

      let lp: unknown = null;
      if (logprobs !== undefined) {
        const tokens: string[] = [];
        const tokenLogprobs: Array<number | null> = [];
        const top: Array<Record<string, number> | null> = [];
        if (echo) {
          seq.tokens.forEach((t, i) => {
            tokens.push(strings[i]);
            if (i === 0) {
              tokenLogprobs.push(null);
              top.push(null);
              return;
            }
            tokenLogprobs.push(clamp(values[i]));
            const entry: Record<string, number> = { [strings[i]]: clamp(values[i]) };
            for (const alt of topAlternatives(modelName, seq, i, logprobs)) {
              if (alt.id !== t.id && Object.keys(entry).length < logprobs + 1 && !(alt.token in entry)) entry[alt.token] = clamp(alt.logprob);
            }
            top.push(entry);
          });
        }
        for (const g of generated) {
          tokens.push(g.token.text);
          tokenLogprobs.push(clamp(g.logprob));
          top.push({ [g.token.text]: clamp(g.logprob) });
        }
        const offsets: number[] = [];
        if (flavor.offsets === 'token-lengths') tokens.forEach((s, i) => offsets.push(i === 0 ? 0 : offsets[i - 1] + pyLen(tokens[i - 1])));
        else {
          if (echo) seq.tokens.forEach((t) => offsets.push(codePointIndex(seq.modelText, t.start)));
          let at = echo ? pyLen(promptText) : 0;
          for (const g of generated) {
            offsets.push(at);
            at += pyLen(g.token.text);
          }
        }
        lp = { text_offset: offsets, token_logprobs: tokenLogprobs, tokens, top_logprobs: top };
        if (flavor.fireworksFields) {
          (lp as Record<string, unknown>).token_ids = [...(echo ? seq.tokens.map((t) => t.id) : []), ...generated.map((g) => g.token.id)];
        }
      }

      let promptLogprobs: unknown = null;
      if (promptK !== undefined) {
        promptLogprobs = seq.tokens.map((t, i) => {
          if (i === 0) return null;
          const d: Record<string, { logprob: number; rank: number; decoded_token: string }> = {};
          const alts = topAlternatives(modelName, seq, i, Math.max(promptK, 1));
          const rank = alts.findIndex((a) => a.id === t.id);
          d[String(t.id)] = { logprob: clamp(values[i]), rank: rank >= 0 && rank < promptK ? rank + 1 : promptK + 1, decoded_token: strings[i] };
          for (const a of alts.slice(0, promptK)) {
            if (!(String(a.id) in d)) d[String(a.id)] = { logprob: clamp(a.logprob), rank: alts.indexOf(a) + 1, decoded_token: a.token };
          }
          return d;
        });
      }

      if (flavor.fireworksFields) {
        const choice: Record<string, unknown> = { index, text, logprobs: lp, finish_reason: 'length' };
        if (b.raw_output === true) {
          const bosAdded = p.kind === 'text' && addSpecial && !!bos;
          choice.raw_output = {
            prompt_fragments: bosAdded ? [bos, p.text] : [promptText],
            prompt_token_ids: seq.tokens.map((t) => t.id),
            completion: genText,
            completion_token_ids: generated.map((g) => g.token.id),
          };
        }
        return choice;
      }
      return {
        index,
        text,
        logprobs: lp,
        finish_reason: 'length',
        stop_reason: null,
        prompt_logprobs: promptLogprobs,
        prompt_token_ids: returnIds ? seq.tokens.map((t) => t.id) : null,
      };
    });
    return jsonReply(200, {
      id: `cmpl-${serverName}-${++serial}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: modelName,
      choices,
      usage: { prompt_tokens: promptTotal, completion_tokens: completionTotal, total_tokens: promptTotal + completionTotal },
    });
  };
}

export function startVllm(opts: VllmOptions = {}): Promise<EmulationServer> {
  return serve(createEchoHandler(opts, VLLM_FLAVOR), opts);
}
