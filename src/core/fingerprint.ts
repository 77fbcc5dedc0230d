import { createHash } from 'node:crypto';
import { FIREWORKS_BASE_URL, primaryBaseURL } from './providers';
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
    // A replica list counts as its first entry: replicas serve one model, and adding one to a half-done run must keep it resumable.
    baseURL: p.provider === 'fireworks' ? (primaryBaseURL(p) ?? FIREWORKS_BASE_URL) : (primaryBaseURL(p) ?? ''),
    model: p.model,
    template: p.template,
    variant: spec.variant ?? null,
    // What the template writes, not just its name: a custom template, or a shipped one that changed, scores differently.
    templateText: sha256(JSON.stringify(renderingFields(spec))).slice(0, 16),
    systemPrompt: p.systemPrompt ?? null,
    scoreEndOfTurn: p.scoreEndOfTurn ?? true,
    // Only when set: the joined default keeps the fingerprints that scores files already hold.
    ...(p.tokenization === 'separate' ? { tokenization: 'separate' } : {}),
    // The policy's date of rendering, where its template writes one (Llama 3.2): policies of one
    // fingerprint are rendered once, so two that state different dates must not share it. Only then
    // (older fingerprints stay as they were); a record's own date is the same for every policy, and
    // the score key holds the text it went into.
    ...(spec.renderDate && p.date !== undefined ? { date: p.date } : {}),
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
    // Fields added later count only where a template sets them, so the hash of the others is unchanged.
    ...(t.renderDate ? [{ renderDate: t.renderDate }] : []),
    ...(t.dropEmptySystem ? [{ dropEmptySystem: true }] : []),
    ...(t.trimAfterSystemMerge ? [{ trimAfterSystemMerge: true }] : []),
    ...(t.stripReasoningFromHistory ? [{ stripReasoningFromHistory: t.stripReasoningFromHistory }] : []),
  ];
}

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

export function policyFingerprint(p: PolicyConfig, spec: ResolvedTemplate): string {
  return sha256(JSON.stringify(fingerprintFields(p, spec))).slice(0, 16);
}

/** The fingerprint with the tokenization left out: policies that share it differ only at the seam. */
export function seamGroup(p: PolicyConfig, spec: ResolvedTemplate): string {
  return policyFingerprint({ ...p, tokenization: undefined }, spec);
}

/** Key of one score: the flat text the model saw, where the response lies in it, and the fingerprint. */
export function scoreKey(r: RenderedPrompt, fingerprint: string): string {
  return sha256(JSON.stringify([r.text, r.responseStart, r.scoredEnd, fingerprint]));
}
