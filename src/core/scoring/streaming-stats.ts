/**
 * Summaries of a stream in memory that does not grow with it: the run
 * summary is made of these, so that a million records cost what ten do.
 */

/**
 * Kish's effective sample size (Σw)² / Σw² of w = exp(log w), summed as the
 * log-weights arrive: the sums are kept relative to the largest log-weight
 * seen so far and rescaled when a larger one comes, so exp() never overflows.
 */
export class EssSum {
  /** Pairs offered, finite or not (a fraction is null only when there were none). */
  offered = 0;
  /** Finite log-weights summed. */
  n = 0;
  private max = -Infinity;
  private s1 = 0;
  private s2 = 0;

  add(logWeight: number): void {
    this.offered++;
    if (!Number.isFinite(logWeight)) return;
    this.n++;
    if (logWeight > this.max) {
      const r = Math.exp(this.max - logWeight);
      this.s1 *= r;
      this.s2 *= r * r;
      this.max = logWeight;
    }
    const e = Math.exp(logWeight - this.max);
    this.s1 += e;
    this.s2 += e * e;
  }

  get ess(): number {
    return this.n ? (this.s1 * this.s1) / this.s2 : 0;
  }

  /** ess / n: null with nothing offered, NaN when nothing offered was finite (as kishEss). */
  get fraction(): number | null {
    if (!this.offered) return null;
    return this.n ? this.ess / this.n : NaN;
  }
}

/**
 * Quantiles and counts of non-negative values: exact while at most `exact`
 * values have come (a small run's median is the true one), then a
 * relative-error sketch in the manner of DDSketch (Masson et al., VLDB 2019):
 * values fall in logarithmic buckets (γ^(k−1), γ^k] with γ = (1+α)/(1−α), so
 * any quantile is within a relative error α of a value of the stream. With
 * α = 0.5 % the buckets between 1e-12 and 1e6 nats number at most 4,150.
 */
export class QuantileSketch {
  private values: Float64Array | undefined;
  private count = 0;
  private zeros = 0;
  private readonly buckets = new Map<number, number>();
  private readonly logGamma: number;
  private readonly gamma: number;

  constructor(
    private readonly exact = 4096,
    readonly alpha = 0.005,
  ) {
    this.gamma = (1 + alpha) / (1 - alpha);
    this.logGamma = Math.log(this.gamma);
    this.values = new Float64Array(Math.min(exact, 64));
  }

  get n(): number {
    return this.count;
  }

  /** Whether every answer is exact (no more than `exact` values so far). */
  get isExact(): boolean {
    return this.values !== undefined;
  }

  add(x: number): void {
    if (!(x >= 0)) return;
    if (this.values) {
      if (this.count < this.exact) {
        if (this.count === this.values.length) {
          const v = new Float64Array(Math.min(this.exact, this.values.length * 2));
          v.set(this.values);
          this.values = v;
        }
        this.values[this.count++] = x;
        return;
      }
      const kept = this.values;
      this.values = undefined;
      for (let i = 0; i < this.count; i++) this.bucket(kept[i]);
    }
    this.count++;
    this.bucket(x);
  }

  private bucket(x: number): void {
    if (x < 1e-300) {
      this.zeros++;
      return;
    }
    const k = Math.ceil(Math.log(x) / this.logGamma);
    this.buckets.set(k, (this.buckets.get(k) ?? 0) + 1);
  }

  private sortedBuckets(): [number, number][] {
    return [...this.buckets].sort((a, b) => a[0] - b[0]);
  }

  /** The value of rank `r` (0-based) in sorted order. */
  private rank(r: number, sorted: [number, number][]): number {
    if (r < this.zeros) return 0;
    let seen = this.zeros;
    for (const [k, c] of sorted) {
      seen += c;
      if (r < seen) return (2 * this.gamma ** k) / (this.gamma + 1);
    }
    return NaN;
  }

  /** The median (mean of the middle two for an even count); NaN when empty. */
  median(): number {
    const n = this.count;
    if (!n) return NaN;
    if (this.values) {
      const s = this.values.slice(0, n).sort();
      const m = n >> 1;
      return n % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
    }
    const sorted = this.sortedBuckets();
    const m = n >> 1;
    return n % 2 ? this.rank(m, sorted) : (this.rank(m - 1, sorted) + this.rank(m, sorted)) / 2;
  }

  /** How many values are at most `x` (in sketch mode, values within α of x may fall either side). */
  countAtMost(x: number): number {
    if (this.values) {
      let c = 0;
      for (let i = 0; i < this.count; i++) if (this.values[i] <= x) c++;
      return c;
    }
    let c = x >= 0 ? this.zeros : 0;
    for (const [k, n] of this.buckets) if ((2 * this.gamma ** k) / (this.gamma + 1) <= x) c += n;
    return c;
  }
}

/** The first `limit` items of a stream in the order of their sequence number, whatever order they arrive in. */
export class FirstBySeq<T> {
  private readonly kept: { seq: number; item: T }[] = [];
  constructor(readonly limit: number) {}

  offer(seq: number, item: T): void {
    if (this.limit <= 0) return;
    if (this.kept.length >= this.limit && seq > this.kept[this.kept.length - 1].seq) return;
    let i = this.kept.length;
    while (i > 0 && this.kept[i - 1].seq > seq) i--;
    this.kept.splice(i, 0, { seq, item });
    if (this.kept.length > this.limit) this.kept.pop();
  }

  get items(): T[] {
    return this.kept.map((k) => k.item);
  }
}

/**
 * Counts by message, for at most `limit` distinct messages (error texts can
 * name a record each): later new messages are counted together under one entry.
 */
export class CappedCounts {
  private readonly counts = new Map<string, number>();
  private otherCount = 0;
  constructor(readonly limit = 100) {}

  add(message: string): void {
    const c = this.counts.get(message);
    if (c !== undefined) this.counts.set(message, c + 1);
    else if (this.counts.size < this.limit) this.counts.set(message, 1);
    else this.otherCount++;
  }

  /** Most frequent first; messages past the limit as one `(N other messages)` entry. */
  list(): { message: string; count: number }[] {
    const out = [...this.counts].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count);
    if (this.otherCount) out.push({ message: `(${this.otherCount} more errors, with messages not kept: only the first ${this.limit} distinct messages are)`, count: this.otherCount });
    return out;
  }
}
