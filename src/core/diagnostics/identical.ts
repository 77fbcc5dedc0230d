/**
 * Identical-policy checks.
 *  - expected identical (same scoring fingerprint as the behavior policy):
 *    every record must have |log w| ≤ tol; the records that break it are listed.
 *  - probably meant to be identical: a target whose log-probs equal the
 *    behavior's (|Δ| ≤ tol) on most records (≥ minMatchFraction of them) —
 *    reported with the records where they do not.
 * Records where either log-prob is not finite count as not matching.
 */
import { nonFiniteKind } from './weights';

export const DEFAULT_IDENTICAL_TOLERANCE = 1e-6;
export const DEFAULT_PROBABLE_FRACTION = 0.5;

export interface IdenticalViolation {
  /** Record id (or index as a string when no ids were given). */
  record: string;
  /** logp′ − logp₀, or null when it is not a finite number. */
  log_weight: number | null;
}

export interface IdenticalCheck {
  expected: boolean;
  /** True when not expected but the log-probs match on ≥ minMatchFraction of records. */
  probable: boolean;
  tolerance: number;
  /** Records compared (all of them, finite or not). */
  n: number;
  /** Records with both log-probs finite and |Δ| ≤ tol. */
  matching: number;
  /** matching / n (NaN when n = 0). */
  match_fraction: number;
  /** When expected: it held on every record. */
  passed: boolean | null;
  /** The records that break identity (when expected or probable; else empty), at most maxListed. */
  violations: IdenticalViolation[];
  /** Total count of such records (violations may be truncated). */
  violation_count: number;
  /** Largest |log w| among finite records (NaN when none). */
  max_abs_log_weight: number;
}

export interface IdenticalOptions {
  expected: boolean;
  tolerance?: number;
  minMatchFraction?: number;
  records?: ArrayLike<string>;
  maxListed?: number;
}

export function identicalPolicyCheck(
  behaviorLogprobs: ArrayLike<number | null | undefined>,
  targetLogprobs: ArrayLike<number | null | undefined>,
  options: IdenticalOptions,
): IdenticalCheck {
  const tol = options.tolerance ?? DEFAULT_IDENTICAL_TOLERANCE;
  const minFrac = options.minMatchFraction ?? DEFAULT_PROBABLE_FRACTION;
  const maxListed = options.maxListed ?? 1000;
  const n = behaviorLogprobs.length;
  if (targetLogprobs.length !== n) throw new RangeError('identicalPolicyCheck: arrays differ in length');
  let matching = 0;
  let maxAbs = NaN;
  const bad: number[] = [];
  for (let i = 0; i < n; i++) {
    const b = behaviorLogprobs[i];
    const t = targetLogprobs[i];
    if (nonFiniteKind(b) === null && nonFiniteKind(t) === null) {
      const d = (t as number) - (b as number);
      const a = Math.abs(d);
      if (Number.isNaN(maxAbs) || a > maxAbs) maxAbs = a;
      if (a <= tol) {
        matching++;
        continue;
      }
    }
    bad.push(i);
  }
  const frac = n === 0 ? NaN : matching / n;
  const probable = !options.expected && n > 0 && frac >= minFrac;
  const list = options.expected || probable;
  const violations: IdenticalViolation[] = [];
  if (list) {
    for (const i of bad) {
      if (violations.length >= maxListed) break;
      const b = behaviorLogprobs[i];
      const t = targetLogprobs[i];
      const d = nonFiniteKind(b) === null && nonFiniteKind(t) === null ? (t as number) - (b as number) : NaN;
      violations.push({
        record: options.records ? String(options.records[i]) : String(i),
        log_weight: Number.isFinite(d) ? d : null,
      });
    }
  }
  return {
    expected: options.expected,
    probable,
    tolerance: tol,
    n,
    matching,
    match_fraction: frac,
    passed: options.expected ? bad.length === 0 : null,
    violations,
    violation_count: list ? bad.length : 0,
    max_abs_log_weight: maxAbs,
  };
}
