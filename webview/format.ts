import type { PolicyReport } from './protocol';

export function num(x: number | null | undefined, digits = 3): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  // Weights can be astronomically large: 7.28e+118, not 118 digits.
  return Math.abs(x) >= 1e6 ? x.toExponential(2) : x.toFixed(digits);
}

/** A log-weight: small values in exponent form so 1e-7 is not shown as 0.000. */
export function lw(x: number | null | undefined): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '—';
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e5) return x.toExponential(2);
  return x.toFixed(a < 10 ? 4 : 2);
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
  if (p.khat === null) return p.khat_band === 'non_finite_mean' ? '∞' : '—';
  return num(p.khat, 2);
}
