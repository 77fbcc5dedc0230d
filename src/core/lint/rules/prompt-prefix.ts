// CJE033: with a custom template, the prompt without the response must be a
// prefix of the prompt with the response (renderPrompt), and of the same
// conversation rendered with the response as a finished assistant turn:
// otherwise the scored span is not the text the model continued from.

import { renderPrompt, renderPromptOnly } from '../../templates';
import type { ChatMessage, TemplateSpec } from '../../types';
import type { LintContext } from '../context';
import { buildCustomTemplate, shippedTemplates } from '../knowledge';
import { loadTemplate } from '../../templates';
import type { LintRule } from './rule';

export const SAMPLE_SYSTEM = 'You are a helpful assistant.';
export const SAMPLE_USER = 'What is 2+2?';
export const SAMPLE_RESPONSE = '2+2 is 4.';

function firstDiff(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** Why `spec` breaks the prefix property on the sample conversation, or undefined when it holds. */
export function prefixProblem(spec: TemplateSpec): string | undefined {
  const history: ChatMessage[] = [
    ...(spec.systemHandling === 'unsupported' ? [] : [{ role: 'system' as const, content: SAMPLE_SYSTEM }]),
    { role: 'user', content: SAMPLE_USER },
  ];
  try {
    const only = renderPromptOnly(spec, history);
    const withResp = renderPrompt(spec, history, SAMPLE_RESPONSE, { scoreEndOfTurn: true }).text;
    const unmarked = [spec.turns.user, spec.turns.assistant].every((x) => x.prefix === '' && x.suffix === '');
    // Mistral merges the system prompt into the LAST user turn by design (see its notes): compare that case without one.
    const fullHistory = spec.systemHandling === 'merge-into-last-user' ? history.filter((m) => m.role !== 'system') : history;
    const fullOnly = fullHistory === history ? only : renderPromptOnly(spec, fullHistory);
    const fullWith = fullHistory === history ? withResp : renderPrompt(spec, fullHistory, SAMPLE_RESPONSE, { scoreEndOfTurn: true }).text;
    const full = unmarked
      ? withResp
      : renderPromptOnly(spec, [...fullHistory, { role: 'assistant', content: SAMPLE_RESPONSE }, { role: 'user', content: 'Thanks.' }]);
    for (const [label, ref, text] of [
      ['the prompt with the response (renderPrompt)', only, withResp],
      ['the conversation with the response as a finished assistant turn', fullOnly, full],
      ['the conversation with the response as a finished assistant turn', fullWith, full],
    ] as const) {
      if (!text.startsWith(ref)) {
        const i = firstDiff(ref, text);
        const what = ref === fullWith ? 'the prompt with the response and end of turn' : 'the prompt without the response';
        return `${what} is not a prefix of ${label}: they part at character ${i} (${JSON.stringify(ref.slice(i, i + 24))} vs ${JSON.stringify(text.slice(i, i + 24))})`;
      }
    }
  } catch (e) {
    return `it cannot render a system + user conversation: ${(e as Error).message}`;
  }
  return undefined;
}

export const promptPrefixRule: LintRule = {
  name: 'prompt-prefix',
  codes: { CJE033: { severity: 'error', summary: 'custom template: the no-response prompt is not a prefix of the with-response text' } },
  check(ctx: LintContext) {
    for (const [name, spec] of Object.entries(ctx.customTemplates)) {
      if (!spec || typeof spec !== 'object') continue;
      let merged: TemplateSpec;
      try {
        merged = buildCustomTemplate(name, spec, '');
      } catch {
        continue;
      }
      const why = prefixProblem(merged);
      if (!why) continue;
      // A shipped template's own documented departures (llama2's space before </s>, R1's <think>) are not this template's fault.
      if (typeof spec.extends === 'string' && shippedTemplates().includes(spec.extends) && prefixProblem(loadTemplate(spec.extends))) continue;
      ctx.report({
        code: 'CJE033',
        severity: 'error',
        message:
          `template "${name}": ${why}. The response is scored after the generation prompt, so generationPrefix must equal turns.assistant.prefix, ` +
          `turns.assistant.suffix must start with endOfTurn, and the system prompt must not move when the answer is added.`,
        path: ['templates', name],
        onKey: true,
      });
    }
  },
};
