// The data the rules consult: model families, server facts (data/*.json), and
// how a policy's template name resolves (shipped template or custom one).

import type { PolicyConfig, TemplateSpec } from '../types';
// How a policy's template resolves lives beside the templates: scoring and the report need it too.
export { REQUIRED_TEMPLATE_FIELDS, buildCustomTemplate, resolvePolicyTemplate, shippedTemplates, type TemplateResolution } from '../policy-template';
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

const rx = (s: string | undefined, v: string | string[] | undefined) =>
  s === undefined || (v !== undefined && (Array.isArray(v) ? v : [v]).some((x) => typeof x === 'string' && new RegExp(s, 'i').test(x)));

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
