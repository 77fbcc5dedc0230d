import type { PolicyReport } from './protocol';

// One format per quantity, used everywhere in the report:
//   log-weights and other differences of log-probs (nats): lw(), 3 decimals;
//   total log-probs: logprob(), 2 decimals; per-token log-probs and Δ: tokLp() / signed(), 4 decimals;
//   weights w = exp(log w): weight(), 4 significant digits;
//   estimates (judge-score scale): num(x, 3); k̂ and Hill α: num(x, 2); shares: pct(), 1 decimal.
// Values that the fixed decimals would show as 0 or as a run of digits switch to
// exponent form, so 1e-7 never reads as 0.000 and 7e+118 never as 118 digits.

export function num(x: number | null | undefined, digits = 3): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  return Math.abs(x) >= 1e6 ? x.toExponential(2) : x.toFixed(digits);
}

function fixedOrExp(x: number | null | undefined, digits: number): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  if (x === 0) return (0).toFixed(digits);
  const a = Math.abs(x);
  if (a < 0.5 * Math.pow(10, -digits) || a >= 1e5) return x.toExponential(2);
  return x.toFixed(digits);
}

/** A log-weight, or any difference of log-probs in nats (|Δ|, noise floors, spreads). */
export function lw(x: number | null | undefined): string {
  if (x === 0) return '0';
  return fixedOrExp(x, 3);
}

/** A total log-prob of a response. */
export function logprob(x: number | null | undefined): string {
  return fixedOrExp(x, 2);
}

/** A per-token log-prob. */
export function tokLp(x: number | null | undefined): string {
  return fixedOrExp(x, 4);
}

/** A per-token Δ with its sign. */
export function signed(x: number | null | undefined): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  const t = fixedOrExp(x, 4);
  return x > 0 ? '+' + t : t;
}

/** An importance weight w = exp(log w). */
export function weight(x: number | null | undefined): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  return x < 1e-3 || x >= 1e5 ? x.toExponential(3) : x.toPrecision(4);
}

export function pct(x: number | null | undefined, digits = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(digits)}%` : '—';
}

export function int(x: number): string {
  return x.toLocaleString('en-US');
}

export type Level = 'good' | 'warning' | 'critical' | 'neutral';

export const BAND_LABEL: Record<PolicyReport['khat_band'], string> = {
  reliable: 'reliable',
  more_samples_may_help: 'more samples may help',
  unreliable: 'unreliable',
  non_finite_mean: 'non-finite mean',
  constant_tail: 'constant tail',
  undefined: 'undefined',
};

export function bandLevel(b: PolicyReport['khat_band']): Level {
  switch (b) {
    case 'reliable':
    case 'constant_tail':
      return 'good';
    case 'more_samples_may_help':
      return 'warning';
    case 'unreliable':
    case 'non_finite_mean':
      return 'critical';
    default:
      return 'neutral';
  }
}

export function essLevel(g: PolicyReport['ess_grade']): Level {
  return g ?? 'neutral';
}

/** Fixed palette (colour-blind friendly, Okabe–Ito) for target policies. */
export const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#999999'];
export function policyColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** k̂ as text: ∞ when the fit failed (band non-finite mean, value not finite). */
export function khatText(p: PolicyReport): string {
  if (p.too_few_records) return 'too few records';
  if (p.khat === null) return p.khat_band === 'non_finite_mean' ? '∞' : '—';
  return num(p.khat, 2);
}
