/**
 * The JSON-able form of the overlap diagnostics of one target policy, as the
 * report, the panel and `cje report --json` carry them (`hellinger_affinity`
 * and `ttc`: value, status, thresholds and CJE's reading).
 */
import {
  HELLINGER_READING,
  HELLINGER_THRESHOLDS,
  type HellingerStatus,
  type LengthNormalizer,
  TTC_READING,
  TTC_TARGET_TYPICAL_MASS,
  TTC_THRESHOLDS,
  type TtcStatus,
  chooseLengths,
  gradeHellinger,
  gradeTtc,
  hellingerAffinity,
  targetTypicalityCoverage,
} from './overlap';

export interface HellingerReport {
  /** E[√w] of the mean-one weights (null when no weight is finite). */
  value: number | null;
  /** null when value is null or there are too few records to grade. */
  status: HellingerStatus | null;
  /** Lower bound of each grade; below `poor` is catastrophic. */
  thresholds: typeof HELLINGER_THRESHOLDS;
  /** CJE's reading of the status (or why there is none). */
  reading: string;
}

export interface TtcReport {
  /** Share of the logged records in the target-typical region T (null when no weight is finite). */
  value: number | null;
  status: TtcStatus | null;
  /** Lower bound of each grade; below `warning` is critical. */
  thresholds: typeof TTC_THRESHOLDS;
  /** The target mass T holds (CJE's target_typical_mass). */
  target_typical_mass: number;
  /** What the surprisal was divided by: the target's response tokens, the response's characters (code points), or nothing. */
  length_normalizer: LengthNormalizer;
  /** Records in T, and the target's mass on them (CJE's α). */
  n_in_region: number;
  target_mass_in_region: number | null;
  reading: string;
}

export interface OverlapReport {
  hellinger_affinity: HellingerReport;
  ttc: TtcReport;
}

const TOO_FEW = 'Too few records to grade (see too_few_records).';
const NONE = 'No finite weights.';

/**
 * Both diagnostics of the finite log-weights `logWeights` (entry j belongs to
 * input record index[j]); `targetLogprobs` and the lengths are by input record.
 */
export function overlapDiagnostics(
  logWeights: Float64Array,
  index: ArrayLike<number>,
  targetLogprobs: ArrayLike<number | null>,
  lengths: { tokens?: ArrayLike<number | null | undefined>; chars?: ArrayLike<number | null | undefined> } | undefined,
  tooFew: boolean,
): OverlapReport {
  const n = logWeights.length;
  const a = hellingerAffinity(logWeights);
  const aStatus = tooFew ? null : gradeHellinger(a);
  const tlp = new Float64Array(n);
  for (let j = 0; j < n; j++) tlp[j] = targetLogprobs[index[j]] as number;
  const { unit, lengths: len } = chooseLengths(index, [
    { unit: 'tokens', values: lengths?.tokens },
    { unit: 'chars', values: lengths?.chars },
  ]);
  const t = targetTypicalityCoverage(logWeights, tlp, len);
  const tStatus = tooFew ? null : gradeTtc(t.ttc);
  return {
    hellinger_affinity: {
      value: Number.isFinite(a) ? a : null,
      status: aStatus,
      thresholds: HELLINGER_THRESHOLDS,
      reading: aStatus ? HELLINGER_READING[aStatus] : n === 0 ? NONE : TOO_FEW,
    },
    ttc: {
      value: Number.isFinite(t.ttc) ? t.ttc : null,
      status: tStatus,
      thresholds: TTC_THRESHOLDS,
      target_typical_mass: TTC_TARGET_TYPICAL_MASS,
      length_normalizer: unit,
      n_in_region: t.inRegion,
      target_mass_in_region: Number.isFinite(t.alpha) ? t.alpha : null,
      reading:
        (tStatus ? TTC_READING[tStatus] : n === 0 ? NONE : TOO_FEW) +
        (unit === 'none' && n > 0 ? ' Surprisal is the total, not per token: no response lengths were known (CJE set its 0.7 gate for the per-token form).' : ''),
    },
  };
}
