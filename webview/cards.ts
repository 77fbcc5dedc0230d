// Summary card per target policy, and the identical-policy table.
import { el, type Child } from './dom';
import { BAND_LABEL, bandLevel, essLevel, int, khatText, lw as fmtLw, num, pct, policyColor, type Level } from './format';
import type { PolicyReport, ReportData, SuspectReason } from './protocol';

/** How many reason kinds a card lists; the rest are counted. */
const MAX_REASON_KINDS = 6;

function badge(level: Level, text: string, title?: string): HTMLElement {
  return el('vscode-badge', { class: `badge ${level}`, title }, text);
}

function metric(label: string, value: Child, extra?: Child, title?: string): HTMLElement {
  return el('div', { class: 'metric', title }, el('div', { class: 'm-label' }, label), el('div', { class: 'm-value' }, value), extra ? el('div', { class: 'm-extra' }, extra) : null);
}

function identityStatus(p: PolicyReport): { level: Level; text: string } {
  const id = p.identical;
  if (id.expected) {
    return id.violation_count === 0 ? { level: 'good', text: 'identical ✓' } : { level: 'critical', text: `${int(id.violation_count)} identity violations` };
  }
  if (id.probable) return { level: 'warning', text: `probably meant identical · ${int(id.violation_count)} differ` };
  return { level: 'neutral', text: 'not expected identical' };
}

export function policyCard(p: PolicyReport, index: number, data: ReportData): HTMLElement {
  const ident = identityStatus(p);
  const hill = p.hill_alpha === null ? '—' : num(p.hill_alpha, 2);
  const hillLevel: Level = p.hill_flags.infinite_mean ? 'critical' : p.hill_flags.infinite_variance ? 'warning' : p.hill_alpha === null ? 'neutral' : 'good';
  // A missing estimate gets a short badge; its reason is in the badge's tooltip.
  const hillNote = p.hill_flags.infinite_mean ? 'α < 1: infinite mean' : p.hill_flags.infinite_variance ? 'α < 2: infinite variance' : p.hill_reason ? 'not estimated' : '';
  // The card's edge shows the worst of its grades: a broken required identity is critical whatever the ESS.
  let edge: Level = p.identical.expected && p.identical.violation_count > 0 ? 'critical' : essLevel(p.ess_grade);
  // Weights on suspect scores make a good grade doubtful (older reports carry no suspect_weights).
  if (p.suspect_weights?.n && (edge === 'good' || edge === 'neutral')) edge = 'warning';
  const card = el(
    'article',
    { class: `card ${edge}`, attrs: { 'data-policy': p.name } },
    el(
      'header',
      null,
      el('span', { class: 'swatch' }),
      el('h3', null, p.name),
      el('span', { class: 'muted' }, ` vs ${data.meta.behavior.name}`),
      badge(ident.level, ident.text),
    ),
    el(
      'div',
      { class: 'metrics' },
      metric('ESS / n', pct(p.ess_fraction), badge(essLevel(p.ess_grade), p.ess_grade ?? 'n/a', 'good ≥ 30%, warning ≥ 10%, critical below'), `Kish ESS = ${num(p.ess, 1)} of n = ${p.n}`),
      metric('Pareto k̂', khatText(p), badge(bandLevel(p.khat_band), BAND_LABEL[p.khat_band]), p.khat_reason ?? p.khat_message),
      metric('Hill α', hill, hillNote ? badge(hillLevel, hillNote, p.hill_reason ?? undefined) : null, p.hill_k ? `Hill tail index from the top k = ${p.hill_k} weights` : p.hill_reason ?? ''),
      metric('max weight share', pct(p.max_weight_share), `top 1% (${p.top1pct_count}): ${pct(p.top1pct_share)}`, 'Share of Σw held by the largest weight, and by the largest 1%'),
      metric('n', int(p.n), p.n_records !== p.n ? `${int(p.n_records - p.n)} excluded (not finite)` : `PSIS ESS ${pct(p.psis_ess_fraction)}`),
      metric('max log w', fmtLw(p.max_log_weight), p.khat_threshold !== null ? `k̂ threshold ${num(p.khat_threshold, 2)}` : null),
    ),
  );
  (card.querySelector('.swatch') as HTMLElement).style.background = policyColor(index);
  if (p.estimates) {
    const e = p.estimates;
    const ci = (c: { lower: number; upper: number } | null) => (c ? ` [${num(c.lower, 3)}, ${num(c.upper, 3)}]` : '');
    card.appendChild(
      el(
        'div',
        { class: 'estimate', title: `${Math.round(e.level * 100)}% bootstrap intervals, B = ${e.bootstrap_b}` },
        el('span', { class: 'm-label' }, 'Estimate these weights imply: '),
        `IPS ${num(e.ips, 3)}${ci(e.ips_ci)} · SNIPS ${num(e.snips, 3)}${ci(e.snips_ci)} (n = ${e.n})`,
      ),
    );
  }
  if (p.logged_vs_rescored) {
    const l = p.logged_vs_rescored;
    card.appendChild(
      el('div', { class: 'estimate' }, el('span', { class: 'm-label' }, 'Logged vs rescored: '), `mean |Δ| ${num(l.mean_abs, 4)}, p95 ${num(l.p95_abs, 4)}, max ${num(l.max_abs, 4)}; ${l.over_tolerance} of ${l.n} over ${l.tolerance}`),
    );
  }
  if (p.nonfinite.total > 0) {
    card.appendChild(el('div', { class: 'estimate warn' }, `${p.nonfinite.total} records excluded: null ${p.nonfinite.null}, NaN ${p.nonfinite.nan}, +∞ ${p.nonfinite.pos_inf}, −∞ ${p.nonfinite.neg_inf}`));
  }
  if (p.score_errors > 0) card.appendChild(el('div', { class: 'estimate warn' }, `${p.score_errors} records failed to score`));
  const sw = suspectWarning(p, data);
  if (sw) card.appendChild(sw);
  const unchecked = (p.unchecked ?? 0) + (data.meta.behavior.unchecked ?? 0);
  if (unchecked > 0) {
    card.appendChild(
      el(
        'div',
        { class: 'estimate muted', title: 'Lines without a "checks" field were written by a cje score from before the answer checks: their spans and numbers were not checked. Score again to check them.' },
        `Unchecked: ${int(p.unchecked ?? 0)} scores of ${p.name} and ${int(data.meta.behavior.unchecked ?? 0)} of ${data.meta.behavior.name} predate the answer checks (score again to check them)`,
      ),
    );
  }
  return card;
}

