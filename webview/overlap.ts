// CJE 0.3's overlap diagnostics on a policy card: the badge level, label and the
// tooltip with CJE's reading, its thresholds and where they come from.
import { num, pct, type Level } from './format';
import type { PolicyReport } from './protocol';

type Hellinger = PolicyReport['hellinger_affinity'];
type Ttc = PolicyReport['ttc'];

const SOURCE = 'CJE 0.3 (cje-eval 0.3.*, cje/diagnostics/overlap.py and gates.py)';

export function hellingerLevel(h: Hellinger): Level {
  switch (h.status) {
    case 'good':
      return 'good';
    case 'marginal':
    case 'poor':
      return 'warning';
    case 'catastrophic':
      return 'critical';
    default:
      return 'neutral';
  }
}

export function hellingerTitle(h: Hellinger): string {
  const t = h.thresholds;
  return (
    `Hellinger affinity (Bhattacharyya coefficient) E[√w] of the mean-one weights: 1 when the policies coincide, near 0 when they put their mass in different places. ` +
    `Structural: weight calibration cannot raise it. ${h.reading}\n` +
    `Grades: good ≥ ${num(t.good, 2)}, marginal ≥ ${num(t.marginal, 2)}, poor ≥ ${num(t.poor, 2)}, catastrophic below. ${SOURCE}.`
  );
}

export function ttcLevel(t: Ttc): Level {
  return t.status ?? 'neutral';
}

export function ttcLabel(t: Ttc): string {
  return t.status === 'warning' ? 'marginal' : t.status === 'critical' ? 'poor' : (t.status ?? 'n/a');
}

export function ttcTitle(t: Ttc): string {
  const per = t.length_normalizer === 'tokens' ? 'per target token' : t.length_normalizer === 'chars' ? 'per character of the response' : 'in total (no response lengths known)';
  return (
    `Target-typicality coverage: the share of the logged records (${t.n_in_region} here) in T, the records of lowest surprisal under the target (${per}) that hold ` +
    `${pct(t.target_typical_mass, 0)} of the target's mass (here ${pct(t.target_mass_in_region)}). Low TTC: the logger rarely produces what the target wants. ${t.reading}\n` +
    `Gates: good ≥ ${num(t.thresholds.good, 2)}, marginal ≥ ${num(t.thresholds.warning, 2)}, poor below. ${SOURCE}.`
  );
}
