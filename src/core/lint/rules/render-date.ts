// CJE016: the template writes the date it is rendered on (Llama 3.2: "Today
// Date: …" from strftime_now, which vLLM and transformers define) and the
// policy does not say which date that was. Records that carry no date of their
// own (date, metadata.date, timestamp, created_at) are then rendered with the
// template's fixed fallback "26 Jul 2024", while the behavior model saw the day
// it was served: every prompt differs from the logged one by those characters.

import { RECORD_DATE_FIELDS } from '../../render-date';
import type { LintContext } from '../context';
import { resolvePolicyTemplate } from '../knowledge';
import type { LintRule } from './rule';

export const renderDateRule: LintRule = {
  name: 'render-date',
  codes: { CJE016: { severity: 'warning', summary: 'the template writes the date of rendering (Llama 3.2) and the policy leaves it at the fixed fallback' } },
  check(ctx: LintContext) {
    for (const { name, policy, path } of ctx.policies) {
      if (policy.date !== undefined) continue;
      const res = resolvePolicyTemplate(policy, ctx.customTemplates);
      if (!res.ok || !res.spec.renderDate) continue;
      const label = res.spec.variant ? `${policy.template} (${res.spec.variant})` : String(policy.template);
      ctx.report({
        code: 'CJE016',
        severity: 'warning',
        message:
          `policy "${name}": template ${label} writes the date it is rendered on into the system header ` +
          `(strftime_now("${res.spec.renderDate.format}"), which vLLM and transformers define), but this policy states no "date": ` +
          `records without one of their own (${RECORD_DATE_FIELDS.join(', ')}) are rendered with the fixed fallback "${res.spec.renderDate.fallback}", ` +
          `not the day the behavior model was served. Set "date": "YYYY-MM-DD" to that day, or give every record its date ` +
          `(set "date": "${isoOf(res.spec.renderDate.fallback) ?? res.spec.renderDate.fallback}" if the prompts really were rendered without strftime_now).`,
        path: [...path, 'template'],
      });
    }
  },
};

const MON = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** "26 Jul 2024" as 2024-07-26, for the message; undefined for other shapes. */
function isoOf(text: string): string | undefined {
  const m = /^(\d{2}) ([A-Z][a-z]{2}) (\d{4})$/.exec(text);
  const mo = m ? MON.indexOf(m[2]) : -1;
  return m && mo >= 0 ? `${m[3]}-${String(mo + 1).padStart(2, '0')}-${m[1]}` : undefined;
}