function reasonList(reasons: SuspectReason[]): HTMLElement {
  const ul = el('ul', { class: 'suspect-reasons' });
  for (const r of reasons.slice(0, MAX_REASON_KINDS)) {
    ul.appendChild(el('li', { title: `e.g. ${r.example}` }, el('span', { class: 'reason-count' }, `${int(r.count)} ×`), ' ', r.kind));
  }
  const more = reasons.length - MAX_REASON_KINDS;
  if (more > 0) ul.appendChild(el('li', { class: 'muted' }, `and ${more} more kind${more === 1 ? '' : 's'} of reason (see the JSON report)`));
  return ul;
}

/** The card's warning about weights that rest on suspect scores (null when none do). */
export function suspectWarning(p: PolicyReport, data: ReportData): HTMLElement | null {
  const w = p.suspect_weights;
  if (!w || w.n === 0) return null;
  const b = data.meta.behavior.name;
  const sides = [w.behavior ? `${int(w.behavior)} on ${b}’s (behavior) score` : '', w.target ? `${int(w.target)} on ${p.name}’s` : ''].filter(Boolean).join(', ');
  return el(
    'div',
    { class: 'suspect-warn', attrs: { role: 'note', 'data-policy': p.name } },
    el('div', { class: 'suspect-head' }, `⚠ ${int(w.n)} of the ${int(p.n)} weights rest on suspect scores (${int(w.approximate)} approximate)`),
    el('div', { class: 'suspect-sides' }, `${sides}. Filter the records table by “with a suspect score” to see them.`),
    reasonList(w.reasons),
  );
}

