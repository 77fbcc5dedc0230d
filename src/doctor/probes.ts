import { emptyVerdicts, SANITY_FLOOR, type EndpointProfile, type OffsetUnit, type ProbeVerdicts } from '../core/endpoint-profile';
import { renderPrompt } from '../core/templates';
import type { PolicyConfig, TemplateSpec } from '../core/types';
import type { Echo } from '../scorers/echo-shape';
import { CompletionsScorer } from '../scorers/completions';
import { TgiScorer, tgiGenerate, NO_PREFILL } from '../scorers/tgi';
import { echoRequest, type EchoOutcome, type ProbeEndpoint } from './probe-client';

/** The doctor's requests to TGI's /generate: one text input each, read as an echo. */
async function tgiAsk(t: ProbeEndpoint, prompt: Parameters<typeof echoRequest>[1], signal?: AbortSignal): Promise<EchoOutcome> {
  if (typeof prompt !== 'string') return { kind: 'http', status: 422, message: "TGI's /generate takes one text input per request, not lists or token ids" };
  const r = await tgiGenerate({ baseURL: t.baseURL, apiKey: t.apiKey, timeoutMs: t.timeoutMs }, prompt, signal);
  if (r.ok) return { kind: 'ok', status: 200, echoes: [r.echo], source: 'choices', body: undefined };
  if (r.error === NO_PREFILL) return { kind: 'no-logprobs', status: r.status, message: NO_PREFILL, body: undefined };
  return r.status === 0 ? { kind: 'network', message: r.error } : { kind: 'http', status: r.status, message: r.error };
}

export interface ProbePolicy {
  name: string;
  policy: PolicyConfig;
  spec: TemplateSpec & { variant?: string };
}

export interface ProbeTarget extends ProbeEndpoint {
  provider: string;
  policies: ProbePolicy[];
}

export interface ProbeOptions {
  /** The cheap set before scoring (echo, lists, BOS, 3 repeats, template sanity) or the doctor's full set. */
  full: boolean;
  signal?: AbortSignal;
}

// Three astral characters and two accented ones make the three offset units differ by more than one.
const SHAPE_TEXT = 'Teacher forcing check: \u{1F389}\u{1F389}\u{1F389} na\u00efve caf\u00e9, then done.';
const PARAGRAPH =
  'Off-policy evaluation asks how a new policy would have done on prompts that an older policy answered. ' +
  'Each logged response is scored under both policies, and the ratio of their probabilities weights the judge score. ' +
  'When the two policies are the same model with the same template, every weight must be one. ';
const LONG_TEXT = PARAGRAPH.repeat(4).trim();
const SUFFIX_A = ' The first branch ends the text here, quietly.';
const SUFFIX_B = ' A second branch goes elsewhere and keeps talking about caches.';
const TOL = 1e-6;
const SANITY_QUESTION = 'What is 2+2? Answer with the number only.';

/** Log-probs as a number array, null (the first token) left out of sums. */
const total = (e: Echo) => e.token_logprobs.reduce<number>((s, v) => s + (typeof v === 'number' ? v : 0), 0);

function maxTokenDelta(a: Echo, b: Echo, upTo = Math.min(a.tokens.length, b.tokens.length)): number | null {
  if (a.tokens.length < upTo || b.tokens.length < upTo) return null;
  let m = 0;
  for (let i = 0; i < upTo; i++) {
    if (a.tokens[i] !== b.tokens[i]) return null;
    const x = a.token_logprobs[i];
    const y = b.token_logprobs[i];
    if (typeof x === 'number' && typeof y === 'number') m = Math.max(m, Math.abs(x - y));
  }
  return m;
}

/** The token strings as text, with SentencePiece's ▁ and GPT-2's Ġ/Ċ read as the space and newline they stand for. */
const spell = (t: string) => t.replace(/\u2581/g, ' ').replace(/\u0120/g, ' ').replace(/\u010A/g, '\n');
const looksSpecial = (t: string) => /^<[^<>\s]+>$/.test(t) || /^<\uFF5C.*\uFF5C>$/.test(t);

/** Does the echo spell the text it was sent (tokens the server put in front aside)? Generated-only log-probs do not. */
function spellsPrompt(e: Echo, text: string): boolean {
  const joined = e.tokens.map(spell).join('');
  return joined.includes(text.slice(0, 22)) && joined.includes(text.slice(-10));
}

/**
 * Which unit the server's text_offset counts in. The text ends in ASCII, so the
 * last token's offset plus its own length is the text's length in that unit;
 * the units differ there by at least three (three astral characters).
 */
