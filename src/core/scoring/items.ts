import type { LogRecord } from '../types';

/**
 * A record (one item of the log: a line may hold several, contract of
 * multi-sample records) while some policy group has not finished with it.
 * Only open items are kept; a finished one is folded into the summary and
 * forgotten, so this table is as large as the queues let it be.
 */
export interface OpenItem {
  /** The item's number in the log (0-based, in reading order): the key, since several items may share a line. */
  seq: number;
  record: string;
  line: number;
  /** Groups still to finish. */
  open: number;
  /** Per policy (by index in the run's names): the log-prob kept this run or earlier; NaN = none. */
  logprobs: Float64Array;
  /** Per policy: the value the log itself stores for it; NaN = none. */
  logged: Float64Array;
  failed: boolean;
}

export class OpenItems {
  private readonly items = new Map<number, OpenItem>();
  private readonly index = new Map<string, number>();
  /** Items every group has finished with. */
  done = 0;
  /** Items with at least one failed policy. */
  failed = 0;

  constructor(
    readonly names: string[],
    private readonly behavior: string,
    private readonly onDone: (item: OpenItem) => void,
  ) {
    names.forEach((n, i) => this.index.set(n, i));
  }

  get size(): number {
    return this.items.size;
  }

  indexOf(name: string): number {
    return this.index.get(name)!;
  }

  open(seq: number, rec: LogRecord, groups: number): OpenItem {
    const item: OpenItem = {
      seq,
      record: rec.id,
      line: rec.line,
      open: groups,
      logprobs: new Float64Array(this.names.length).fill(NaN),
      logged: new Float64Array(this.names.length).fill(NaN),
      failed: false,
    };
    const b = this.index.get(this.behavior);
    // The behavior's logged value is base_policy_logprob; a target's, its entry in target_policy_logprobs.
    if (rec.baseLogprob != null && b !== undefined) item.logged[b] = rec.baseLogprob;
    for (const [name, v] of Object.entries(rec.targetLogprobs ?? {})) {
      const i = this.index.get(name);
      if (v != null && name !== this.behavior && i !== undefined) item.logged[i] = v;
    }
    this.items.set(seq, item);
    return item;
  }

  get(seq: number): OpenItem | undefined {
    return this.items.get(seq);
  }

  setLogprob(seq: number, name: string, lp: number): void {
    const item = this.items.get(seq);
    if (item) item.logprobs[this.index.get(name)!] = lp;
  }

  fail(seq: number): void {
    const item = this.items.get(seq);
    if (item && !item.failed) {
      item.failed = true;
      this.failed++;
    }
  }

  /** One group is done with the item; the last one folds it. */
  finishGroup(seq: number): void {
    const item = this.items.get(seq);
    if (!item) return;
    if (--item.open > 0) return;
    this.items.delete(seq);
    this.done++;
    this.onDone(item);
  }

  /** A run that stops early still counts what its open items got (their numbers are in the file). */
  foldOpen(): void {
    for (const item of this.items.values()) this.onDone(item);
    this.items.clear();
  }
}
