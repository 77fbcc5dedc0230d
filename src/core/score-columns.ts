// The kept score of each (log item, policy) in a scores file, read by the same
// rules as the report (report-data.ts): a record's latest line without an error
// and with a finite log-prob wins; a record with only error lines is failed; a
// kept score with suspect reasons or an approximate span is suspect. Items are
// found by (line, record id), and a single-response record by its line alone
// (its id may have been `line:N` when it was scored).
//
// Score lines are read in any stored form (src/core/score-line-form.ts,
// unpackScoreLine), without their token detail: export needs only the totals.

import { readLines } from './jsonl-lines';
import { unpackScoreLine, type StoredScoreLine } from './score-line-form';

export interface KeptScore {
  logprob: number;
  /** Why the number is doubtful (suspect reasons, an approximate span); absent when every check passed. */
  suspect?: string[];
}

export type ScoreCell = KeptScore | { failed: string };

/** Per policy: item key → its kept score or its failure. */
export type ScoreColumns = Map<string, Map<string, ScoreCell>>;

export function itemKey(line: number, record?: string): string {
  return record === undefined ? String(line) : `${line}\0${record}`;
}

/** One line of a scores file as a ScoreLine, or undefined for a kind line or anything else. */
export function parseScoreLine(text: string): StoredScoreLine | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = v as Record<string, unknown>;
  if (!o || typeof o !== 'object' || Array.isArray(o) || 'kind' in o) return undefined;
  if (typeof o.policy !== 'string' || typeof o.line !== 'number' || typeof o.record !== 'string') return undefined;
  return unpackScoreLine(o, { tokens: false });
}

/** Reads every score line of `file` into columns: by (line, record) and, for lookups of single-response records, by line. */
export async function readScoreColumns(file: string): Promise<ScoreColumns> {
  const cols: ScoreColumns = new Map();
  for await (const l of readLines(file, { maxLineBytes: 256 * 1024 * 1024 })) {
    if (!l.text || !l.text.trim()) continue;
    const s = parseScoreLine(l.text);
    if (!s) continue;
    let c = cols.get(s.policy);
    if (!c) cols.set(s.policy, (c = new Map()));
    const ok = (s.error === null || s.error === undefined) && typeof s.logprob === 'number' && Number.isFinite(s.logprob);
    const cell: ScoreCell = ok ? kept(s) : { failed: typeof s.error === 'string' && s.error ? s.error : 'no finite log-prob' };
    for (const k of [itemKey(s.line, s.record), itemKey(s.line)]) {
      const prev = c.get(k);
      // A later success replaces anything; a failure never replaces a success.
      if (!prev || 'logprob' in cell || 'failed' in prev) c.set(k, cell);
    }
  }
  return cols;
}

function kept(s: StoredScoreLine): KeptScore {
  const reasons = Array.isArray(s.suspect) ? s.suspect.filter((r): r is string => typeof r === 'string' && r !== '') : [];
  if (s.span?.approximate === true && !reasons.some((r) => r.startsWith('approximate'))) reasons.unshift('approximate: the response was located by counting the prompt\'s tokens');
  return reasons.length ? { logprob: s.logprob as number, suspect: reasons } : { logprob: s.logprob as number };
}

/**
 * The cell of one log item under a policy: by (line, id); a single-response
 * record also by its line; a sampled response that repeats an earlier one of
 * its record (no score line of its own: same key and line) by that one's id.
 */
export function cellOf(c: Map<string, ScoreCell> | undefined, item: { line: number; id: string; group?: string }, twinId?: string): ScoreCell | undefined {
  if (!c) return undefined;
  return c.get(itemKey(item.line, item.id)) ?? (item.group === undefined ? c.get(itemKey(item.line)) : twinId !== undefined ? c.get(itemKey(item.line, twinId)) : undefined);
}
