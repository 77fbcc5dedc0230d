// CJE011: the template is not the chat format of the model's family (llama3 on
// a Llama 4 / Qwen / Mistral model, …), from data/model-families.json.
// CJE013: the "raw" template (no chat format) on an instruct/chat model.

import type { LintContext } from '../context';
import { isChatModel, modelFamily, resolvePolicyTemplate } from '../knowledge';
import type { LintRule } from './rule';

export const templateFamilyMismatchRule: LintRule = {
  name: 'template-family-mismatch',
  codes: {
    CJE011: { severity: 'error', summary: "template is not the chat format of the model's family (model→family table in data)" },
    CJE013: { severity: 'warning', summary: 'template "raw" (no chat format) on an instruct/chat model' },
  },
  check(ctx: LintContext) {
    for (const { name, policy, path } of ctx.policies) {
      if (typeof policy.model !== 'string' || typeof policy.template !== 'string') continue;
      const fam = modelFamily(policy.model);
      const res = resolvePolicyTemplate(policy, ctx.customTemplates);
      if (!res.ok) continue;
      const spec = res.spec;
      const shippedName = res.base; // the template it is or extends
      if (shippedName === 'raw') {
        if (isChatModel(policy.model) && !res.custom) {
          ctx.report({
            code: 'CJE013',
            severity: 'warning',
            message:
              `policy "${name}": template "raw" scores the logged prompt as flat text with no chat format, but "${policy.model}" is an instruct/chat model, ` +
              `which saw its chat template's headers and end-of-turn tokens. ` +
              (fam ? `Use "${fam.template}" unless the logged prompts already contain the ${fam.family} format.` : 'Use its chat template unless the logged prompts already contain it.'),
            path: [...path, 'template'],
            fixes: fam ? [ctx.fix(`Change template to "${fam.template}"`, [...path, 'template'], fam.template)] : [],
          });
        }
        continue;
      }
      if (!fam) continue;
      const families = spec.families ?? [];
      if (shippedName === fam.template || families.includes(fam.family)) continue;
      ctx.report({
        code: 'CJE011',
        severity: 'error',
        message:
          `policy "${name}": template "${policy.template}"${res.custom ? ` (extends "${shippedName ?? 'nothing'}")` : ''} is the format of ${families.join(', ') || 'another family'}, ` +
          `but model "${policy.model}" is ${fam.family}, whose chat format is "${fam.template}". A wrong template costs tens of nats even on trivial answers. ` +
          `Use "${fam.template}" (or, if this model really was served with this format, add it to the template's families).`,
        path: [...path, 'template'],
        fixes: res.custom
          ? [ctx.fix(`Make "${policy.template}" extend "${fam.template}"`, ['templates', policy.template, 'extends'], fam.template)]
          : [ctx.fix(`Change template to "${fam.template}"`, [...path, 'template'], fam.template)],
      });
    }
  },
};
