import type { ScoreProgress } from './types';

/** The run's progress events: whole items (every group done), the failed ones, the rate, tokens sent. */
export class Progress {
  approxTokens = 0;
  private readonly t0 = Date.now();

  constructor(
    private readonly onProgress: ((p: ScoreProgress) => void) | undefined,
    /** The log's line count: the total until the end, less the bad lines seen so far. */
    private readonly lines: number,
  ) {}

  emit(c: { done: number; failed: number; records: number; badLines: number }, final = false): void {
    this.onProgress?.({
      done: c.done,
      total: final ? c.records : Math.max(this.lines - c.badLines, c.records),
      failed: c.failed,
      rate: c.done / Math.max(1e-3, (Date.now() - this.t0) / 1000),
      approxTokens: this.approxTokens,
    });
  }
}
