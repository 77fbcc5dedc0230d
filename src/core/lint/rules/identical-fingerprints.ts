// CJE060 (info): policies that differ only in name have the same scoring
// fingerprint: they are scored once and their weights must be exactly 1,
// which the report's identical-policy check verifies.
// CJE061 (warning): system prompts that differ only in whitespace.

import { policyFingerprint } from '../../fingerprint';
import type { PolicyConfig } from '../../types';
import type { LintContext, PolicyEntry } from '../context';
import { resolvePolicyTemplate } from '../knowledge';
import type { LintRule } from './rule';

const ws = (s: string) => s.replace(/\s+/g, ' ').trim();

export const identicalFingerprintsRule: LintRule = {
  name: 'identical-fingerprints',
  codes: {
    CJE060: { severity: 'info', summary: 'policies that differ only in name (identical fingerprints): checked for weight exactly 1' },
    CJE061: { severity: 'warning', summary: 'system prompts that differ only in whitespace' },
  },
  check(ctx: LintContext) {
    const usable = ctx.policies.filter((p) => typeof p.policy.provider === 'string' && typeof p.policy.model === 'string' && typeof p.policy.template === 'string');
    // Behavior first, so that it is the one the others are named against.
    usable.sort((a, b) => Number(b.name === ctx.behavior) - Number(a.name === ctx.behavior));
    const seen = new Map<string, string>();
    for (const { name, policy, path } of usable) {
      const res = resolvePolicyTemplate(policy, ctx.customTemplates);
      // A template that does not resolve is another rule's error; without it there is no fingerprint.
      if (!res.ok) continue;
      const fp = policyFingerprint(policy as PolicyConfig, res.spec);
      const first = seen.get(fp);
      if (first === undefined) {
        seen.set(fp, name);
        continue;
      }
      ctx.report({
        code: 'CJE060',
        severity: 'info',
        message:
          `policy "${name}" differs from "${first}" only in its name (same provider, model, template, system prompt and end-of-turn choice): ` +
          `it is scored once and its weights against "${first}" must be exactly 1, which \`cje report\` checks (a weight ≠ 1 there means non-deterministic scoring).`,
        path,
        onKey: true,
      });
    }
    const withPrompt = usable.filter((p): p is PolicyEntry & { policy: { systemPrompt: string } } => typeof p.policy.systemPrompt === 'string');
    for (let j = 0; j < withPrompt.length; j++) {
      const b = withPrompt[j];
      const a = withPrompt.slice(0, j).find((x) => x.policy.systemPrompt !== b.policy.systemPrompt && ws(x.policy.systemPrompt) === ws(b.policy.systemPrompt));
      if (!a) continue;
      ctx.report({
        code: 'CJE061',
        severity: 'warning',
        message:
          `policy "${b.name}": its system prompt differs from "${a.name}"'s only in whitespace (${JSON.stringify(b.policy.systemPrompt)} vs ${JSON.stringify(a.policy.systemPrompt)}). ` +
          `Whitespace is tokenized, so the two score differently and their fingerprints differ; if they are meant to be the same policy, use the same string.`,
        path: [...b.path, 'systemPrompt'],
        fixes: [ctx.fix(`Use "${a.name}"'s system prompt`, [...b.path, 'systemPrompt'], a.policy.systemPrompt)],
      });
    }
  },
};
