import { createHash } from 'node:crypto';
import { FIREWORKS_BASE_URL } from './providers';
import type { ResolvedTemplate } from './templates';
import type { PolicyConfig, RenderedPrompt } from './types';

/**
 * What decides a policy's log-probs: two policies with the same fingerprint
 * score every record identically, so their weights must be exactly 1.
 * Names, concurrency, retries and keys are deliberately left out.
 */
export function fingerprintFields(p: PolicyConfig, spec: ResolvedTemplate) {
  return {
    provider: p.provider,
    baseURL: p.provider === 'fireworks' ? (p.baseURL ?? FIREWORKS_BASE_URL) : (p.baseURL ?? ''),
    model: p.model,
    template: p.template,
    variant: spec.variant ?? null,
    // What the template writes, not just its name: a custom template, or a shipped one that changed, scores differently.
    templateText: sha256(JSON.stringify(renderingFields(spec))).slice(0, 16),
    systemPrompt: p.systemPrompt ?? null,
    scoreEndOfTurn: p.scoreEndOfTurn ?? true,
  };
}

/** The parts of a template that decide the flat text (names, notes and descriptions do not). */
function renderingFields(t: ResolvedTemplate) {
  return [
    t.bos,
    t.turns,
    t.systemHandling,
    t.systemMergeSeparator ?? null,
    t.generationPrefix,
    t.endOfTurn,
    t.afterEndOfTurn ?? null,
    t.defaultSystemPrompt ?? null,
    t.trimContent ?? null,
    t.systemPreamble ?? null,
  ];
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function policyFingerprint(p: PolicyConfig, spec: ResolvedTemplate): string {
  return sha256(JSON.stringify(fingerprintFields(p, spec))).slice(0, 16);
}

/** Key of one score: the flat text the model saw, where the response lies in it, and the fingerprint. */
export function scoreKey(r: RenderedPrompt, fingerprint: string): string {
  return sha256(JSON.stringify([r.text, r.responseStart, r.scoredEnd, fingerprint]));
}