function offsetUnitOf(e: Echo, text: string, lead: number): { unit: OffsetUnit | null; why?: string } {
  const off = e.text_offset;
  if (!Array.isArray(off) || off.length !== e.tokens.length) return { unit: 'absent' };
  const last = e.tokens.length - 1;
  const tail = spell(e.tokens[last]);
  const lengths: Record<Exclude<OffsetUnit, 'absent'>, number> = { utf16: text.length, codepoint: [...text].length, byte: Buffer.byteLength(text, 'utf8') };
  // vLLM counts an added BOS's text in the offsets (it sums token strings), others give it no width.
  const added = e.tokens.slice(0, lead);
  const shift: Record<Exclude<OffsetUnit, 'absent'>, number> = {
    utf16: added.join('').length,
    codepoint: [...added.join('')].length,
    byte: Buffer.byteLength(added.join(''), 'utf8'),
  };
  if (/^[\x20-\x7e]+$/.test(tail)) {
    for (const u of ['utf16', 'codepoint', 'byte'] as const) if (off[last] + tail.length === lengths[u] || off[last] + tail.length === lengths[u] + shift[u]) return { unit: u };
  }
  return { unit: null, why: `the last token ${JSON.stringify(e.tokens[last])} at offset ${off[last]} fits no unit (text length: UTF-16 ${lengths.utf16}, code points ${lengths.codepoint}, bytes ${lengths.byte})` };
}

function leadingSpecials(e: Echo, bos: string[]): number {
  let n = 0;
  while (n < e.tokens.length && (bos.includes(e.tokens[n]) || looksSpecial(e.tokens[n]))) n++;
  return n;
}

