// CJE052: a fireworks policy with a baseURL off Fireworks' own host and no apiKeyEnv of its own:
// the Fireworks key is not sent there. CJE053: a keyed request over plain http to a host other
// than this machine. Same check (providers.ts keyTrustProblem) as the one that refuses the run.

import { keyTrustProblem } from '../../providers';
import type { PolicyConfig } from '../../types';
import type { LintContext } from '../context';
import type { LintRule } from './rule';

export const keyTrustRule: LintRule = {
  name: 'key-trust',
  codes: {
    CJE052: { severity: 'error', summary: "a fireworks policy's baseURL is not Fireworks' host and the policy names no apiKeyEnv: the Fireworks key is not sent there" },
    CJE053: { severity: 'error', summary: 'an API key would travel over plain http to a host other than this machine' },
  },
  check(ctx: LintContext) {
    for (const { name, policy, path } of ctx.policies) {
      const raw: unknown = policy.baseURL;
      const baseURL = typeof raw === 'string' ? raw : Array.isArray(raw) && raw.every((u) => typeof u === 'string') ? (raw as string[]) : undefined;
      const apiKeyEnv = typeof policy.apiKeyEnv === 'string' ? policy.apiKeyEnv : undefined;
      const p = keyTrustProblem({ provider: policy.provider as PolicyConfig['provider'], baseURL, apiKeyEnv });
      if (!p) continue;
      const at = baseURL !== undefined ? [...path, 'baseURL', ...(p.index !== undefined ? [p.index] : [])] : [...path, 'provider'];
      if (p.code === 'foreign-host') {
        ctx.report({
          code: 'CJE052',
          severity: 'error',
          message: `policy "${name}": ${p.message}`,
          path: at,
          // No quick fix on purpose: `cje lint --fix` would then hand the key to the host without anyone deciding to.
        });
      } else {
        ctx.report({ code: 'CJE053', severity: 'error', message: `policy "${name}": ${p.message}`, path: at });
      }
    }
  },
};
