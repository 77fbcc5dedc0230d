// Replicas of one model (vLLM data-parallel servers, worker processes) behind
// a policy's baseURL list. Each request goes to the replica with the least
// work outstanding (prompt tokens in flight, approximately): a slow replica,
// or one given a long prompt, gets less. A replica that fails (no connection,
// 5xx) is marked down and skipped for a while, doubling each time it fails
// again (1 s, 2 s, 4 s … 30 s); once that time is over it gets requests again,
// and the first that succeeds brings it back for good.

export interface Replica<C> {
  readonly url: string;
  readonly client: C;
  readonly index: number;
  /** Work (approximate prompt tokens) sent and not yet answered. */
  outstanding: number;
  inFlight: number;
  /** Answers received (successes). */
  served: number;
  /** Failures in a row. */
  failures: number;
  /** Skipped until then (ms since the epoch); 0 when up. */
  downUntil: number;
}

export interface ReplicaPoolOptions {
  /** First time out after a failure, in ms (default 1000). */
  baseDownMs?: number;
  /** Longest time out (default 30 s). */
  maxDownMs?: number;
  now?: () => number;
}

export class ReplicaPool<C> {
  readonly replicas: Replica<C>[];
  private readonly baseDownMs: number;
  private readonly maxDownMs: number;
  private readonly now: () => number;

  constructor(items: { url: string; client: C }[], opts: ReplicaPoolOptions = {}) {
    if (!items.length) throw new Error('a replica pool needs at least one replica');
    this.replicas = items.map((it, index) => ({ ...it, index, outstanding: 0, inFlight: 0, served: 0, failures: 0, downUntil: 0 }));
    this.baseDownMs = opts.baseDownMs ?? 1000;
    this.maxDownMs = opts.maxDownMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.replicas.length;
  }

  isUp(r: Replica<C>): boolean {
    return r.downUntil <= this.now();
  }

  /** How many replicas take requests now. */
  get upCount(): number {
    return this.replicas.filter((r) => this.isUp(r)).length;
  }

  /**
   * The replica for the next request, `work` added to its outstanding work.
   * Prefers replicas that are up and not in `tried` (this request's failed ones);
   * when every one is down, the one that comes back first (a probe); among
   * equals the least loaded, then the one that served least, then list order.
   */
  pick(work: number, tried?: ReadonlySet<Replica<C>>): Replica<C> {
    const fresh = tried?.size ? this.replicas.filter((r) => !tried.has(r)) : this.replicas;
    const pool = fresh.length ? fresh : this.replicas;
    const up = pool.filter((r) => this.isUp(r));
    const best = up.length
      ? up.reduce((a, b) => (b.outstanding < a.outstanding || (b.outstanding === a.outstanding && b.served < a.served) ? b : a))
      : pool.reduce((a, b) => (b.downUntil < a.downUntil ? b : a));
    best.outstanding += work;
    best.inFlight++;
    return best;
  }

  /** The request sent to `r` with `work` is over (whatever its outcome). */
  release(r: Replica<C>, work: number): void {
    r.outstanding = Math.max(0, r.outstanding - work);
    r.inFlight = Math.max(0, r.inFlight - 1);
  }

  succeeded(r: Replica<C>): void {
    r.served++;
    r.failures = 0;
    r.downUntil = 0;
  }

  /** Marks `r` down: 1 s after its first failure in a row, doubling up to the cap. */
  failed(r: Replica<C>): void {
    r.failures++;
    r.downUntil = this.now() + Math.min(this.maxDownMs, this.baseDownMs * 2 ** (r.failures - 1));
  }

  /** Whether a replica other than those in `tried` is up now. */
  hasUpOtherThan(tried: ReadonlySet<Replica<C>>): boolean {
    return this.replicas.some((r) => !tried.has(r) && this.isUp(r));
  }
}
