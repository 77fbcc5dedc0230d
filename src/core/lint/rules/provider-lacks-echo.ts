// CJE051: a server (or a server × model family) known not to return prompt
// log-probs with echo, from data/providers.json "noEcho".

import type { LintContext } from '../context';
import { lacksEcho, modelFamily } from '../knowledge';
import type { LintRule } from './rule';

export const providerLacksEchoRule: LintRule = {
  name: 'provider-lacks-echo',
  codes: { CJE051: { severity: 'error', summary: 'provider/server known to lack echo of prompt log-probs (for this model family)' } },
  check(ctx: LintContext) {
    for (const { name, policy, path } of ctx.policies) {
      const fam = typeof policy.model === 'string' ? modelFamily(policy.model)?.family : undefined;
      const e = lacksEcho(policy, fam);
      if (!e) continue;
      const at = e.baseURL && policy.baseURL !== undefined ? [...path, 'baseURL'] : e.model || e.families ? [...path, 'model'] : [...path, 'provider'];
      ctx.report({
        code: 'CJE051',
        severity: 'error',
        message:
          `policy "${name}": ${e.why} Teacher forcing needs /v1/completions with echo and logprobs: ` +
          `score this model on a server that has them (vLLM: vllm serve MODEL, then "provider": "openai-compatible" with its baseURL; or "fireworks").`,
        path: at,
      });
    }
  },
};
