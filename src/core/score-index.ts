// From a log's line to what its scores file says about that line: per policy
// the log-prob, why it is suspect, why it failed. Built by streaming the
// scores file once; it keeps a few numbers and short strings per score line
// (never the tokens), and stops keeping after `maxEntries` lines so that a
// huge scores file cannot fill the editor's memory.
import { isExtraLine } from './endpoint-profile';
import { readLines } from './jsonl-lines';
import { unpackScoreLine } from './score-line-form';
import { parseSampleId } from './sample-id';

export interface PolicyScore {
  policy: string;
  /** The record id the scores file names (compare with the log line's, which may have changed since). */
  record: string;
  /** null: scored, no number (or failed: see error). */
  logprob: number | null;
  suspect?: string[];
  /** Why the last try failed, when no try succeeded. */
  error?: string;
  /** The identical-fingerprint policy whose result was reused. */
  reusedFrom?: string;
}

export interface ScoreIndexOptions {
  /** Score lines kept at most; later lines are counted, not kept. */
  maxEntries?: number;
}

const MAX_TEXT = 300;
const MAX_REASONS = 5;

function short(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s;
}

export class ScoreIndex {
  /** Policies in the order the scores file first names them. */
  readonly policies: string[] = [];
  /** Score lines read. */
  lines = 0;
  /** Lines that are not score lines. */
  bad = 0;
  /** Score lines past maxEntries, not kept. */
  dropped = 0;
  private readonly byLine = new Map<number, Map<string, PolicyScore>>();
  private entries = 0;

  /** Bytes read so far: the scores file is append-only, so a refresh reads on from here. */
  bytes = 0;

  static async load(file: string, opts: ScoreIndexOptions = {}): Promise<ScoreIndex> {
    const ix = new ScoreIndex(opts.maxEntries ?? 500_000);
    await ix.readFrom(file);
    return ix;
  }

  private constructor(private readonly maxEntries: number) {}

  /**
   * Reads the lines appended since the last read (a run in progress). False
   * when the file got shorter: it was rewritten, and only a new load is right.
   */
  async refresh(file: string, size: number): Promise<boolean> {
    if (size < this.bytes) return false;
    if (size > this.bytes) await this.readFrom(file);
    return true;
  }

  private async readFrom(file: string): Promise<void> {
    for await (const l of readLines(file, { maxLineBytes: 256 * 1024 * 1024, start: this.bytes })) {
      // A line without its newline is still being written: read it on the next refresh.
      if (l.unterminated) break;
      this.bytes = l.offset + l.bytes + 1;
      if (l.text === undefined) {
        this.bad++;
        continue;
      }
      if (!l.text.trim()) continue;
      let v: Record<string, unknown>;
      try {
        // Any stored form; the index keeps no tokens, so their detail is not decoded.
        v = JSON.parse(l.text) as Record<string, unknown>;
        if (v && typeof v === 'object' && !isExtraLine(v)) v = unpackScoreLine(v, { tokens: false }) as unknown as Record<string, unknown>;
      } catch {
        this.bad++;
        continue;
      }
      // Endpoint profiles and repeat lines are not scores of a record.
      if (isExtraLine(v)) continue;
      if (!v || typeof v !== 'object' || typeof v.policy !== 'string' || typeof v.record !== 'string' || typeof v.line !== 'number') {
        this.bad++;
        continue;
      }
      this.lines++;
      this.add(v, this.maxEntries);
    }
  }

  private add(v: Record<string, unknown>, max: number): void {
    const policy = v.policy as string;
    const line = v.line as number;
    if (!this.policies.includes(policy)) this.policies.push(policy);
    let at = this.byLine.get(line);
    // Each sampled response of a line (RECORD#i) has its own score under each policy.
    const slot = parseSampleId(v.record as string) ? `${policy}\u0000${v.record as string}` : policy;
    const old = at?.get(slot);
    if (!old && this.entries >= max) {
      this.dropped++;
      return;
    }
    const ok = v.error === null || v.error === undefined;
    // The scores file is append-only: a later success replaces what came before; a failure never hides a success.
    if (!ok && old && old.error === undefined) return;
    const entry: PolicyScore = { policy, record: v.record as string, logprob: ok && typeof v.logprob === 'number' && Number.isFinite(v.logprob) ? v.logprob : null };
    if (!ok) entry.error = short(typeof v.error === 'string' ? v.error : JSON.stringify(v.error));
    if (ok && Array.isArray(v.suspect)) {
      const reasons = v.suspect.filter((r): r is string => typeof r === 'string' && r !== '');
      if (reasons.length) entry.suspect = reasons.slice(0, MAX_REASONS).map(short);
    }
    if (typeof v.reused_from === 'string') entry.reusedFrom = v.reused_from;
    if (!at) this.byLine.set(line, (at = new Map()));
    if (!old) this.entries++;
    at.set(slot, entry);
  }

  /** What the scores say about the log's line (1-based), in policy order (a line of sampled responses: each sample's, in order of appearance). */
  at(line: number): PolicyScore[] {
    const m = this.byLine.get(line);
    if (!m) return [];
    const order = new Map(this.policies.map((p, i) => [p, i]));
    return [...m.values()].sort((a, b) => order.get(a.policy)! - order.get(b.policy)!);
  }

  /** Log lines with at least one score. */
  get size(): number {
    return this.byLine.size;
  }
}

export interface WeightRow extends PolicyScore {
  isBehavior: boolean;
  /** log w = log π_target − log π_behavior; undefined for the behavior or where either number is missing. */
  logWeight?: number;
}

/**
 * The log-weights of one line's scores against the behavior policy. Scores
 * for another record than `recordId` (the log changed since it was scored)
 * are left out and named in `stale`.
 */
export function lineWeights(scores: PolicyScore[], behavior: string | undefined, recordId?: string): { rows: WeightRow[]; stale: PolicyScore[]; behaviorLogprob?: number } {
  const stale = recordId === undefined ? [] : scores.filter((s) => s.record !== recordId);
  const fresh = scores.filter((s) => !stale.includes(s));
  const b = behavior === undefined ? undefined : fresh.find((s) => s.policy === behavior);
  const base = b && b.logprob !== null ? b.logprob : undefined;
  const rows = fresh.map((s): WeightRow => {
    const isBehavior = s.policy === behavior;
    const row: WeightRow = { ...s, isBehavior };
    if (!isBehavior && base !== undefined && s.logprob !== null) row.logWeight = s.logprob - base;
    return row;
  });
  rows.sort((x, y) => Number(y.isBehavior) - Number(x.isBehavior));
  return { rows, stale, ...(base !== undefined ? { behaviorLogprob: base } : {}) };
}
