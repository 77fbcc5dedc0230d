/**
 * What `cje doctor` (and the cheap probes before `cje score`) measured of one
 * scoring endpoint, and the extra lines the scores file carries for it. Score
 * lines have no `kind`; these always do, and readers skip kinds they do not know.
 */

export type OffsetUnit = 'utf16' | 'codepoint' | 'byte' | 'absent';

/** Each verdict is a value, or null where the probe could not tell (the reason is in `reasons`). */
export interface ProbeVerdicts {
  /** echo: true comes back with the prompt's own tokens. */
  echo: boolean | null;
  /** The smallest max_tokens the server takes with echo (scoring sends it and cuts what was generated). */
  maxTokens: 0 | 1 | null;
  /** The prompt's tokens come with log-probs (not only the generated ones). */
  promptLogprobs: boolean | null;
  firstTokenNull: boolean | null;
  offsetUnit: OffsetUnit | null;
  listPrompts: boolean | null;
  tokenIdPrompts: boolean | null;
  /** The largest top-logprobs count among those tried (1, 5, 20) that the server took. */
  topLogprobsLimit: number | null;
  /** vLLM's -9999 stand-in for -inf was seen. */
  clampSentinel: boolean | null;
  /** The server puts a BOS token before a text prompt. */
  addsBos: boolean | null;
  /** A prompt that already starts with the template's BOS text gets a second one. */
  doubleBos: boolean | null;
  deterministic: boolean | null;
  /** Largest |Δ| of one response's total log-prob between answers to the same prompt (nats). */
  noiseFloor: number | null;
  /** Largest |Δ| of one token's log-prob between answers to the same prompt (nats). */
  noiseFloorToken: number | null;
  batchInvariant: boolean | null;
  prefixCacheConsistent: boolean | null;
  /** Every chat policy on the endpoint gives "4" to "What is 2+2?" a log-prob above SANITY_FLOOR. */
  templateSanity: boolean | null;
}

export type ProbeName = keyof ProbeVerdicts;

export interface EndpointProfile {
  kind: 'endpoint_profile';
  version: 1;
  provider: string;
  baseURL: string;
  model: string;
  policies: string[];
  measured_at: string;
  probes: ProbeVerdicts;
  /** Why a probe is null or false, and its evidence: free text, never a secret. */
  reasons: Partial<Record<ProbeName, string>>;
  /** Per policy: the log-prob of "4" after "What is 2+2?" under its template. */
  sanity?: Record<string, number | null>;
  blockers: string[];
  warnings: string[];
}

/** One record scored K times under one policy (`cje score --repeat K`): its spread is the endpoint's noise on real data. */
export interface RepeatLine {
  kind: 'repeat';
  policy: string;
  fingerprint: string;
  record: string;
  line: number;
  key: string;
  logprobs: number[];
}

export type ExtraLine = EndpointProfile | RepeatLine;

/** An instruct model puts an obvious one-token answer well above this (nats); CJE 0.3's template check used the same idea. */
export const SANITY_FLOOR = -2;

export function isExtraLine(x: unknown): x is { kind: string } {
  return !!x && typeof x === 'object' && typeof (x as { kind?: unknown }).kind === 'string';
}

export function emptyVerdicts(): ProbeVerdicts {
  return {
    echo: null,
    maxTokens: null,
    promptLogprobs: null,
    firstTokenNull: null,
    offsetUnit: null,
    listPrompts: null,
    tokenIdPrompts: null,
    topLogprobsLimit: null,
    clampSentinel: null,
    addsBos: null,
    doubleBos: null,
    deterministic: null,
    noiseFloor: null,
    noiseFloorToken: null,
    batchInvariant: null,
    prefixCacheConsistent: null,
    templateSanity: null,
  };
}

/** Where a policy is scored, as profiles are kept: one per (provider, base URL or model folder, model). */
export function endpointKey(policy: { provider: string; baseURL?: string | string[]; model: string }): string {
  // A replica list is probed (and kept) as its first entry, the one that names it.
  const url = Array.isArray(policy.baseURL) ? policy.baseURL[0] : policy.baseURL;
  return JSON.stringify([policy.provider, url ?? (policy.provider === 'local' ? `folder:${policy.model}` : ''), policy.model]);
}

/** Stops a run before its log is sent: the endpoint cannot teacher-force as configured. */
export class EndpointBlockedError extends Error {
  constructor(readonly profile: EndpointProfile) {
    super(`${profile.baseURL} (${profile.model}) cannot score policy ${profile.policies.join(', ')}: ${profile.blockers.join('; ')}`);
  }
}
