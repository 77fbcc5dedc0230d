import type { ScoreStore } from '../score-store';
import type { ScoreLine } from '../types';
import type { Job } from './render';

/** What the look-up stage decides for one job. */
export type Lookup =
  /** Every name has its line for this log line already (a resumed run): nothing to write, the numbers come from the index. */
  | { kind: 'covered'; logprob: number; suspect: boolean }
  /** Scored before, under an identical policy or for an earlier line with the same prompt and response: copy, never rescore. */
  | { kind: 'copy'; from: ScoreLine; missing: string[]; duplicateOf?: number }
  /** To the backend; duplicateOf: the same prompt and response is in flight for that line (sent again, written as a duplicate). */
  | { kind: 'send'; duplicateOf?: number };

/**
 * The look-up stage: resume (the store's index), identical fingerprints and
 * duplicate records (store.find), and duplicates of what is in flight. Only
 * keys in flight are held here, so it is as large as the queues.
 */
export class LookupStage {
  private readonly inFlight = new Map<string, { seq: number; line: number }>();

  constructor(private readonly store: ScoreStore) {}

  get pending(): number {
    return this.inFlight.size;
  }

  look(names: string[], job: Job): Lookup {
    const { store } = this;
    // Done means done for this log line under each name: a record repeating another's prompt and response has its own lines.
    const missing = names.filter((n) => !store.coversLine(job.key, job.line, n, job.record));
    if (!missing.length) return { kind: 'covered', logprob: store.logprobOf(job.key)!, suspect: store.isSuspect(job.key) };
    const from = store.find(job.key);
    if (from) return { kind: 'copy', from, missing, ...(from.line !== job.line ? { duplicateOf: from.line } : {}) };
    const first = this.inFlight.get(job.key);
    if (first === undefined) {
      this.inFlight.set(job.key, { seq: job.seq, line: job.line });
      return { kind: 'send' };
    }
    // Another sample of the same record with the same response is no duplicate record: it is sent, and kept, as its own item.
    return first.line === job.line ? { kind: 'send' } : { kind: 'send', duplicateOf: first.line };
  }

  /** The job's result is written (or failed): a later record with its key finds it in the store, or is sent anew. */
  settled(job: Job): void {
    if (this.inFlight.get(job.key)?.seq === job.seq) this.inFlight.delete(job.key);
  }
}
