import type { ScoreStore } from '../score-store';
import { redact } from '../secrets';
import { ANSWER_CHECKS_VERSION, type SpanResult } from '../span';
import type { ScoreLine } from '../types';
import type { RunGroup } from './groups';
import type { OpenItems } from './items';
import type { Lookup, LookupStage } from './lookup';
import type { Job } from './render';
import type { RunSummary } from './summary';

/** The scores line of one job's result under one of its group's names. */
export function lineFor(g: RunGroup, name: string, job: Job, res: SpanResult): ScoreLine {
  return {
    key: job.key,
    record: job.record,
    line: job.line,
    policy: name,
    fingerprint: g.fingerprint,
    logprob: res.ok ? res.value.logprob : null,
    tokens: res.ok ? res.value.tokens : [],
    token_logprobs: res.ok ? res.value.token_logprobs : [],
    ...(res.ok && res.value.entropy ? { entropy: res.value.entropy } : {}),
    ...(res.ok && res.value.top_logprobs && (g.policy.topLogprobs ?? 1) > 1 ? { top_logprobs: res.value.top_logprobs } : {}),
    span: res.ok ? res.value.span : null,
    error: res.ok ? null : redact(res.error),
    ...(res.ok && res.value.suspect?.length ? { suspect: res.value.suspect } : {}),
    checks: ANSWER_CHECKS_VERSION,
    seam_group: g.seamGroup,
    ...(g.names.length > 1 && name !== g.names[0] ? { reused_from: g.names[0] } : {}),
    ...(job.duplicateOf !== undefined ? { duplicate_of: job.duplicateOf } : {}),
    model: g.policy.model,
    template: g.spec.variant ? `${g.policy.template}:${g.spec.variant}` : g.policy.template,
    provider: g.policy.provider,
    scored_at: new Date().toISOString(),
  };
}

/** The lines a copy writes: the earlier result, under this record's line and each missing name. */
export function copyLines(from: ScoreLine, missing: string[], job: Job, duplicateOf?: number): ScoreLine[] {
  // The copy names where the number was scored (not a copy of a copy), and its own duplicate, not the earlier line's.
  const { reused_from: _r, duplicate_of: _d, ...rest } = from;
  const source = from.reused_from ?? from.policy;
  return missing.map((n) => ({
    ...rest,
    policy: n,
    record: job.record,
    line: job.line,
    ...(n !== source ? { reused_from: source } : {}),
    ...(duplicateOf !== undefined ? { duplicate_of: duplicateOf } : {}),
    scored_at: new Date().toISOString(),
  }));
}

/**
 * The write stage: appends results to the scores file as they arrive (one
 * write per batch, so a kill loses at most a half line) and feeds the
 * summary and the open items. A write that fails (a full disk) stops the
 * run: nothing after it could be kept.
 */
export class Writer {
  fatal: unknown;

  constructor(
    private readonly store: ScoreStore,
    private readonly items: OpenItems,
    private readonly summary: RunSummary,
    private readonly lookup: LookupStage,
    private readonly onWritten: () => void,
  ) {}

  private append(lines: ScoreLine[]): boolean {
    try {
      this.store.append(lines);
      return true;
    } catch (e) {
      this.fatal ??= e;
      return false;
    }
  }

  private keep(name: string, job: Job, lp: number): void {
    this.items.setLogprob(job.seq, name, lp);
  }

  private fail(name: string, job: Job, raw: string): void {
    this.summary.failure(this.items.indexOf(name), redact(raw));
    this.items.fail(job.seq);
  }

  /** A batch's results (or a render error's failure) under each of the group's names still missing. */
  results(g: RunGroup, jobs: Job[], results: SpanResult[]): void {
    const lines: ScoreLine[] = [];
    jobs.forEach((job, i) => {
      for (const name of g.names) {
        if (this.store.coversLine(job.key, job.line, name, job.record)) {
          // Written meanwhile (the same item answered twice): its number still counts in the summary.
          this.keep(name, job, this.store.logprobOf(job.key)!);
          continue;
        }
        const l = lineFor(g, name, job, results[i]);
        lines.push(l);
        if (l.error === null) {
          this.keep(name, job, l.logprob!);
          if (name === g.names[0]) this.summary.scored++;
          else this.summary.reused++;
          if (l.suspect) this.summary.suspect(this.items.indexOf(name), l);
        } else this.fail(name, job, l.error);
      }
    });
    if (!this.append(lines)) return;
    for (const job of jobs) {
      this.lookup.settled(job);
      this.items.finishGroup(job.seq);
    }
    this.onWritten();
  }

  /** A job the look-up stage settled without the backend: covered already, or copied from an earlier result. */
  looked(g: RunGroup, job: Job, found: Exclude<Lookup, { kind: 'send' }>, firstGroup: boolean, rec: { id: string; line: number }): boolean {
    const idx = (n: string) => this.items.indexOf(n);
    if (found.kind === 'covered') {
      for (const n of g.names) this.keep(n, job, found.logprob);
      if (found.suspect) for (const n of g.names) this.summary.suspect(idx(n), { suspect: ['kept as suspect in an earlier run'], span: null });
      this.summary.skipped += g.names.length;
    } else {
      const { from, missing, duplicateOf } = found;
      if (!this.append(copyLines(from, missing, job, duplicateOf))) return false;
      for (const n of g.names) this.keep(n, job, from.logprob!);
      if (from.suspect?.length) for (const n of g.names) this.summary.suspect(idx(n), from);
      if (duplicateOf !== undefined && firstGroup) this.summary.duplicate(rec, duplicateOf);
      this.summary.reused += missing.length;
      this.summary.skipped += g.names.length - missing.length;
    }
    this.items.finishGroup(job.seq);
    return true;
  }
}
