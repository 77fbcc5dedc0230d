// CJE040: whether the end-of-turn token is scored (scoreEndOfTurn) is part of
// what a log-prob means: every policy compared against the behavior policy
// must make the same choice, or each weight carries one token's log-prob extra.

import type { LintContext } from '../context';
import type { LintRule } from './rule';

export const endOfTurnConsistencyRule: LintRule = {
  name: 'end-of-turn-consistency',
  codes: { CJE040: { severity: 'error', summary: 'scoreEndOfTurn differs from the behavior policy' } },
  check(ctx: LintContext) {
    const b = ctx.policies.find((p) => p.name === ctx.behavior);
    if (!b) return;
    const eff = (v: unknown) => (typeof v === 'boolean' ? v : true);
    const want = eff(b.policy.scoreEndOfTurn);
    for (const { name, policy, path } of ctx.policies) {
      if (name === b.name || eff(policy.scoreEndOfTurn) === want) continue;
      const written = policy.scoreEndOfTurn !== undefined;
      ctx.report({
        code: 'CJE040',
        severity: 'error',
        message:
          `policy "${name}" ${want ? 'does not score' : 'scores'} the end-of-turn token but the behavior policy "${b.name}" ${want ? 'does' : 'does not'}` +
          `${written ? '' : ' (scoreEndOfTurn defaults to true)'}: every weight would carry one token's log-prob that the other side lacks. ` +
          `Set "scoreEndOfTurn": ${want} here (or change the behavior policy) so both score the same span.`,
        path: written ? [...path, 'scoreEndOfTurn'] : path,
        onKey: !written,
        fixes: [ctx.fix(`Set scoreEndOfTurn to ${want} (as "${b.name}")`, [...path, 'scoreEndOfTurn'], want ? undefined : false)],
      });
    }
  },
};
