import { scoreKey } from '../fingerprint';
import { renderDateFor } from '../render-date';
import { renderPrompt } from '../templates';
import type { ChatMessage, LogRecord, PolicyConfig, RenderedPrompt } from '../types';
import type { PolicyGroup } from './groups';

/** One record under one group, rendered: what the later stages carry instead of the record. */
export interface Job {
  seq: number;
  record: string;
  line: number;
  rendered: RenderedPrompt;
  key: string;
  /** The earlier log line with the same prompt and response. */
  duplicateOf?: number;
}

/** The conversation a policy sees for a record: the policy's system prompt replaces any logged one. */
export function conversationFor(record: LogRecord, policy: PolicyConfig): ChatMessage[] {
  const base: ChatMessage[] = record.messages ?? [{ role: 'user', content: record.prompt ?? '' }];
  if (policy.systemPrompt === undefined) return base;
  return [{ role: 'system', content: policy.systemPrompt }, ...base.filter((m) => m.role !== 'system')];
}

/** The render stage: the flat prompt a group's template makes of a record, and its score key; or why it could not. */
export function renderJob(g: PolicyGroup, rec: LogRecord, seq: number): { job: Job; error?: undefined } | { job: Job; error: string } {
  try {
    const rendered = renderPrompt(g.spec, conversationFor(rec, g.policy), rec.response, { scoreEndOfTurn: g.scoreEndOfTurn, date: renderDateFor(g.policy, rec) });
    return { job: { seq, record: rec.id, line: rec.line, rendered, key: scoreKey(rendered, g.fingerprint) } };
  } catch (e) {
    const rendered = { text: '', responseStart: 0, responseEnd: 0, scoredEnd: 0, template: g.spec.name };
    return { job: { seq, record: rec.id, line: rec.line, rendered, key: `render-error:${rec.line}` }, error: `template ${g.spec.name}: ${(e as Error).message}` };
  }
}
