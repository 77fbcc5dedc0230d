// CJE010: a policy names a template that is neither shipped nor defined under
// "templates" (with "did you mean"); CJE014: an unknown templateVariant;
// CJE015: a custom template that cannot be built (bad "extends", fields missing).

import { loadTemplate } from '../../templates';
import type { LintContext } from '../context';
import { buildCustomTemplate, didYouMean, shippedTemplates } from '../knowledge';
import type { LintRule } from './rule';

export const unknownTemplateRule: LintRule = {
  name: 'unknown-template',
  codes: {
    CJE010: { severity: 'error', summary: 'unknown template name (with "did you mean")' },
    CJE014: { severity: 'error', summary: 'unknown templateVariant for the template' },
    CJE015: { severity: 'error', summary: 'custom template cannot be built: unknown "extends" or required fields missing' },
  },
  check(ctx: LintContext) {
    const custom = Object.keys(ctx.customTemplates);
    const known = [...shippedTemplates(), ...custom];
    for (const { name, policy, path } of ctx.policies) {
      const t = policy.template;
      if (typeof t !== 'string' || !t) continue;
      if (!known.includes(t)) {
        const guesses = didYouMean(t, known);
        ctx.report({
          code: 'CJE010',
          severity: 'error',
          message:
            `policy "${name}": unknown template "${t}". ` +
            (guesses.length ? `Did you mean "${guesses[0]}"? ` : '') +
            `Known templates: ${known.join(', ')} (or define one under "templates").`,
          path: [...path, 'template'],
          fixes: guesses.slice(0, 3).map((g) => ctx.fix(`Change template to "${g}"`, [...path, 'template'], g)),
        });
        continue;
      }
      const v = policy.templateVariant;
      if (typeof v === 'string' && shippedTemplates().includes(t) && !custom.includes(t)) {
        const variants = (loadTemplate(t).variants ?? []).map((x) => x.name);
        if (!variants.includes(v)) {
          const guesses = didYouMean(v, variants);
          ctx.report({
            code: 'CJE014',
            severity: 'error',
            message:
              `policy "${name}": template "${t}" has no variant "${v}". ` +
              (variants.length ? `Its variants: ${variants.join(', ')}` + (guesses.length ? ` (did you mean "${guesses[0]}"?)` : '') + '; or remove templateVariant to pick one from the model name.' : 'It has no variants: remove templateVariant.'),
            path: [...path, 'templateVariant'],
            fixes: [
              ...guesses.slice(0, 2).map((g) => ctx.fix(`Change templateVariant to "${g}"`, [...path, 'templateVariant'], g)),
              ctx.fix('Remove templateVariant', [...path, 'templateVariant'], undefined),
            ],
          });
        }
      }
    }
    for (const [tname, spec] of Object.entries(ctx.customTemplates)) {
      if (!spec || typeof spec !== 'object') continue;
      const ext = spec.extends;
      if (typeof ext === 'string' && !shippedTemplates().includes(ext)) {
        const guesses = didYouMean(ext, shippedTemplates());
        ctx.report({
          code: 'CJE015',
          severity: 'error',
          message: `custom template "${tname}" extends "${ext}", which is not a shipped template.` + (guesses.length ? ` Did you mean "${guesses[0]}"?` : '') + ` Shipped: ${shippedTemplates().join(', ')}.`,
          path: ['templates', tname, 'extends'],
          fixes: guesses.slice(0, 3).map((g) => ctx.fix(`Extend "${g}"`, ['templates', tname, 'extends'], g)),
        });
        continue;
      }
      try {
        buildCustomTemplate(tname, spec, '');
      } catch (e) {
        ctx.report({
          code: 'CJE015',
          severity: 'error',
          message: `custom template "${tname}" ${(e as Error).message}: add "extends": "<shipped template>" to start from one, or give every field.`,
          path: ['templates', tname],
          onKey: true,
        });
      }
    }
  },
};
