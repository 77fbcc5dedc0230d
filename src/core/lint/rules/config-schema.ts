// CJE001 / CJE002 / CJE050 / CJE012: the config's own problems from parseConfig (JSON
// Schema, behavior not among the policies, missing baseURL), each once at
// parseConfig's exact range, with the chat-only provider and the missing
// template given their own codes (the latter a fix from the model's family).

import { CHAT_ONLY_PROVIDERS, parseConfig } from '../../config';
import type { LintContext } from '../context';
import { modelFamily } from '../knowledge';
import type { LintFix } from '../types';
import type { LintRule } from './rule';

export const configSchemaRule: LintRule = {
  name: 'config-schema',
  codes: {
    CJE001: { severity: 'error', summary: 'JSON syntax or schema problem of the config file (from parseConfig)' },
    CJE050: { severity: 'error', summary: 'chat-only provider (OpenAI chat, Anthropic, Google, …) configured for teacher forcing' },
    CJE012: { severity: 'error', summary: 'a policy has no template, which every completions provider needs' },
    CJE002: { severity: 'error', summary: 'a key written twice in one object (a policy defined twice): readers disagree on which counts, cje refuses the file' },
  },
  check(ctx: LintContext) {
    for (const pr of parseConfig(ctx.text, ctx.file).problems) {
      const segs = splitDotted(pr.path, ctx);
      const policyName = segs[0] === 'policies' && segs.length >= 2 ? String(segs[1]) : undefined;
      const policy = ctx.policies.find((p) => p.name === policyName)?.policy;
      const at = pr.offset !== undefined ? { offset: pr.offset, length: pr.length ?? 0 } : undefined;
      if (pr.kind === 'duplicate-key') {
        ctx.report({ code: 'CJE002', severity: 'error', message: `${pr.path} ${pr.message}`, path: segs, at });
        continue;
      }
      const prov = policy?.provider;
      if (segs.length === 3 && segs[2] === 'provider' && typeof prov === 'string' && Object.hasOwn(CHAT_ONLY_PROVIDERS, prov)) {
        ctx.report({
          code: 'CJE050',
          severity: 'error',
          message: `policy "${policyName}": ${pr.message}`,
          path: segs,
          at,
          fixes: [ctx.fix('Use provider "fireworks"', segs, 'fireworks'), ctx.fix('Use provider "openai-compatible" (then set baseURL)', segs, 'openai-compatible')],
        });
        continue;
      }
      if (segs.length === 2 && policyName && /is missing the required field "template"/.test(pr.message)) {
        const fam = typeof policy?.model === 'string' ? modelFamily(policy.model) : undefined;
        const fixes: LintFix[] = fam ? [ctx.fix(`Add "template": "${fam.template}"`, [...segs, 'template'], fam.template)] : [];
        ctx.report({
          code: 'CJE012',
          severity: 'error',
          message:
            `policy "${policyName}" has no "template": every completions provider scores the flat text a template writes. ` +
            (fam
              ? `Its model is ${fam.family}: add "template": "${fam.template}".`
              : 'Add the template of its model family (or "raw" for a base model whose logged prompts are already flat text).'),
          path: segs,
          onKey: true,
          fixes,
        });
        continue;
      }
      ctx.report({ code: 'CJE001', severity: 'error', message: pr.path ? `${pr.path} ${pr.message}` : pr.message, path: segs, at });
    }
  },
};

/** Back from parseConfig's dotted path to segments; a policy or template name may itself contain dots, so match the real names. */
function splitDotted(p: string, ctx: LintContext): (string | number)[] {
  if (!p) return [];
  for (const [head, names] of [
    ['policies', ctx.policies.map((x) => x.name)],
    ['templates', Object.keys(ctx.customTemplates)],
  ] as const) {
    if (!p.startsWith(head + '.')) continue;
    const rest = p.slice(head.length + 1);
    const hit = [...names].sort((a, b) => b.length - a.length).find((n) => rest === n || rest.startsWith(n + '.'));
    if (hit) return [head, hit, ...(rest.length > hit.length ? rest.slice(hit.length + 1).split('.') : [])];
  }
  return p.split('.');
}
