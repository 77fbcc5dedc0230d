// CJE020: the template writes BOS and the server's tokenizer adds one too, so
// the model is scored after two BOS tokens. Warning where it is known that the
// server adds it (data/providers.json, or a local model's tokenizer.json that
// prepends BOS); info where it depends on the server.

import type { JSONPath } from 'jsonc-parser';
import type { LintContext } from '../context';
import { resolvePolicyTemplate, serverAddsBos } from '../knowledge';
import { localModelTokenizerDir, tokenizerPrependsBos } from '../tokenizers';
import type { LintEdit, LintFix } from '../types';
import type { LintRule } from './rule';

export const doubleBosRule: LintRule = {
  name: 'double-bos',
  codes: { CJE020: { severity: 'warning|info', summary: 'template writes BOS and the tokenizer/server adds it too (double BOS)' } },
  check(ctx: LintContext) {
    for (const { name, policy, path } of ctx.policies) {
      const res = resolvePolicyTemplate(policy, ctx.customTemplates);
      if (!res.ok || !res.spec.bos) continue;
      const bos = res.spec.bos;
      let known: string | undefined; // why we know the server adds it
      let avoid = '';
      if (policy.provider === 'local' && typeof policy.model === 'string' && ctx.opts.tokenizers) {
        const dir = localModelTokenizerDir(policy.model, ctx.baseDir);
        const adds = dir ? tokenizerPrependsBos(dir, bos) : undefined;
        if (adds === false) continue;
        if (adds) {
          known = `the tokenizer.json of ${policy.model} prepends ${bos} when it encodes`;
          avoid = 'The worker tokenizes with it, so remove the template\'s BOS.';
        }
      }
      if (!known) {
        const e = serverAddsBos(policy);
        if (e && !e.adds) continue;
        if (e) {
          known = `${e.server} adds BOS to completion prompts`;
          avoid = e.avoid.replace(/TEMPLATE/g, res.base ?? String(policy.template));
        }
      }
      if (!known && !res.spec.tokenizerAddsBos) continue;
      const where = res.custom ? ['templates', String(policy.template), 'bos'] : [...path, 'template'];
      if (known) {
        ctx.report({
          code: 'CJE020',
          severity: 'warning',
          message:
            `policy "${name}": double BOS. Template "${policy.template}" writes ${bos} itself and ${known}, so every log-prob is conditioned on two BOS tokens ` +
            `(the behavior model saw one). ${avoid}`,
          path: where,
          fixes: [noBosFix(ctx, policy.template as string, res.custom, path)],
        });
      } else {
        ctx.report({
          code: 'CJE020',
          severity: 'info',
          message:
            `policy "${name}": template "${policy.template}" writes ${bos} and the ${res.spec.families?.[0] ?? 'model'} tokenizer adds BOS too: a server that tokenizes completion prompts with special tokens ` +
            `(vLLM, llama.cpp) scores after two BOS tokens. If \`cje score\` notes "double BOS" in the span notes, send the prompt without BOS: ` +
            `a custom template {"extends": "${res.base ?? policy.template}", "bos": ""}, or a server that does not add it.`,
          path: where,
        });
      }
    }
  },
};

/** Custom template: set its bos to ''. Shipped template: define "<name>-nobos" extending it with bos '' and point the policy at it. */
function noBosFix(ctx: LintContext, template: string, custom: boolean, policyPath: JSONPath): LintFix {
  if (custom) return ctx.fix(`Remove BOS from template "${template}"`, ['templates', template, 'bos'], '');
  let newName = `${template}-nobos`;
  const wanted = { extends: template, bos: '' };
  for (let i = 2; ; i++) {
    const have = ctx.customTemplates[newName];
    if (!have || JSON.stringify(have) === JSON.stringify(wanted)) break;
    newName = `${template}-nobos-${i}`;
  }
  const edits: LintEdit[] = [];
  if (!ctx.customTemplates[newName]) edits.push(...ctx.setEdits(['templates', newName], wanted));
  edits.push(...ctx.setEdits([...policyPath, 'template'], newName));
  return { title: `Use template "${newName}" (${template} without BOS)`, edits };
}
