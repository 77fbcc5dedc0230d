// What a policy's `template` names: a custom template of the config (merged
// over the shipped one it extends) or a shipped one, resolved for its model.
// Scoring, the report and the lint rules all resolve templates through here.

import { listTemplates, loadTemplate, resolveTemplate, type ResolvedTemplate } from './templates';
import type { CjeConfig, CustomTemplateSpec, PolicyConfig, TemplateSpec } from './types';

let shipped: string[] | undefined;
export function shippedTemplates(): string[] {
  return (shipped ??= listTemplates());
}

export const REQUIRED_TEMPLATE_FIELDS = ['bos', 'eos', 'tokenizerAddsBos', 'turns', 'systemHandling', 'generationPrefix', 'endOfTurn'] as const;

export type TemplateResolution =
  | { ok: true; spec: ResolvedTemplate; custom: boolean; /** The shipped template it extends (custom) or is. */ base?: string }
  | { ok: false; error: string };

/** A custom template merged over the shipped one it extends (turns merge per role); throws on what cannot be merged. */
export function buildCustomTemplate(name: string, custom: CustomTemplateSpec, model: string, variant?: string): ResolvedTemplate {
  const { extends: ext, turns, ...rest } = custom;
  let base: ResolvedTemplate | undefined;
  if (ext !== undefined) {
    if (!shippedTemplates().includes(ext)) throw new Error(`extends "${ext}", which is not a shipped template`);
    base = resolveTemplate(loadTemplate(ext), model, variant);
  } else {
    const missing = REQUIRED_TEMPLATE_FIELDS.filter((f) => custom[f] === undefined);
    const roles = ['system', 'user', 'assistant'] as const;
    const badTurns = roles.filter((r) => typeof turns?.[r]?.prefix !== 'string' || typeof turns?.[r]?.suffix !== 'string');
    if (missing.length) throw new Error(`has no "extends" and lacks ${missing.map((m) => `"${m}"`).join(', ')}`);
    if (badTurns.length) throw new Error(`has no "extends" and lacks prefix/suffix for turns ${badTurns.join(', ')}`);
  }
  const baseTurns = base?.turns ?? ({} as TemplateSpec['turns']);
  const mergedTurns = {} as TemplateSpec['turns'];
  for (const r of ['system', 'user', 'assistant'] as const) {
    mergedTurns[r] = { prefix: turns?.[r]?.prefix ?? baseTurns[r]?.prefix ?? '', suffix: turns?.[r]?.suffix ?? baseTurns[r]?.suffix ?? '' };
  }
  return {
    ...(base ?? { description: '', families: [] }),
    ...(rest as Partial<TemplateSpec>),
    notes: [...(base?.notes ?? []), ...(rest.notes ?? [])],
    turns: mergedTurns,
    name,
    ...(base?.variant ? { variant: base.variant } : {}),
  } as ResolvedTemplate;
}

/** What a policy's `template` names: a custom template of the config first, else a shipped one. */
export function resolvePolicyTemplate(policy: Partial<PolicyConfig>, customTemplates: Record<string, CustomTemplateSpec> = {}): TemplateResolution {
  const name = policy.template;
  const model = typeof policy.model === 'string' ? policy.model : '';
  if (typeof name !== 'string' || !name) return { ok: false, error: 'no template' };
  try {
    if (Object.hasOwn(customTemplates, name)) {
      const c = customTemplates[name];
      if (!c || typeof c !== 'object') return { ok: false, error: `custom template "${name}" is not an object` };
      return { ok: true, spec: buildCustomTemplate(name, c, model, policy.templateVariant), custom: true, base: c.extends };
    }
    if (!shippedTemplates().includes(name)) return { ok: false, error: `unknown template "${name}"` };
    return { ok: true, spec: resolveTemplate(loadTemplate(name), model, policy.templateVariant), custom: false, base: name };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/** The resolved template of a policy; throws an Error that says why it cannot be had. */
export function policyTemplate(policy: PolicyConfig, config?: Pick<CjeConfig, 'templates'>): ResolvedTemplate {
  const res = resolvePolicyTemplate(policy, config?.templates);
  if (!res.ok) throw new Error(res.error);
  return res.spec;
}