/** The identical-policy section: every target that must (or probably should) equal the behavior. */
export function identicalSection(data: ReportData, onPick: (line: number | null, record: string) => void): HTMLElement {
  const box = el('div', { class: 'identical' });
  const relevant = data.policies.filter((p) => p.identical.expected || p.identical.probable);
  if (!relevant.length) {
    box.appendChild(
      el('p', { class: 'muted' }, 'No target is expected to equal the behavior policy (no shared fingerprint, no --identical), and none matches it on most records.'),
    );
    return box;
  }
  const summary = el(
    'table',
    { class: 'ident-summary' },
    el('thead', null, el('tr', null, ...['target', 'why expected', 'matching records', 'violations', 'largest |log w|'].map((h) => el('th', null, h)))),
  );
  const tbody = el('tbody');
  for (const p of relevant) {
    const id = p.identical;
    const why = id.expected
      ? id.source === 'flag'
        ? '--identical'
        : id.source === 'config-fingerprint'
          ? 'same fingerprint (config)'
          : 'same fingerprint (scores)'
      : `probably: equal on ${pct(id.match_fraction)} of records`;
    let maxAbs = 0;
    for (const v of id.violations) if (v.log_weight !== null) maxAbs = Math.max(maxAbs, Math.abs(v.log_weight));
    tbody.appendChild(
      el(
        'tr',
        { attrs: { 'data-policy': p.name } },
        el('td', null, p.name),
        el('td', null, why),
        el('td', { class: 'num' }, pct(id.match_fraction)),
        el('td', { class: `num ${id.violation_count ? 'bad' : 'ok'}` }, id.violation_count ? int(id.violation_count) : '0 ✓'),
        el('td', { class: 'num' }, id.violation_count ? fmtLw(maxAbs) : '—'),
      ),
    );
  }
  summary.appendChild(tbody);
  box.appendChild(summary);

  for (const p of relevant) {
    const id = p.identical;
    if (!id.violation_count) continue;
    const list = el(
      'table',
      { class: 'violations', attrs: { 'data-policy': p.name } },
      el('thead', null, el('tr', null, el('th', null, 'record'), el('th', null, 'line'), el('th', { class: 'num' }, 'log w'), el('th', { class: 'num' }, 'w'))),
    );
    const body = el('tbody');
    const sorted = [...id.violations].sort((a, b) => Math.abs(b.log_weight ?? Infinity) - Math.abs(a.log_weight ?? Infinity));
    for (const v of sorted) {
      const tr = el(
        'tr',
        { class: 'pick', title: 'Show this record' },
        el('td', null, v.record),
        el('td', { class: 'num' }, v.line === null ? '—' : String(v.line)),
        el('td', { class: 'num' }, v.log_weight === null ? 'not finite' : v.log_weight.toPrecision(6)),
        el('td', { class: 'num' }, v.log_weight === null ? '—' : Math.exp(v.log_weight).toPrecision(4)),
      );
      tr.addEventListener('click', () => onPick(v.line, v.record));
      body.appendChild(tr);
    }
    list.appendChild(body);
    const more = id.violation_count > id.violations.length ? ` (the first ${id.violations.length} listed)` : '';
    const details = el('vscode-collapsible', { class: 'ident-details', attrs: { 'data-policy': p.name } }, el('div', { class: 'scrollbox' }, list));
    details.heading = p.name;
    details.description = `${int(id.violation_count)} records with |log w| > ${id.tolerance}${more}, largest first`;
    details.open = true;
    if (id.causes.length) {
      details.appendChild(el('div', { class: 'causes' }, el('div', { class: 'm-label' }, 'What usually causes this'), el('ul', null, ...id.causes.map((c) => el('li', null, c)))));
    }
    box.appendChild(details);
  }
  return box;
}
