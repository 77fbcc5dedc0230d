// Words the extension shows about a scoring run. Pure.
import * as path from 'node:path';
import type { ScoreProgress, ScoreRunSummary } from '../core/score-run';
import { formatApproxCount } from '../core/token-estimate';

/** The progress notification's message: records done / total, rate, failures, and the approximate tokens sent. */
export function progressMessage(p: ScoreProgress): string {
  const rate = p.rate >= 10 ? p.rate.toFixed(0) : p.rate.toFixed(1);
  return `${p.done} / ${p.total} records · ${rate} records/s${p.failed ? ` · ${p.failed} failed` : ''}${p.approxTokens ? ` · ≈${formatApproxCount(p.approxTokens)} tokens sent (estimate)` : ''}`;
}

/** Percent of the notification's bar to add, from the previous to the current progress. */
export function progressIncrement(prevDone: number, p: ScoreProgress): number {
  if (!(p.total > 0)) return 0;
  return (Math.min(p.done, p.total) - Math.min(prevDone, p.total)) * (100 / p.total);
}

/** One line for the end of a run, and how loud to say it. */
export function summaryMessage(s: ScoreRunSummary): { level: 'info' | 'warning'; text: string } {
  const file = path.basename(s.logFile);
  const counts = `${s.records} records · ${s.scored} scored · ${s.skipped} already scored · ${s.failed} failed${s.badLines ? ` · ${s.badLines} bad lines` : ''}`;
  if (s.cancelled) return { level: 'warning', text: `CJE: scoring ${file} cancelled (${counts}). What was scored is kept in ${path.basename(s.outFile)}; run "Score with CJE" again to resume.` };
  if (s.failed || s.badLines) return { level: 'warning', text: `CJE: scored ${file} with problems (${counts}). Failed records are tried again on the next run; see the CJE output.` };
  return { level: 'info', text: `CJE: scored ${file} (${counts}).` };
}

/** Why nothing is scored in an untrusted workspace. */
export const UNTRUSTED_MESSAGE =
  'CJE does not score in an untrusted workspace: scoring sends every record of the log to the endpoints the config names (and may start a local worker), and a config from an untrusted folder could send it anywhere. Trust this workspace to score; the diagnostics panel and config lint work without trust.';
