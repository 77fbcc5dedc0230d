import { DEFAULT_IDENTICAL_TOLERANCE } from '../diagnostics/identical';
import type { LogIssue, LogRecord, ScoreLine } from '../types';
import { suspectKind } from '../suspect-kind';
import type { OpenItem } from './items';
import { CappedCounts, EssSum, FirstBySeq, QuantileSketch } from './streaming-stats';
import type { LoggedComparison, LoggedIdentical, NoiseFloor, PolicySummary, ScoreRunSummary } from './types';

/** What the summary keeps of one policy: sums and a bounded sketch, never a value per record. */
class PolicyAccumulator {
  scored = 0;
  sum = 0;
  failed = 0;
  readonly ess = new EssSum();
  suspect?: { count: number; approximate: number; reasons: Map<string, number> };
  /** |rescored − logged| where the log stores a value for this policy. */
  readonly logged: { n: number; over: number; maxAbs: number; abs: QuantileSketch; examples: FirstBySeq<LoggedComparison['examples'][number]> };
  /** Logged value vs the behavior's logged value, for a policy with the behavior's fingerprint. */
  readonly identical?: { n: number; differ: number; diffs: QuantileSketch; examples: FirstBySeq<LoggedIdentical['examples'][number]> };

  constructor(exampleLimit: number, checkIdentical: boolean) {
    this.logged = { n: 0, over: 0, maxAbs: 0, abs: new QuantileSketch(), examples: new FirstBySeq(exampleLimit) };
    if (checkIdentical) this.identical = { n: 0, differ: 0, diffs: new QuantileSketch(), examples: new FirstBySeq(exampleLimit) };
  }
}

export interface SummaryPolicy {
  name: string;
  fingerprint: string;
  sameAs: string[];
}

/**
 * The run's summary as accumulators: the stages feed counts as they go, and
 * every item folds its numbers in once all its groups are done. Memory is
 * O(policies): nothing here grows with the log.
 */
export class RunSummary {
  records = 0;
  badLines = 0;
  readonly issues: LogIssue[] = [];
  scored = 0;
  skipped = 0;
  reused = 0;
  failed = 0;
  readonly errors = new CappedCounts(100);
  readonly duplicates: ScoreRunSummary['duplicates'] = { count: 0, examples: [] };
  private readonly acc: PolicyAccumulator[];
  private readonly b: number;

  constructor(
    private readonly policies: SummaryPolicy[],
    private readonly behavior: string,
    private readonly tolerance: number,
    private readonly exampleLimit: number,
  ) {
    this.b = policies.findIndex((p) => p.name === behavior);
    this.acc = policies.map((p) => new PolicyAccumulator(exampleLimit, p.name !== behavior && p.sameAs.includes(behavior)));
  }

  issue(i: LogIssue): void {
    if (i.line > 0) this.badLines++;
    if (this.issues.length < 1000) this.issues.push(i);
  }

  duplicate(rec: Pick<LogRecord, 'id' | 'line'>, sameAs: number): void {
    this.duplicates.count++;
    if (this.duplicates.examples.length < this.exampleLimit) this.duplicates.examples.push({ line: rec.line, record: rec.id, sameAs });
  }

  suspect(index: number, l: Pick<ScoreLine, 'suspect' | 'span'>): void {
    const a = this.acc[index];
    const s = (a.suspect ??= { count: 0, approximate: 0, reasons: new Map() });
    s.count++;
    if (l.span?.approximate) s.approximate++;
    for (const r of l.suspect ?? []) {
      const kind = suspectKind(r);
      s.reasons.set(kind, (s.reasons.get(kind) ?? 0) + 1);
    }
  }

  failure(index: number, message: string): void {
    this.failed++;
    this.acc[index].failed++;
    this.errors.add(message);
  }

  /** An item's numbers, once: its log-probs, its log-weights against the behavior, its logged values. */
  fold(item: OpenItem): void {
    const lps = item.logprobs;
    const b = this.b;
    for (let i = 0; i < this.acc.length; i++) {
      const a = this.acc[i];
      const lp = lps[i];
      const has = !Number.isNaN(lp);
      if (has) {
        a.scored++;
        a.sum += lp;
        if (i !== b && b >= 0 && !Number.isNaN(lps[b])) a.ess.add(lp - lps[b]);
      }
      const logged = item.logged[i];
      if (has && !Number.isNaN(logged)) {
        const d = Math.abs(lp - logged);
        const lg = a.logged;
        lg.n++;
        lg.abs.add(d);
        if (d > lg.maxAbs) lg.maxAbs = d;
        if (d > this.tolerance) {
          lg.over++;
          lg.examples.offer(item.seq, { record: item.record, line: item.line, logged, rescored: lp });
        }
      }
      const li = a.identical;
      if (li && !Number.isNaN(logged) && !Number.isNaN(item.logged[b])) {
        const lb = item.logged[b];
        li.n++;
        // The report's tolerance, so that both count the same records.
        const d = Math.abs(logged - lb);
        if (d > DEFAULT_IDENTICAL_TOLERANCE) {
          li.differ++;
          li.diffs.add(d);
          li.examples.offer(item.seq, { record: item.record, line: item.line, logged, loggedBehavior: lb });
        }
      }
    }
  }

  /** Per policy, in the run's order; `floorOf` gives a policy's noise floor, known only at the end (--repeat). */
  perPolicy(floorOf: (name: string) => NoiseFloor | undefined): PolicySummary[] {
    return this.policies.map((p, i) => {
      const a = this.acc[i];
      const isBehavior = p.name === this.behavior;
      const summary: PolicySummary = {
        name: p.name,
        fingerprint: p.fingerprint,
        sameAs: p.sameAs,
        isBehavior,
        scored: a.scored,
        failed: a.failed,
        meanLogprob: a.scored ? a.sum / a.scored : null,
        essFraction: isBehavior ? null : a.ess.fraction,
      };
      const floor = floorOf(p.name);
      if (floor) summary.noiseFloor = floor;
      if (a.suspect) summary.suspect = { count: a.suspect.count, approximate: a.suspect.approximate, reasons: [...a.suspect.reasons].map(([reason, count]) => ({ reason, count })).sort((x, y) => y.count - x.count) };
      const lg = a.logged;
      if (lg.n) {
        summary.logged = {
          field: isBehavior ? 'base_policy_logprob' : `target_policy_logprobs.${p.name}`,
          n: lg.n,
          over: lg.over,
          tolerance: this.tolerance,
          medianAbs: lg.abs.median(),
          maxAbs: lg.maxAbs,
          examples: lg.examples.items,
        };
      }
      const li = a.identical;
      if (li?.n) {
        summary.loggedIdentical = { n: li.n, differ: li.differ, examples: li.examples.items };
        const within = floor ? li.diffs.countAtMost(floor.nats) : 0;
        if (within) summary.loggedIdentical.withinFloor = within;
      }
      return summary;
    });
  }
}
