/**
 * The endpoint's noise floor and the identical-policy violations measured
 * against it (docs: /work/notes/doctor-contract.md, "How the report uses them").
 *
 * A target that must equal the behavior yet has |log w| > tolerance has two
 * different causes: a server that does not give the same log-prob twice, or a
 * scoring error. The floor is what the server was seen to do: the spread
 * (max − min) of one response's log-prob scored K times (`cje score --repeat`),
 * else the doctor's `noiseFloor` probe. A violation no larger than the floor
 * could be the server's nondeterminism; a larger one cannot.
 *
 * Pure math: no 'vscode', no I/O.
 */
import { quantileSorted } from './logged-vs-rescored';

/** Repeat scorings of one (record, policy). */
export interface RepeatSample {
  policy: string;
  record: string;
  line: number | null;
  logprobs: number[];
}

export interface RepeatSpread {
  policy: string;
  record: string;
  line: number | null;
  /** max − min of the finite log-probs (≥ 2 of them). */
  spread: number;
  /** How many finite values went into it. */
  k: number;
}

/** max − min of the finite values; null with fewer than 2. */
export function spreadOf(values: readonly number[]): { spread: number; k: number } | null {
  let lo = Infinity;
  let hi = -Infinity;
  let k = 0;
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    k++;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return k >= 2 ? { spread: hi - lo, k } : null;
}

export interface SpreadStats {
  n: number;
  median: number;
  mean: number;
  p95: number;
  max: number;
}

export function spreadStats(spreads: readonly number[]): SpreadStats | null {
  if (!spreads.length) return null;
  const s = Float64Array.from(spreads).sort();
  let sum = 0;
  for (const v of s) sum += v;
  return { n: s.length, median: quantileSorted(s, 0.5), mean: sum / s.length, p95: quantileSorted(s, 0.95), max: s[s.length - 1] };
}

/** A profile's part that the floor needs. */
export interface ProfileFloor {
  policies: string[];
  noiseFloor: number | null;
}

export type NoiseFloorSource = 'repeat' | 'endpoint_profile';

export interface NoiseFloor {
  /** Nats: the largest |Δ| of one response's total log-prob seen across repeats. */
  value: number;
  source: NoiseFloorSource;
  /** The policies whose measurements gave it (the target's and/or the behavior's). */
  policies: string[];
  /** Repeat measurements (records × policy) or profiles it was taken over. */
  n: number;
}

/**
 * The floor for a (target, behavior) pair: the largest repeat spread of either
 * policy when any exists (measured on the real data, so it wins over the probe);
 * else the largest non-null noiseFloor of the profiles that list either policy;
 * else null.
 */
export function noiseFloorFor(
  target: string,
  behavior: string,
  spreads: readonly RepeatSpread[],
  profiles: readonly ProfileFloor[],
): NoiseFloor | null {
  const pair = new Set([target, behavior]);
  let max = -Infinity;
  let n = 0;
  const from = new Set<string>();
  for (const s of spreads) {
    if (!pair.has(s.policy)) continue;
    n++;
    from.add(s.policy);
    if (s.spread > max) max = s.spread;
  }
  if (n > 0) return { value: max, source: 'repeat', policies: [...pair].filter((p) => from.has(p)), n };
  for (const p of profiles) {
    if (typeof p.noiseFloor !== 'number' || !Number.isFinite(p.noiseFloor)) continue;
    const hit = p.policies.filter((q) => pair.has(q));
    if (!hit.length) continue;
    n++;
    for (const q of hit) from.add(q);
    if (p.noiseFloor > max) max = p.noiseFloor;
  }
  if (n > 0) return { value: max, source: 'endpoint_profile', policies: [...pair].filter((p) => from.has(p)), n };
  return null;
}

/** Whether a violation's |log w| is within the floor; a non-finite log w never is; null without a floor. */
export function withinNoise(logWeight: number | null, floor: NoiseFloor | null): boolean | null {
  if (!floor) return null;
  if (logWeight === null || !Number.isFinite(logWeight)) return false;
  return Math.abs(logWeight) <= floor.value;
}
