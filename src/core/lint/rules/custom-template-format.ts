// Formatting of a custom template written in the config ("templates"):
// CJE031 a literal backslash-n ("\\n" in JSON) where a newline was meant;
// CJE030 the newlines after a role header differ from the family's format
//        (two after a Llama 3/4 header, one after a ChatML role);
// CJE032 no end-of-turn token although the format has turns.

import type { JSONPath } from 'jsonc-parser';
import { loadTemplate, resolveTemplate } from '../../templates';
import type { CustomTemplateSpec, TemplateSpec } from '../../types';
import type { LintContext } from '../context';
import { buildCustomTemplate, modelFamily, shippedTemplates } from '../knowledge';
import type { LintRule } from './rule';

const ROLES = ['system', 'user', 'assistant'] as const;
const STRING_FIELDS = ['bos', 'eos', 'generationPrefix', 'endOfTurn', 'afterEndOfTurn', 'systemMergeSeparator', 'systemPreamble', 'defaultSystemPrompt'] as const;

/** Every string field written in a custom template, with its JSON path and the matching field of a TemplateSpec. */
export function writtenStrings(name: string, spec: CustomTemplateSpec): { path: JSONPath; value: string; get: (t: TemplateSpec) => string | undefined }[] {
  const out: { path: JSONPath; value: string; get: (t: TemplateSpec) => string | undefined }[] = [];
  for (const f of STRING_FIELDS) {
    const v = spec[f];
    if (typeof v === 'string') out.push({ path: ['templates', name, f], value: v, get: (t) => (t[f] ?? undefined) as string | undefined });
  }
  for (const r of ROLES) {
    for (const part of ['prefix', 'suffix'] as const) {
      const v = spec.turns?.[r]?.[part];
      if (typeof v === 'string') out.push({ path: ['templates', name, 'turns', r, part], value: v, get: (t) => t.turns[r][part] });
    }
  }
  return out;
}

const LITERAL_ESCAPE = /\\[nrt]/;
const decodeEscapes = (s: string) => s.replace(/\\n/g, '\n').replace(/\\r/g, '\r').replace(/\\t/g, '\t');
const show = (s: string) => JSON.stringify(s);

/** Headers whose following newlines are fixed by the format (used when the template extends nothing). */
const HEADER_RULES: { re: RegExp; newlines: string; format: string }[] = [
  { re: /(<\|end_header_id\|>)([ \t\r\n]*)$/, newlines: '\n\n', format: 'Llama 3' },
  { re: /(<\|header_end\|>)([ \t\r\n]*)$/, newlines: '\n\n', format: 'Llama 4' },
  { re: /(<\|im_start\|>(?:system|user|assistant))([ \t\r\n]*)$/, newlines: '\n', format: 'ChatML' },
  { re: /(<start_of_turn>(?:user|model))([ \t\r\n]*)$/, newlines: '\n', format: 'Gemma' },
];

/** The shipped template a custom one should look like: the one it extends, else its policies' model family's. */
export function referenceTemplate(ctx: LintContext, name: string, spec: CustomTemplateSpec): TemplateSpec | undefined {
  if (typeof spec.extends === 'string' && shippedTemplates().includes(spec.extends)) return loadTemplate(spec.extends);
  for (const { policy } of ctx.policies) {
    if (policy.template !== name || typeof policy.model !== 'string') continue;
    const fam = modelFamily(policy.model);
    if (fam) return resolveTemplate(loadTemplate(fam.template), policy.model);
  }
  return undefined;
}

export const customTemplateFormatRule: LintRule = {
  name: 'custom-template-format',
  codes: {
    CJE030: { severity: 'error', summary: "newlines after a role header differ from the family's format (two for Llama 3/4)" },
    CJE031: { severity: 'error', summary: 'literal backslash-n ("\\\\n") in a custom template where a newline was meant' },
    CJE032: { severity: 'error', summary: 'custom template has turns but no end-of-turn token' },
  },
  check(ctx: LintContext) {
    for (const [name, spec] of Object.entries(ctx.customTemplates)) {
      if (!spec || typeof spec !== 'object') continue;
      const ref = referenceTemplate(ctx, name, spec);
      for (const w of writtenStrings(name, spec)) {
        if (LITERAL_ESCAPE.test(w.value)) {
          const fixed = decodeEscapes(w.value);
          ctx.report({
            code: 'CJE031',
            severity: 'error',
            message:
              `template "${name}": ${w.path.slice(2).join('.')} contains a literal backslash-n (${show(w.value)} in the text the model sees is "\\" + "n"), ` +
              `not a newline. In JSON write "\\n" (one backslash) for a newline.`,
            path: w.path,
            fixes: [ctx.fix('Replace the literal \\n with a newline', w.path, fixed)],
          });
        }
        const value = decodeEscapes(w.value);
        const want = ref ? w.get(ref) : undefined;
        if (want !== undefined && want !== null && value !== want && value.replace(/\s+/g, '') === want.replace(/\s+/g, '') && /\n/.test(value + want)) {
          ctx.report({
            code: 'CJE030',
            severity: 'error',
            message:
              `template "${name}": ${w.path.slice(2).join('.')} is ${show(value)} but the ${ref!.name} format writes ${show(want)}: ` +
              `the newlines after a header are part of what the model saw (a missing blank line shifts every log-prob). Use ${show(want)}.`,
            path: w.path,
            fixes: [ctx.fix(`Use ${show(want)}`, w.path, want)],
          });
          continue;
        }
        if (ref) continue;
        for (const h of HEADER_RULES) {
          const m = h.re.exec(value);
          if (!m || m[2] === h.newlines) continue;
          const fixed = value.slice(0, m.index) + m[1] + h.newlines;
          ctx.report({
            code: 'CJE030',
            severity: 'error',
            message:
              `template "${name}": ${w.path.slice(2).join('.')} ends its ${h.format} header with ${show(m[2])}; the ${h.format} format writes ${show(h.newlines)} after ${m[1]}. Use ${show(fixed)}.`,
            path: w.path,
            fixes: [ctx.fix(`Use ${show(fixed)}`, w.path, fixed)],
          });
        }
      }
      let merged: TemplateSpec;
      try {
        merged = buildCustomTemplate(name, spec, '');
      } catch {
        continue; // CJE015 reports it
      }
      const hasTurns = ROLES.some((r) => merged.turns[r].prefix !== '' || merged.turns[r].suffix !== '');
      if (hasTurns && !merged.endOfTurn) {
        const eot = ref?.endOfTurn || (/^<[^>]+>/.exec(merged.turns.assistant.suffix)?.[0] ?? '');
        ctx.report({
          code: 'CJE032',
          severity: 'error',
          message:
            `template "${name}" has turn markers but an empty endOfTurn: the token that ends the response (and is scored with scoreEndOfTurn) is missing. ` +
            (eot ? `Set "endOfTurn": ${show(eot)}.` : 'Set endOfTurn to the token that closes an assistant turn.'),
          path: spec.endOfTurn !== undefined ? ['templates', name, 'endOfTurn'] : ['templates', name],
          onKey: spec.endOfTurn === undefined,
          fixes: eot ? [ctx.fix(`Set endOfTurn to ${show(eot)}`, ['templates', name, 'endOfTurn'], eot)] : [],
        });
      }
    }
  },
};
