/**
 * A bounded async FIFO between two stages: push() waits while the queue is
 * full, so a slow consumer holds its producer and the records open at once
 * stay bounded, however long the log.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private head = 0;
  private closed = false;
  private readonly takers: (() => void)[] = [];
  private readonly givers: (() => void)[] = [];

  /** May grow while the run goes (a scorer that turns out to keep more requests in flight). */
  constructor(public capacity: number) {
    if (!(capacity >= 1)) throw new Error(`queue capacity must be at least 1, not ${capacity}`);
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Adds `item` once there is room; false (and nothing added) when the queue is closed or closes meanwhile. */
  async push(item: T): Promise<boolean> {
    while (!this.closed && this.length >= this.capacity) await new Promise<void>((r) => this.givers.push(r));
    if (this.closed) return false;
    this.items.push(item);
    this.takers.shift()?.();
    return true;
  }

  /** The next item; undefined once the queue is closed and empty. */
  async shift(): Promise<T | undefined> {
    while (!this.length && !this.closed) await new Promise<void>((r) => this.takers.push(r));
    if (!this.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T;
    // Compacted now and then, so the array does not keep every item ever pushed.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    this.givers.shift()?.();
    return item;
  }

  /** No more items: consumers drain what is left, producers get false. */
  close(): void {
    this.closed = true;
    for (const r of this.takers.splice(0)) r();
    for (const r of this.givers.splice(0)) r();
  }

  /** Closes and drops what is queued (a cancelled or failed run sends nothing more). */
  abort(): void {
    this.items.length = 0;
    this.head = 0;
    this.close();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (let v = await this.shift(); v !== undefined; v = await this.shift()) yield v;
  }
}
