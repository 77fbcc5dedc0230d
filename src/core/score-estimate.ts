// `cje score --dry-run`: what a run would send, before anything is sent. Reads
// the log and the scores file (never writes either), renders each record under
// each fingerprint group, and counts requests and approximate tokens.

import * as fs from 'node:fs';
import { ResumeIndex } from './resume-index';
import { readLines } from './jsonl-lines';
import { readLog } from './log-reader';
import { renderDateFor } from './render-date';
import { conversationFor, policyGroups } from './score-run';
import { defaultScoresPath } from './score-store';
import { scoreKey } from './fingerprint';
import { renderPrompt } from './templates';
import { ESTIMATE_VOCABULARY, TokenRate } from './token-estimate';
import type { CjeConfig, LogIssue } from './types';

export interface GroupEstimate {
  names: string[];
  fingerprint: string;
  model: string;
  tokenization: 'joined' | 'separate';
  /** Records to score (not yet in the scores file). */
  toScore: number;
  /** Records already scored for every name of the group. */
  done: number;
  /** Records whose prompt could not be rendered. */
  renderErrors: number;
  /** Approximate tokens to be sent (prompt + response + end of turn), by ESTIMATE_VOCABULARY. */
  approxTokens: number;
}

export interface RunEstimate {
  logFile: string;
  outFile: string;
  records: number;
  badLines: number;
  issues: LogIssue[];
  groups: GroupEstimate[];
  /** Says that every token count is an estimate and by which vocabulary. */
  approximate: string;
}

/**
 * Keys with a successful line in an existing scores file (read only), in the
 * run's own compact index: a key there is copied, not sent, so its record costs
 * nothing. A million records cost megabytes, as in the run itself.
 */
async function scoredKeys(file: string): Promise<ResumeIndex> {
  const done = new ResumeIndex();
  if (!fs.existsSync(file)) return done;
  for await (const l of readLines(file, { maxLineBytes: 256 * 1024 * 1024 })) {
    if (l.text === undefined || l.unterminated) continue;
    try {
      // Packed lines keep these fields as they are (score-line-form.ts).
      const s = JSON.parse(l.text) as { key?: unknown; policy?: unknown; error?: unknown; logprob?: unknown; line?: unknown };
      if (typeof s.key === 'string' && typeof s.policy === 'string' && s.error === null && typeof s.logprob === 'number') {
        done.add(s.key, typeof s.line === 'number' && s.line >= 0 ? s.line : 0, s.policy, l.offset, s.logprob, false);
      }
    } catch {
      /* a bad line is scored again: count it as not done */
    }
  }
  return done;
}

export async function estimateRun(opts: { logFile: string; config: CjeConfig; outFile?: string; policies?: string[]; maxLineBytes?: number }): Promise<RunEstimate> {
  const { config } = opts;
  const outFile = opts.outFile ?? defaultScoresPath(opts.logFile);
  const wanted = opts.policies?.length ? new Set([config.behavior, ...opts.policies]) : undefined;
  const groups = policyGroups(config, wanted);
  const done = await scoredKeys(outFile);
  const est: GroupEstimate[] = groups.map((g) => ({
    names: g.names,
    fingerprint: g.fingerprint,
    model: g.policy.model,
    tokenization: g.policy.tokenization ?? 'joined',
    toScore: 0,
    done: 0,
    renderErrors: 0,
    approxTokens: 0,
  }));
  const rate = new TokenRate();
  const issues: LogIssue[] = [];
  let records = 0;
  let badLines = 0;
  for await (const item of readLog(opts.logFile, { maxLineBytes: opts.maxLineBytes, fields: opts.config.fields })) {
    if (item.kind === 'issue') {
      if (item.issue.line > 0) badLines++;
      if (issues.length < 1000) issues.push(item.issue);
      continue;
    }
    records++;
    const rec = item.record;
    groups.forEach((g, i) => {
      let rendered;
      try {
        rendered = renderPrompt(g.spec, conversationFor(rec, g.policy), rec.response, { scoreEndOfTurn: g.scoreEndOfTurn, date: renderDateFor(g.policy, rec) });
      } catch {
        est[i].renderErrors++;
        return;
      }
      if (done.get(scoreKey(rendered, g.fingerprint)) !== undefined) {
        est[i].done++;
        return;
      }
      est[i].toScore++;
      est[i].approxTokens += rate.add(rendered.text);
    });
  }
  return { logFile: opts.logFile, outFile, records, badLines, issues, groups: est, approximate: `token counts are estimates by ${ESTIMATE_VOCABULARY}, not by each model's own tokenizer` };
}
