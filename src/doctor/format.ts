import type { EndpointProfile, ProbeName } from '../core/endpoint-profile';

const LABELS: [ProbeName, string][] = [
  ['echo', 'echo returns the prompt'],
  ['maxTokens', 'smallest max_tokens'],
  ['promptLogprobs', 'prompt log-probs'],
  ['firstTokenNull', 'first token null'],
  ['offsetUnit', 'text_offset unit'],
  ['listPrompts', 'list prompts'],
  ['tokenIdPrompts', 'token-id prompts'],
  ['topLogprobsLimit', 'top_logprobs limit'],
  ['clampSentinel', '-9999 clamp seen'],
  ['addsBos', 'adds BOS to text'],
  ['doubleBos', 'double BOS'],
  ['deterministic', 'deterministic'],
  ['noiseFloor', 'noise floor / response'],
  ['noiseFloorToken', 'noise floor / token'],
  ['batchInvariant', 'batch invariant'],
  ['prefixCacheConsistent', 'prefix cache consistent'],
  ['templateSanity', 'template sanity'],
];

const show = (v: unknown) => (v === null || v === undefined ? '?' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(3)) : String(v));

/** The doctor's answer for a terminal: per endpoint a verdict table, then blockers and warnings. */
export function formatDoctor(endpoints: EndpointProfile[]): string {
  const out: string[] = [];
  for (const e of endpoints) {
    out.push(`${e.provider} ${e.baseURL || '(no URL)'} · model ${e.model} · policies ${e.policies.join(', ')}`);
    const w = Math.max(...LABELS.map(([, l]) => l.length));
    for (const [k, label] of LABELS) {
      const why = e.reasons[k];
      out.push(`  ${label.padEnd(w)}  ${show(e.probes[k]).padEnd(9)}${why ? ' ' + why : ''}`);
    }
    if (e.sanity) for (const [p, lp] of Object.entries(e.sanity)) out.push(`  ${('  ' + p).padEnd(w)}  ${lp === null ? '?' : lp.toFixed(2)} log p("4" | "What is 2+2?")`);
    for (const b of e.blockers) out.push(`  BLOCKER: ${b}`);
    for (const x of e.warnings) out.push(`  warning: ${x}`);
    out.push('');
  }
  const blocked = endpoints.filter((e) => e.blockers.length).length;
  out.push(blocked ? `${blocked} of ${endpoints.length} endpoint(s) cannot be scored as configured.` : `${endpoints.length} endpoint(s) can teacher-force.`);
  return out.join('\n') + '\n';
}
