// Adaptive concurrency for one backend: how many requests may be in flight
// now. AIMD, as TCP does it: start at the ceiling (the policy's concurrency ×
// replicas), halve on a 429 or when latency rises well above the best seen (3×)
// (requests queue in the server instead of running), grow back by one per
// window of answers while neither happens. At most one halving per window:
// the answers to requests sent before a halving say nothing about the new limit.
// Retry-After and x-ratelimit-* hints pause new requests for the whole backend
// (the limit is the account's or the server's, not one request's).

import type { RateLimitHints } from './rate-limit-headers';

export interface AdaptiveLimitOptions {
  /** The most requests ever in flight. */
  ceiling: number;
  /** Where to start (default: the ceiling: nothing is known to be wrong yet). */
  initial?: number;
  /** Never below this (default 1). */
  floor?: number;
  /** Latency above this many times the best seen counts as rising (default 3)… */
  latencyTolerance?: number;
  /** …and above the best by at least this much, in ms (default 50). */
  latencyMarginMs?: number;
  /** The longest pause a hint may impose, in ms (default 60 s). */
  maxPauseMs?: number;
  now?: () => number;
}

export type Outcome =
  | { kind: 'ok'; latencyMs: number }
  | { kind: 'rate-limited' }
  /** The request failed for a reason that says nothing about load (a replica down, a bad answer). */
  | { kind: 'failed' }
  | { kind: 'cancelled' };

export interface Permit {
  /** Gives the slot back, with what the request found. Once. */
  done(outcome: Outcome): void;
}

export interface AdaptiveLimitStats {
  limit: number;
  ceiling: number;
  inFlight: number;
  rateLimited: number;
  decreases: number;
  lowest: number;
  highest: number;
}

