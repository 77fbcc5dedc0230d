import { createHash } from 'node:crypto';
import { FIREWORKS_BASE_URL } from './providers';
import type { PolicyConfig, RenderedPrompt } from './types';

/**
 * What decides a policy's log-probs: two policies with the same fingerprint
 * score every record identically, so their weights must be exactly 1.
 * Names, concurrency, retries and keys are deliberately left out.
 */
export function fingerprintFields(p: PolicyConfig, variant: string | undefined) {
  return {
    provider: p.provider,
    baseURL: p.provider === 'fireworks' ? (p.baseURL ?? FIREWORKS_BASE_URL) : (p.baseURL ?? ''),
    model: p.model,
    template: p.template,
    variant: variant ?? null,
    systemPrompt: p.systemPrompt ?? null,
    scoreEndOfTurn: p.scoreEndOfTurn ?? true,
  };
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function policyFingerprint(p: PolicyConfig, variant: string | undefined): string {
  return sha256(JSON.stringify(fingerprintFields(p, variant))).slice(0, 16);
}

/** Key of one score: the flat text the model saw, where the response lies in it, and the fingerprint. */
export function scoreKey(r: RenderedPrompt, fingerprint: string): string {
  return sha256(JSON.stringify([r.text, r.responseStart, r.scoredEnd, fingerprint]));
}
