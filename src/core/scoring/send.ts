import type { SpanResult } from '../span';
import type { Batcher } from './batch';
import { batchSizeOf, inFlightOf, type RunGroup } from './groups';
import type { Job } from './render';

/** A counting semaphore: how many batches of a group are in flight. */
export class Slots {
  active = 0;
  private readonly waiters: (() => void)[] = [];
  constructor(public limit: number) {}

  async acquire(): Promise<void> {
    while (this.active >= this.limit) await new Promise<void>((r) => this.waiters.push(r));
    this.active++;
  }

  release(): void {
    this.active--;
    this.waiters.shift()?.();
  }
}

/** One request: the scorer's results, or (a request that threw) a failure for each job; undefined when the run was cancelled meanwhile. */
export async function scoreBatch(g: RunGroup, batch: Job[], signal?: AbortSignal): Promise<SpanResult[] | undefined> {
  try {
    return await g.scorer!.scoreBatch(
      batch.map((j) => ({ rendered: j.rendered, endOfTurn: g.spec.endOfTurn })),
      signal,
    );
  } catch (e) {
    // A batch that could not be scored fails its own records, never the run.
    if (signal?.aborted) return undefined;
    const error = `scoring failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 500);
    return batch.map(() => ({ ok: false as const, error }));
  }
}

export interface SendContext {
  /** Makes the group's scorer and probes its endpoint (once); throws when the endpoint is blocked. */
  ready: (g: RunGroup) => Promise<void>;
  signal?: AbortSignal;
  /** True once the run is stopping (cancelled, or a fatal error elsewhere): nothing more is sent. */
  stopping: () => boolean;
  write: (g: RunGroup, jobs: Job[], results: SpanResult[]) => void;
  /** The group's scorer is ready (its in-flight ceiling is known now). */
  started?: (g: RunGroup) => void;
  /** Every batch in flight, so that a run that stops still waits for them (and keeps what they bring). */
  inflight: Set<Promise<void>>;
}

/**
 * The send stage for one group: batches off its queue, at most the group's
 * in-flight ceiling at once; returns when the queue is drained (or the run
 * stops) and its last batch has been written.
 */
export async function sendGroup(g: RunGroup, batcher: Batcher<Job>, ctx: SendContext): Promise<void> {
  let slots: Slots | undefined;
  const mine = new Set<Promise<void>>();
  try {
    for (;;) {
      let batch: Job[];
      if (!slots) {
        batch = await batcher.take(batchSizeOf(g));
        if (!batch.length || ctx.stopping()) break;
        // The scorer is made at the group's first send, so a rerun with nothing left starts no worker and asks no server.
        await ctx.ready(g);
        slots = new Slots(inFlightOf(g));
        ctx.started?.(g);
        await slots.acquire();
        const size = batchSizeOf(g);
        if (batch.length > size) {
          batcher.putBack(batch.slice(size));
          batch = batch.slice(0, size);
        }
      } else {
        // The slot first, then the batch: the size is read after the batches before it answered (lists refused → 1).
        await slots.acquire();
        batch = ctx.stopping() ? [] : await batcher.take(batchSizeOf(g));
        if (!batch.length) {
          slots.release();
          break;
        }
      }
      if (ctx.stopping()) {
        slots.release();
        break;
      }
      const s = slots;
      const p: Promise<void> = scoreBatch(g, batch, ctx.signal)
        .then((results) => {
          if (results) ctx.write(g, batch, results);
        })
        .finally(() => {
          s.release();
          ctx.inflight.delete(p);
          mine.delete(p);
        });
      ctx.inflight.add(p);
      mine.add(p);
    }
  } finally {
    await Promise.allSettled([...mine]);
  }
}
