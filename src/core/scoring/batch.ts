import type { BoundedQueue } from './queue';

/**
 * The batch stage: takes a group's jobs off its queue in requests of the
 * scorer's batch size; only the last may be shorter (the queue closed).
 */
export class Batcher<T> {
  private carry: T[] = [];

  constructor(private readonly queue: BoundedQueue<T>) {}

  /** Up to n items: exactly n unless the queue is closed and drained; [] at the end. */
  async take(n: number): Promise<T[]> {
    while (this.carry.length < n) {
      const v = await this.queue.shift();
      if (v === undefined) break;
      this.carry.push(v);
    }
    return this.carry.splice(0, Math.max(1, n));
  }

  /** Items taken but not sent (the batch size shrank when the scorer started): they go first next time. */
  putBack(items: T[]): void {
    this.carry = [...items, ...this.carry];
  }

  /** Items held here rather than in the queue. */
  get held(): number {
    return this.carry.length;
  }
}