/** Probes one endpoint and says what it does, what stops scoring (blockers) and what makes numbers doubtful (warnings). */
export async function probeEndpoint(t: ProbeTarget, opts: ProbeOptions): Promise<EndpointProfile> {
  const v: ProbeVerdicts = emptyVerdicts();
  const reasons: EndpointProfile['reasons'] = {};
  const blockers: string[] = [];
  const warnings: string[] = [];
  const profile: EndpointProfile = {
    kind: 'endpoint_profile',
    version: 1,
    provider: t.provider,
    baseURL: t.baseURL,
    model: t.model,
    policies: t.policies.map((p) => p.name),
    measured_at: new Date().toISOString(),
    probes: v,
    reasons,
    blockers,
    warnings,
  };
  const seen: number[] = [];
  let maxTokens = 0;
  const tgi = t.provider === 'tgi';
  const send = (prompt: Parameters<typeof echoRequest>[1], logprobs: number): Promise<EchoOutcome> => (tgi ? tgiAsk(t, prompt, opts.signal) : echoRequest(t, prompt, { maxTokens, logprobs, signal: opts.signal }));
  const ask = async (prompt: Parameters<typeof echoRequest>[1], logprobs = 1) => {
    const r = await send(prompt, logprobs);
    if (r.kind === 'ok') for (const e of r.echoes) if (e) for (const x of e.token_logprobs) if (typeof x === 'number') seen.push(x);
    return r;
  };
  const first = (r: EchoOutcome) => (r.kind === 'ok' ? r.echoes[0] : undefined);

  // 1. Echo, and the smallest max_tokens that goes with it.
  let r0 = await ask(SHAPE_TEXT);
  if (r0.kind === 'network') {
    blockers.push(`cannot reach ${t.baseURL}: ${r0.message}`);
    return profile;
  }
  if (r0.kind === 'http' && (r0.status === 400 || r0.status === 422)) {
    const refused = r0.message;
    maxTokens = 1;
    r0 = await ask(SHAPE_TEXT);
    if (r0.kind === 'http' || r0.kind === 'network') {
      blockers.push(`the server refuses echo requests: with max_tokens 0 ${refused}; with max_tokens 1 ${r0.message}`);
      return profile;
    }
    v.maxTokens = 1;
    reasons.maxTokens = `max_tokens 0 refused (${refused}); max_tokens 1 accepted: scoring sends 1 and cuts the generated token`;
    warnings.push(`max_tokens 0 is refused (${refused}): scoring sends max_tokens 1 and ignores the generated token`);
  } else if (r0.kind === 'http') {
    blockers.push(`the echo request failed: ${r0.message}`);
    return profile;
  } else v.maxTokens = tgi ? 1 : 0;
  if (tgi) reasons.maxTokens = "TGI's /generate always generates (max_new_tokens ≥ 1): one token is generated and ignored";

  if (r0.kind === 'no-logprobs') {
    v.promptLogprobs = false;
    const choiceText = ((r0.body as { choices?: { text?: unknown }[] } | undefined)?.choices?.[0]?.text ?? '') as unknown;
    v.echo = typeof choiceText === 'string' ? choiceText.startsWith(SHAPE_TEXT) : null;
    reasons.promptLogprobs = r0.message;
    blockers.push(
      "the server answers without the prompt's log-probs, so it cannot teacher-force (llama.cpp's server does this; TGI ≥ 3 needs --enable-prefill-logprobs; a chat-only API cannot)",
    );
    return profile;
  }
  const e0 = first(r0)!;
  if (!spellsPrompt(e0, SHAPE_TEXT)) {
    v.echo = false;
    v.promptLogprobs = false;
    reasons.echo = `the tokens returned spell ${JSON.stringify(e0.tokens.map(spell).join('').slice(0, 80))}, not the prompt: only generated tokens came back`;
    blockers.push("the server's log-probs are for generated tokens only (echo ignored), so it cannot teacher-force");
    return profile;
  }
  v.echo = true;
  v.promptLogprobs = true;
  v.firstTokenNull = e0.token_logprobs[0] === null;
  const bosTexts = [...new Set(t.policies.map((p) => p.spec.bos).filter((b) => b))];
  const lead = leadingSpecials(e0, bosTexts);
  const ou = offsetUnitOf(e0, SHAPE_TEXT, lead);
  v.offsetUnit = ou.unit;
  if (ou.why) reasons.offsetUnit = ou.why;

  v.addsBos = lead > 0;
  reasons.addsBos = lead > 0 ? `a text without BOS came back starting with ${JSON.stringify(e0.tokens[0])}` : `a text without BOS came back starting with ${JSON.stringify(e0.tokens[0])}, the text's own`;
  const ids = e0.token_ids;
  if (Array.isArray(ids) && ids.length) reasons.addsBos += `; prompt token ids begin ${ids.slice(0, 3).join(', ')}`;

  // 2. Lists of prompts.
  const rl = await ask([SHAPE_TEXT, 'A second, shorter prompt.']);
  if (rl.kind === 'ok') {
    v.listPrompts = rl.echoes.every((e) => e);
    if (!v.listPrompts) reasons.listPrompts = 'a list came back with choices missing';
    else if (rl.source === 'prompt-field') reasons.listPrompts = 'accepted, but answered in the top-level prompt field without indices: scoring sends one prompt per request';
  } else if (rl.kind === 'http' && rl.status >= 400 && rl.status < 500 && rl.status !== 408 && rl.status !== 429) {
    v.listPrompts = false;
    reasons.listPrompts = rl.message;
  } else reasons.listPrompts = rl.message;

  // 3. BOS written by the template on top of the server's own.
  v.doubleBos = false;
  for (const bos of bosTexts) {
    const rb = await ask(bos + SHAPE_TEXT);
    const eb = first(rb);
    if (!eb) continue;
    const n = leadingSpecials(eb, bosTexts);
    const names = t.policies.filter((p) => p.spec.bos === bos).map((p) => p.name);
    if (n >= 2) {
      v.doubleBos = true;
      reasons.doubleBos = `${JSON.stringify(bos)} + text came back with ${n} BOS tokens (${eb.tokens.slice(0, n).join(' ')})`;
      warnings.push(`policy ${names.join(', ')}: the template writes ${bos} and the server adds another, so the model sees two BOS tokens; use a template variant without BOS text, or a server that does not add one`);
    }
  }
  const templates = [...new Set(t.policies.map((p) => p.spec.name))];
  for (const name of templates) {
    const spec = t.policies.find((p) => p.spec.name === name)!.spec;
    const names = t.policies.filter((p) => p.spec.name === name).map((p) => p.name).join(', ');
    reasons.addsBos += `; template ${name} ${spec.tokenizerAddsBos ? 'says' : 'does not say'} its tokenizer adds one (${spec.tokenizerAddsBos === v.addsBos ? 'agrees' : 'disagrees'})`;
    // A template that leaves BOS to the tokenizer, on a server that does not add it: the model sees none.
    if (!spec.bos && spec.tokenizerAddsBos && v.addsBos === false) warnings.push(`policy ${names}: template ${name} leaves BOS to the tokenizer, and this server adds none: the model sees no BOS token`);
  }

  // 4. Determinism: the same prompt several times, and once more after other requests.
  const repeats: Echo[] = [];
  for (let i = 0; i < 3; i++) {
    const e = first(await ask(LONG_TEXT));
    if (e) repeats.push(e);
  }

  if (opts.full) {
    const ri = await ask([100, 200, 300]);
    if (ri.kind === 'ok') v.tokenIdPrompts = true;
    else if (ri.kind === 'http') {
      v.tokenIdPrompts = false;
      reasons.tokenIdPrompts = ri.message;
    } else reasons.tokenIdPrompts = ri.message;

    for (const k of [20, 5]) {
      const rk = await ask(SHAPE_TEXT, k);
      if (rk.kind === 'ok') {
        v.topLogprobsLimit = k;
        break;
      }
      reasons.topLogprobsLimit = `logprobs ${k}: ${rk.message}`;
    }
    v.topLogprobsLimit ??= 1;
    if (tgi) {
      v.topLogprobsLimit = null;
      reasons.topLogprobsLimit = 'not used: prefill details carry one log-prob per token';
    }
  }

  /** Largest differences between answers `from` on; the first answer may be the only one computed cold. */
  const noiseToken = (from = 0) => {
    let m = 0;
    let resp = 0;
    for (let i = from + 1; i < repeats.length; i++) {
      const d = maxTokenDelta(repeats[from], repeats[i]);
      if (d === null) return null;
      m = Math.max(m, d);
      resp = Math.max(resp, Math.abs(total(repeats[from]) - total(repeats[i])));
    }
    return { token: m, response: resp };
  };
  // A prefix cache that serves other numbers than a fresh computation: the first answer differs, the cached ones agree.
  const coldOnly = () => {
    const warm = noiseToken(1);
    const all = noiseToken(0);
    return repeats.length >= 3 && warm && all && warm.token <= TOL && all.token > TOL ? all : undefined;
  };
  const floorNow = coldOnly() ? noiseToken(1) : noiseToken();
  // What a nondeterministic server can differ by on its own, so that batch and cache effects are told apart from it.
  const slack = () => Math.max(TOL, floorNow ? floorNow.token * 1.5 : 0);

  if (opts.full && repeats.length) {
    // 5. Batch invariance: the long prompt alone vs among prompts of other lengths.
    if (v.listPrompts) {
      const rb = await ask(['Short one.', LONG_TEXT, LONG_TEXT + ' ' + PARAGRAPH]);
      const eb = rb.kind === 'ok' ? rb.echoes[1] : undefined;
      const d = eb ? maxTokenDelta(repeats[0], eb) : null;
      if (d === null) reasons.batchInvariant = eb ? 'the prompt was tokenized differently inside a batch' : `the batch failed: ${rb.kind === 'ok' ? 'no choice for the prompt' : rb.message}`;
      else {
        v.batchInvariant = d <= slack();
        reasons.batchInvariant = `max |Δ| per token alone vs in a batch ${d.toPrecision(3)} nats`;
        if (!v.batchInvariant) warnings.push(`log-probs change when a prompt is sent in a batch (max |Δ| ${d.toPrecision(3)} nats per token): weights compare numbers computed under different batches`);
      }
    } else reasons.batchInvariant = 'lists are not accepted';

    // 6. Prefix cache: A, then B sharing A's prefix, then A again.
    const a1 = first(await ask(LONG_TEXT + SUFFIX_A));
    const b = first(await ask(LONG_TEXT + SUFFIX_B));
    const a2 = first(await ask(LONG_TEXT + SUFFIX_A));
    if (a1 && b && a2) {
      let shared = 0;
      while (shared < a1.tokens.length && shared < b.tokens.length && a1.tokens[shared] === b.tokens[shared]) shared++;
      // The last shared token may end a word that continues differently: compare the ones before it.
      const dPrefix = maxTokenDelta(a1, b, Math.max(0, shared - 1));
      const dAgain = maxTokenDelta(a1, a2);
      let coldShared = 0;
      while (coldShared < a1.tokens.length && coldShared < repeats[0].tokens.length && a1.tokens[coldShared] === repeats[0].tokens[coldShared]) coldShared++;
      // A's prefix is the long prompt scored before: the same tokens must get the same numbers.
      const dCold = maxTokenDelta(repeats[0], a1, Math.max(0, coldShared - 1));
      if (dPrefix === null || dAgain === null || dCold === null) reasons.prefixCacheConsistent = 'the same text came back tokenized differently';
      else if (v.prefixCacheConsistent !== false) {
        const d = Math.max(dPrefix, dAgain, dCold);
        v.prefixCacheConsistent = d <= slack();
        reasons.prefixCacheConsistent = `shared-prefix tokens of A vs B: max |Δ| ${dPrefix.toPrecision(3)}; A before vs after B: ${dAgain.toPrecision(3)}; A's prefix vs that prefix alone: ${dCold.toPrecision(3)} nats`;
        if (!v.prefixCacheConsistent) warnings.push(`prompt log-probs change with what was sent before (prefix cache: max |Δ| ${d.toPrecision(3)} nats per token): disable prefix caching on this server while scoring`);
      }
    } else reasons.prefixCacheConsistent = 'a prefix-cache request failed';

    const e = first(await ask(LONG_TEXT));
    if (e) repeats.push(e);
  }

  const stale = coldOnly();
  if (stale && v.prefixCacheConsistent !== false) {
    v.prefixCacheConsistent = false;
    reasons.prefixCacheConsistent = `the first answer to a prompt differs from every later one (max |Δ| ${stale.token.toPrecision(3)} per token), which agree with each other: a prefix cache serves other numbers than a fresh computation`;
    warnings.push(`prompt log-probs served from the prefix cache differ from freshly computed ones (max |Δ| ${stale.response.toPrecision(3)} nats per response): disable prefix caching on this server while scoring`);
  }
  const floor = stale ? noiseToken(1) : noiseToken();
  if (repeats.length < 2) reasons.deterministic = 'the repeated requests failed';
  else if (!floor) reasons.deterministic = 'the same prompt came back tokenized differently';
  else {
    v.noiseFloorToken = floor.token;
    v.noiseFloor = floor.response;
    v.deterministic = floor.token <= TOL;
    reasons.deterministic = `${repeats.length} answers to one ${repeats[0].tokens.length}-token prompt: max |Δ| ${floor.token.toPrecision(3)} per token, ${floor.response.toPrecision(3)} per response`;
    if (!v.deterministic) {
      warnings.push(
        `the server is not deterministic: the same prompt's log-prob moved by up to ${floor.response.toPrecision(3)} nats (${floor.token.toPrecision(3)} per token); identical policies scored on it will differ by about that much`,
      );
    }
  }

  // 7. Template sanity: an instruct model under its own template answers "4" with near certainty.
  const sanity: Record<string, number | null> = {};
  const scorer = tgi
    ? new TgiScorer({ baseURL: t.baseURL, apiKey: t.apiKey, maxRetries: 1, timeoutMs: t.timeoutMs })
    : new CompletionsScorer({ baseURL: t.baseURL, model: t.model, apiKey: t.apiKey, batchSize: 1, maxRetries: 1, timeoutMs: t.timeoutMs, maxTokens: maxTokens as 0 | 1 });
  let sane = true;
  let checked = 0;
  const asked = new Map<string, number | null>();
  for (const p of t.policies) {
    if (p.spec.name === 'raw') continue;
    const messages = [...(p.policy.systemPrompt !== undefined ? [{ role: 'system' as const, content: p.policy.systemPrompt }] : []), { role: 'user' as const, content: SANITY_QUESTION }];
    const rendered = renderPrompt(p.spec, messages, '4', { scoreEndOfTurn: false });
    let lp = asked.get(rendered.text);
    if (lp === undefined) {
      const [res] = await scorer.scoreBatch([{ rendered }], opts.signal);
      lp = res.ok ? res.value.logprob : null;
      if (!res.ok) reasons.templateSanity = `policy ${p.name}: ${res.error}`;
      asked.set(rendered.text, lp);
    }
    sanity[p.name] = lp;
    if (lp === null) continue;
    checked++;
    if (lp < SANITY_FLOOR) sane = false;
  }
  const low = t.policies.filter((p) => (sanity[p.name] ?? 0) < SANITY_FLOOR);
  for (const tpl of [...new Set(low.map((p) => p.spec.name + (p.spec.variant ? ':' + p.spec.variant : '')))]) {
    const ps = low.filter((p) => p.spec.name + (p.spec.variant ? ':' + p.spec.variant : '') === tpl);
    const worst = Math.min(...ps.map((p) => sanity[p.name]!));
    warnings.push(
      `policy ${ps.map((p) => p.name).join(', ')} (template ${tpl}): "4" after "What is 2+2?" has log-prob ${worst.toFixed(2)}, far below the ${SANITY_FLOOR} an instruct model gives under its own template: the template may not be this model's, or the model is a base model`,
    );
  }
  if (checked) v.templateSanity = sane;
  else reasons.templateSanity ??= 'no chat-template policy on this endpoint';
  profile.sanity = sanity;

  v.clampSentinel = seen.some((x) => x === -9999);
  if (v.clampSentinel) warnings.push('the server wrote -9999 (vLLM stands it in for -inf): a response holding one is rejected by the answer checks');
  return profile;
}
