// The data the rules consult: model families, server facts (data/*.json), and
// how a policy's template name resolves (shipped template or custom one).

import { listTemplates, loadTemplate, resolveTemplate, type ResolvedTemplate } from '../templates';
import type { CustomTemplateSpec, PolicyConfig, TemplateSpec } from '../types';
import familiesData from './data/model-families.json';
import providersData from './data/providers.json';

export interface FamilyEntry {
  family: string;
  template: string;
  match: string;
  tokenizer?: string;
}

export interface AddsBosEntry {
  provider?: string;
  baseURL?: string;
  model?: string;
  server: string;
  adds: boolean;
  avoid: string;
}

export interface NoEchoEntry {
  provider?: string;
  baseURL?: string;
  model?: string;
  families?: string[];
  why: string;
}

export const MODEL_FAMILIES: readonly FamilyEntry[] = familiesData.families as FamilyEntry[];
const CHAT_MODEL = new RegExp(familiesData.chatModel, 'i');
export const ADDS_BOS: readonly AddsBosEntry[] = providersData.addsBos as AddsBosEntry[];
export const NO_ECHO: readonly NoEchoEntry[] = providersData.noEcho as NoEchoEntry[];

/** The family of a model name, from data/model-families.json (first match wins). */
export function modelFamily(model: string): FamilyEntry | undefined {
  return MODEL_FAMILIES.find((f) => new RegExp(f.match, 'i').test(model));
}

/** Whether a model name looks like an instruct/chat model (which needs a chat template, not raw). */
export function isChatModel(model: string): boolean {
  return CHAT_MODEL.test(model);
}

const rx = (s: string | undefined, v: string | undefined) => s === undefined || (v !== undefined && new RegExp(s, 'i').test(v));

export function serverAddsBos(p: Partial<PolicyConfig>): AddsBosEntry | undefined {
  return ADDS_BOS.find((e) => (e.provider === undefined || e.provider === p.provider) && rx(e.baseURL, p.baseURL) && rx(e.model, p.model));
}

export function lacksEcho(p: Partial<PolicyConfig>, family: string | undefined): NoEchoEntry | undefined {
  return NO_ECHO.find(
    (e) =>
      (e.provider === undefined || e.provider === p.provider) &&
      rx(e.baseURL, p.baseURL) &&
      rx(e.model, p.model) &&
      (e.families === undefined || (family !== undefined && e.families.includes(family))),
  );
}

let shipped: string[] | undefined;
export function shippedTemplates(): string[] {
  return (shipped ??= listTemplates());
}

export function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length];
}

/** Known names closest to `name` (case-insensitive edit distance ≤ max(2, a third of the length)), best first. */
export function didYouMean(name: string, known: string[]): string[] {
  const n = name.toLowerCase().replace(/[-_ .]/g, '');
  const limit = Math.max(2, Math.floor(name.length / 3));
  return known
    .map((k) => ({ k, d: Math.min(levenshtein(name.toLowerCase(), k.toLowerCase()), levenshtein(n, k.toLowerCase().replace(/[-_ .]/g, ''))) }))
    .filter((x) => x.d <= limit)
    .sort((a, b) => a.d - b.d || a.k.localeCompare(b.k))
    .map((x) => x.k);
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

/** Special-token-looking pieces of a template: <|…|>, <｜…｜> and <word> tags (e.g. <start_of_turn>, <think>). */
export function specialTokensOf(spec: TemplateSpec): string[] {
  const texts = [
    spec.bos,
    spec.eos,
    spec.endOfTurn,
    spec.generationPrefix,
    spec.afterEndOfTurn ?? '',
    ...(['system', 'user', 'assistant'] as const).flatMap((r) => [spec.turns[r].prefix, spec.turns[r].suffix]),
  ];
  const found = new Set<string>();
  for (const t of texts) for (const m of (t ?? '').matchAll(/<\|[^|\s<>]{1,64}\|>|<｜[^｜\s<>]{1,64}｜>|<\/?[a-z][a-z_]{1,40}>/g)) found.add(m[0]);
  return [...found];
}