/** Rejects with the signal's reason at once when it aborts; never leaves a listener behind. */
function abortable<T>(signal: AbortSignal | undefined, run: (settle: (v: T) => void) => () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let cleanup = () => {};
    const onAbort = () => {
      cleanup();
      reject(signal!.reason);
    };
    cleanup = run((v) => {
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class AdaptiveLimit {
  private value: number;
  private readonly floor: number;
  private ceilingValue: number;
  private inFlight = 0;
  private readonly waiters: (() => void)[] = [];
  private pausedUntil = 0;
  private pauseTimer: NodeJS.Timeout | undefined;
  /** Requests the server said it still takes before `budgetUntil`. */
  private budget = Infinity;
  private budgetUntil = 0;
  /** Sequence number of requests: answers to those sent before the last halving are not counted. */
  private started = 0;
  private halvedAt = 0;
  private best = Infinity;
  private recent: number | undefined;
  private readonly tolerance: number;
  private readonly marginMs: number;
  private readonly maxPauseMs: number;
  private readonly now: () => number;
  private readonly counts = { rateLimited: 0, decreases: 0 };
  private lowest: number;
  private highest: number;

  constructor(opts: AdaptiveLimitOptions) {
    this.ceilingValue = Math.max(1, Math.floor(opts.ceiling));
    this.floor = Math.max(1, Math.min(opts.floor ?? 1, this.ceilingValue));
    this.value = Math.min(this.ceilingValue, Math.max(this.floor, opts.initial ?? this.ceilingValue));
    this.tolerance = opts.latencyTolerance ?? 3;
    this.marginMs = opts.latencyMarginMs ?? 50;
    this.maxPauseMs = opts.maxPauseMs ?? 60_000;
    this.now = opts.now ?? Date.now;
    this.lowest = this.highest = this.limit;
  }

  /** Requests allowed in flight now. */
  get limit(): number {
    return Math.max(this.floor, Math.min(this.ceilingValue, Math.floor(this.value)));
  }

  get ceiling(): number {
    return this.ceilingValue;
  }

  /** A new ceiling (replicas went down or came back); the limit follows it down, not up. */
  set ceiling(n: number) {
    this.ceilingValue = Math.max(1, Math.floor(n));
    this.value = Math.min(this.value, this.ceilingValue);
    this.wake();
  }

  get stats(): AdaptiveLimitStats {
    return { limit: this.limit, ceiling: this.ceilingValue, inFlight: this.inFlight, ...this.counts, lowest: this.lowest, highest: this.highest };
  }

  /** Waits (cancellably) for a free slot, a pause the server asked for, and the server's request budget. */
  async acquire(signal?: AbortSignal): Promise<Permit> {
    while (!this.free()) {
      await abortable<void>(signal, (settle) => {
        this.waiters.push(settle);
        // A pause keeps the process alive only while someone waits it out.
        this.pauseTimer?.ref();
        return () => {
          const i = this.waiters.indexOf(settle);
          if (i >= 0) this.waiters.splice(i, 1);
          if (!this.waiters.length) this.pauseTimer?.unref();
        };
      });
    }
    this.inFlight++;
    if (this.budget !== Infinity) this.budget--;
    const seq = ++this.started;
    let open = true;
    return {
      done: (o) => {
        if (!open) return;
        open = false;
        this.inFlight--;
        this.settle(seq, o);
        this.wake();
      },
    };
  }

  /** Acts on what an answer's headers say about the server's limit. */
  observe(h: RateLimitHints): void {
    const now = this.now();
    if (h.retryAfterMs !== undefined) this.pause(h.retryAfterMs);
    if (h.remainingRequests !== undefined) {
      const until = now + Math.min(h.resetRequestsMs ?? 1000, this.maxPauseMs);
      // The newest answer knows best; requests still in flight will take from it too.
      this.budget = Math.max(0, h.remainingRequests - this.inFlight);
      this.budgetUntil = until;
      if (this.budget === 0) this.pauseUntil(until);
    }
    if (h.overLimit) this.overLimitAt = this.started;
  }

  /** Sequence number of the last request that found the server over its limit (no growth until later ones answer). */
  private overLimitAt = 0;

  private free(): boolean {
    const now = this.now();
    if (now < this.pausedUntil) {
      this.pauseUntil(this.pausedUntil);
      return false;
    }
    if (this.budget !== Infinity && now >= this.budgetUntil) this.budget = Infinity;
    if (this.budget <= 0) {
      this.pauseUntil(this.budgetUntil);
      return false;
    }
    return this.inFlight < this.limit;
  }

  private pause(ms: number): void {
    this.pauseUntil(this.now() + Math.min(Math.max(0, ms), this.maxPauseMs));
  }

  private pauseUntil(t: number): void {
    if (t > this.pausedUntil) this.pausedUntil = t;
    // Timers and the wall clock do not agree to the millisecond: a timer that fired a little early
    // leaves the pause on, and must be armed again, or its waiters would wait for ever.
    if (this.pauseTimer && this.timerAt >= this.pausedUntil) return;
    if (this.pauseTimer) clearTimeout(this.pauseTimer);
    this.timerAt = this.pausedUntil;
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined;
      this.wake();
    }, Math.max(1, this.pausedUntil - this.now() + 1));
    // Held (ref'd) only while requests wait on it: a finished run must not linger for a pause nobody needs.
    if (!this.waiters.length) this.pauseTimer.unref();
  }

  private timerAt = 0;

  private settle(seq: number, o: Outcome): void {
    if (o.kind === 'rate-limited') {
      this.counts.rateLimited++;
      this.decrease(seq);
      return;
    }
    if (o.kind !== 'ok') return;
    const lat = o.latencyMs;
    // A slow average (weight 0.1): a few late answers (a busy client, a GC pause) are not a trend.
    this.recent = this.recent === undefined ? lat : this.recent * 0.9 + lat * 0.1;
    if (lat < this.best) this.best = lat;
    // Both a ratio and a margin: a 10 ms loopback answer jittering to 30 ms on a busy client is noise,
    // a server whose answers went from 200 ms to 800 ms is queueing them. Batching servers (vLLM) get
    // slower per request as they fill while their throughput still grows, hence a tolerance well above 1.
    if (this.recent > this.best * this.tolerance && this.recent - this.best > this.marginMs) {
      if (this.decrease(seq)) {
        // The best latency may have been a lucky one: let it drift up so one fast answer does not pin the limit low.
        this.best = Math.min(this.recent, this.best * 1.5);
        this.recent = undefined;
      }
      return;
    }
    if (seq > this.overLimitAt && seq > this.halvedAt) this.value = Math.min(this.ceilingValue, this.value + 1 / Math.max(1, this.value));
    this.highest = Math.max(this.highest, this.limit);
  }

  /** Halves the limit unless this request was sent before the last halving; says whether it did. */
  private decrease(seq: number): boolean {
    if (seq <= this.halvedAt) return false;
    this.halvedAt = this.started;
    this.value = Math.max(this.floor, this.value / 2);
    this.counts.decreases++;
    this.lowest = Math.min(this.lowest, this.limit);
    return true;
  }

  private wake(): void {
    // Everyone re-checks; those that still do not fit queue again.
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A wait that an abort ends at once, leaving no listener behind. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return abortable<void>(signal, (settle) => {
    const t = setTimeout(() => settle(), ms);
    return () => clearTimeout(t);
  });
}
