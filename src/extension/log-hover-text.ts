// Words the editor shows on a log's line: the hover with the line's scores
// and log-weights, and the status bar text of a run. Pure (no vscode).
import * as path from 'node:path';
import type { ScoreProgress } from '../core/score-run';
import type { PolicyScore, WeightRow } from '../core/score-index';

/** Log-probs and log-weights are nats, shown with one format everywhere here. */
export function nats(x: number): string {
  return x.toFixed(4);
}

/** Escapes text for a Markdown table cell or line (policy names and error texts come from files). */
export function mdText(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

export interface LineHoverInput {
  line: number;
  recordId?: string;
  scoresFile: string;
  behavior?: string;
  /** Why there is no behavior (no config found, config has errors). */
  behaviorMissing?: string;
  rows: WeightRow[];
  stale: PolicyScore[];
}

/** The hover's Markdown for one scored line of a log. */
export function lineHoverMarkdown(h: LineHoverInput): string {
  const out: string[] = [];
  const file = path.basename(h.scoresFile);
  out.push(`**CJE** · line ${h.line}${h.recordId ? ` · record \`${h.recordId.replace(/`/g, "'")}\`` : ''} · ${mdText(file)}`);
  out.push('');
  if (h.rows.length) {
    out.push('| policy | log p | log w |', '|:--|--:|--:|');
    for (const r of h.rows) {
      const name = `${mdText(r.policy)}${r.isBehavior ? ' (behavior)' : ''}`;
      const lp = r.error !== undefined ? 'failed' : r.logprob === null ? '—' : nats(r.logprob);
      const lw = r.isBehavior ? '' : r.logWeight === undefined ? '—' : nats(r.logWeight);
      out.push(`| ${name} | ${lp} | ${lw} |`);
    }
    out.push('');
  }
  if (h.behavior === undefined) out.push(`log w needs the behavior policy: ${mdText(h.behaviorMissing ?? 'no config found for this log')}.`, '');
  else if (h.rows.length && !h.rows.some((r) => r.isBehavior)) out.push(`log w needs the behavior policy ${mdText(h.behavior)}, which has no score for this line.`, '');
  else if (h.rows.some((r) => r.isBehavior && r.logprob === null)) out.push(`log w needs a log p under the behavior policy ${mdText(h.behavior)}.`, '');
  for (const r of h.rows) {
    if (r.error !== undefined) out.push(`- $(error) **${mdText(r.policy)} failed:** ${mdText(r.error)}`);
    for (const s of r.suspect ?? []) out.push(`- $(warning) **${mdText(r.policy)} suspect:** ${mdText(s)}`);
    if (r.reusedFrom) out.push(`- ${mdText(r.policy)}: the result of ${mdText(r.reusedFrom)}, reused (same scoring fingerprint)`);
  }
  if (h.stale.length) {
    const names = h.stale.map((s) => mdText(s.policy)).join(', ');
    out.push(`- $(warning) ${names}: scored for record \`${h.stale[0].record.replace(/`/g, "'")}\` at this line; the log changed since. Score it again.`);
  }
  return out.join('\n').trim();
}

/** The status bar text of a run: short; the tooltip carries progressMessage. */
export function statusBarText(p: ScoreProgress | undefined): string {
  if (!p) return '$(sync~spin) CJE: counting records…';
  const rate = p.rate >= 10 ? p.rate.toFixed(0) : p.rate.toFixed(1);
  return `$(sync~spin) CJE ${p.done}/${p.total} · ${rate}/s${p.failed ? ` · ${p.failed} failed` : ''}`;
}
