import type { RepeatLine } from '../endpoint-profile';
import type { ScoreStore } from '../score-store';
import { batchSizeOf, type RunGroup } from './groups';
import type { Job } from './render';
import type { NoiseFloor } from './types';

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * --repeat: a uniform sample of each group's records (Algorithm R: every
 * record seen so far is in it with the same chance), scored K more times at
 * the end to measure the endpoint's noise on real data. The sample is
 * bounded (`size` jobs a group), whatever the log's length.
 */
export class RepeatSample {
  private readonly reservoirs = new Map<RunGroup, Job[]>();
  private rng: number;
  /** Per fingerprint: the spread (max − min) of each sampled record's log-probs. */
  readonly spreads = new Map<string, number[]>();

  constructor(
    readonly k: number,
    readonly size: number,
    seed = 0x9e3779b9,
  ) {
    this.rng = seed | 0 || 1;
  }

  /** The group's sample so far. */
  sampleOf(g: RunGroup): readonly Job[] {
    return this.reservoirs.get(g) ?? [];
  }

  private random(): number {
    this.rng ^= this.rng << 13;
    this.rng ^= this.rng >>> 17;
    this.rng ^= this.rng << 5;
    return (this.rng >>> 0) / 2 ** 32;
  }

  /** Offers the job of the `seen`-th record (1-based) of the log. */
  offer(g: RunGroup, job: Job, seen: number): void {
    let r = this.reservoirs.get(g);
    if (!r) this.reservoirs.set(g, (r = []));
    if (r.length < this.size) r.push(job);
    else {
      const j = Math.floor(this.random() * seen);
      if (j < this.size) r[j] = job;
    }
  }

  /** Scores the group's sample K more times and writes a repeat line per record (those measured before are left). */
  async run(g: RunGroup, store: ScoreStore, ready: (g: RunGroup) => Promise<void>, signal?: AbortSignal): Promise<void> {
    const todo = (this.reservoirs.get(g) ?? []).filter((j) => store.logprobOf(j.key) !== undefined && !store.hasRepeat(j.key, g.names[0]));
    const values = todo.map((j) => [store.logprobOf(j.key)!]);
    if (todo.length) await ready(g);
    for (let round = 0; round < this.k && todo.length; round++) {
      // Stepped by what was sent: a batch may change the scorer's batch size (lists refused) under the loop.
      for (let i = 0, chunk: Job[] = []; i < todo.length; i += chunk.length) {
        if (signal?.aborted) return;
        chunk = todo.slice(i, i + batchSizeOf(g));
        const res = await g.scorer!.scoreBatch(chunk.map((j) => ({ rendered: j.rendered, endOfTurn: g.spec.endOfTurn })), signal);
        res.forEach((r, k) => r.ok && values[i + k].push(r.value.logprob));
      }
    }
    const lines: RepeatLine[] = [];
    todo.forEach((j, i) => {
      if (values[i].length < 2) return;
      lines.push({ kind: 'repeat', policy: g.names[0], fingerprint: g.fingerprint, record: j.record, line: j.line, key: j.key, logprobs: values[i] });
    });
    store.appendExtra(lines);
    const spreads = lines.map((l) => Math.max(...l.logprobs) - Math.min(...l.logprobs));
    if (spreads.length) this.spreads.set(g.fingerprint, spreads);
  }
}

/** A group's noise floor: from --repeat on the log's own records, else from the newest probe that measured one. */
export function noiseFloor(g: RunGroup, store: ScoreStore, repeat?: RepeatSample): NoiseFloor | undefined {
  const spreads = repeat?.spreads.get(g.fingerprint);
  if (spreads?.length) return { nats: Math.max(...spreads), source: 'repeat', records: spreads.length, medianSpread: median(spreads), k: repeat!.k };
  const p = [...store.profiles].reverse().find((e) => e.probes.noiseFloor !== null && e.policies.includes(g.names[0]));
  return p ? { nats: p.probes.noiseFloor!, source: 'probe' } : undefined;
}
