// Summary card per target policy, and the identical-policy table.
import { histogramChart } from './charts';
import { el, type Child } from './dom';
import { BAND_LABEL, bandLevel, essLevel, int, khatText, lw as fmtLw, num, pct, policyColor, weight, type Level } from './format';
import type { PolicyReport, ReportData, SuspectReason } from './protocol';
import { hellingerLevel, hellingerTitle, ttcLabel, ttcLevel, ttcTitle } from './overlap';

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
  const loggedDiffer = id.logged?.differ ?? 0;
  if (id.expected) {
    if (id.violation_count > 0) return { level: 'critical', text: `${int(id.violation_count)} identity violations` };
    // Rescored weights are 1, but the log's own are not: both are identity checks.
    if (loggedDiffer > 0) return { level: 'warning', text: `rescored identical ✓ · logged: ${int(loggedDiffer)} differ` };
    return { level: 'good', text: 'identical ✓' };
  }
  if (id.probable) return { level: 'warning', text: `probably meant identical · ${int(id.violation_count)} differ` };
  return { level: 'neutral', text: 'not expected identical' };
}

/** A warning box on a card or the page: a heading line and details, in the warning colour. */
export function warnBox(cls: string, head: Child, ...details: Child[]): HTMLElement {
  return el('div', { class: `warn-box ${cls}`, attrs: { role: 'note' } }, el('div', { class: 'warn-head' }, head), ...details.map((d) => (d === null || d === undefined || d === false ? null : el('div', { class: 'warn-detail' }, d))));
}

/** Short form of why Hill α was not estimated ("needs n ≥ 50 weights (have 30)"). */
function hillWhy(reason: string | null): string {
  if (!reason) return '';
  return reason.replace(/^Hill estimate /, '').replace(/\.$/, '');
}

export function policyCard(p: PolicyReport, index: number, data: ReportData): HTMLElement {
  const ident = identityStatus(p);
  const tooFew = p.too_few_records === true;
  const hill = p.hill_alpha === null ? '—' : num(p.hill_alpha, 2);
  const hillLevel: Level = p.hill_flags.infinite_mean ? 'critical' : p.hill_flags.infinite_variance ? 'warning' : p.hill_alpha === null ? 'neutral' : 'good';
  const hillNote = p.hill_flags.infinite_mean ? 'α < 1: infinite mean' : p.hill_flags.infinite_variance ? 'α < 2: infinite variance' : '';
  // The card's edge shows the worst of its grades: a broken required identity is critical whatever the ESS.
  let edge: Level = p.identical.expected && p.identical.violation_count > 0 ? 'critical' : tooFew ? 'neutral' : essLevel(p.ess_grade);
  // Weights on suspect scores, or a log whose own identical weights are not 1, make a good grade doubtful.
  if ((p.suspect_weights?.n || p.identical.logged?.differ) && (edge === 'good' || edge === 'neutral')) edge = 'warning';
  const tooFewTitle = `Only ${p.n} finite weights: below ${p.min_records} records PSIS has fewer than 5 tail draws to fit k̂, and no grade of these weights means anything yet (Vehtari et al. 2024).`;
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
      metric(
        'ESS / n',
        pct(p.ess_fraction),
        tooFew ? badge('neutral', 'too few records', tooFewTitle) : badge(essLevel(p.ess_grade), p.ess_grade ?? 'n/a', 'good ≥ 30%, warning ≥ 10%, critical below'),
        `Kish ESS = ${num(p.ess, 1)} of n = ${p.n}`,
      ),
      metric(
        'Pareto k̂',
        khatText(p),
        tooFew
          ? `n = ${int(p.n)} < ${p.min_records}`
          : el('span', null, badge(bandLevel(p.khat_band), BAND_LABEL[p.khat_band]), p.khat_threshold !== null ? ` threshold ${num(p.khat_threshold, 2)}` : ''),
        tooFew ? tooFewTitle : p.khat_reason ?? p.khat_message,
      ),
      metric('Hellinger affinity', num(p.hellinger_affinity.value, 3), badge(hellingerLevel(p.hellinger_affinity), tooFew ? 'too few records' : p.hellinger_affinity.status ?? 'n/a'), hellingerTitle(p.hellinger_affinity)),
      metric('TTC', num(p.ttc.value, 3), badge(ttcLevel(p.ttc), tooFew ? 'too few records' : ttcLabel(p.ttc)), ttcTitle(p.ttc)),
      metric(
        'Hill α',
        hill,
        hillNote ? badge(hillLevel, hillNote, p.hill_reason ?? undefined) : p.hill_alpha === null ? el('span', { class: 'reason' }, `not estimated: ${hillWhy(p.hill_reason) || 'no reason given'}`) : null,
        p.hill_k ? `Hill tail index from the top k = ${p.hill_k} weights` : p.hill_reason ?? '',
      ),
      metric('max weight share', pct(p.max_weight_share), `top 1% (${int(p.top1pct_count)}): ${pct(p.top1pct_share)}`, 'Share of Σw held by the largest weight, and by the largest 1%'),
      metric('n', int(p.n), p.n_records !== p.n ? `${int(p.n_records - p.n)} excluded (not finite)` : `PSIS ESS ${pct(p.psis_ess_fraction)}`),
      metric('max log w', fmtLw(p.max_log_weight), p.max_log_weight !== null ? `w = ${weight(Math.exp(p.max_log_weight))}` : null),
    ),
  );
  if (tooFew) card.classList.add('too-few');
  (card.querySelector('.swatch') as HTMLElement).style.background = policyColor(index);
  if (p.estimates) {
    const e = p.estimates;
    const ci = (c: { lower: number; upper: number } | null) => (c ? ` [${num(c.lower, 3)}, ${num(c.upper, 3)}]` : '');
    const jr = data.meta.judge_range;
    const out = p.ips_outside_judge_range && jr;
    card.appendChild(
      el(
        'div',
        { class: 'estimate', title: `${Math.round(e.level * 100)}% bootstrap intervals, B = ${e.bootstrap_b}` },
        el('span', { class: 'm-label' }, 'Estimate these weights imply: '),
        `IPS ${num(e.ips, 3)}${ci(e.ips_ci)}`,
        out
          ? el(
              'span',
              { class: 'ips-caution', title: 'IPS divides Σ w·y by n, not by Σ w: when the weights do not average 1 it leaves the scale of the scores. SNIPS (self-normalised) stays inside it.' },
              ` ⚠ outside the judge scores’ range [${num(jr.min, 3)}, ${num(jr.max, 3)}]`,
            )
          : null,
        ` · SNIPS ${num(e.snips, 3)}${ci(e.snips_ci)} (n = ${e.n})`,
      ),
    );
  }
  if (p.logged_vs_rescored) {
    const l = p.logged_vs_rescored;
    if (l.over_tolerance > 0) {
      const box = warnBox('lvr-warn', `⚠ Logged ≠ rescored on ${int(l.over_tolerance)} of ${int(l.n)} records (median |Δ| ${fmtLw(l.median_abs ?? null)} nats)`);
      box.title = `The log's ${p.name} log-probs against the rescored ones: mean |Δ| ${fmtLw(l.mean_abs)}, p95 ${fmtLw(l.p95_abs)}, max ${fmtLw(l.max_abs)} nats; tolerance ${l.tolerance}. Weights made from the logged values are not these weights.`;
      card.appendChild(box);
    } else {
      card.appendChild(el('div', { class: 'estimate muted' }, `Logged vs rescored: all ${int(l.n)} within ${l.tolerance} nats (max |Δ| ${fmtLw(l.max_abs)})`));
    }
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

/** The page-level warning: the log's stored log-probs are not the rescored ones (null when they agree or the log has none). */
export function loggedVsRescoredWarning(data: ReportData): HTMLElement | null {
  const rows = [
    { name: `${data.meta.behavior.name} (behavior)`, l: data.meta.behavior.logged_vs_rescored },
    ...data.policies.map((p) => ({ name: p.name, l: p.logged_vs_rescored })),
  ].filter((r) => r.l && r.l.over_tolerance > 0);
  if (!rows.length) return null;
  const table = el(
    'table',
    { class: 'lvr-table' },
    el('thead', null, el('tr', null, ...['policy', 'over tolerance', 'median |Δ|', 'max |Δ|'].map((h, k) => el('th', { class: k ? 'num' : undefined }, h)))),
    el(
      'tbody',
      null,
      ...rows.map((r) =>
        el('tr', null, el('td', null, r.name), el('td', { class: 'num' }, `${int(r.l!.over_tolerance)} of ${int(r.l!.n)}`), el('td', { class: 'num' }, fmtLw(r.l!.median_abs ?? null)), el('td', { class: 'num' }, fmtLw(r.l!.max_abs))),
      ),
    ),
  );
  return warnBox(
    'page-warn lvr-page',
    '⚠ Log-probs stored in the log disagree with the rescored ones',
    'Log-probs recorded from a chat API, another template or another model are not the teacher-forced log-prob of this flat prompt; weights that mix the two are wrong. This report uses the rescored values for every policy (nats, tolerance ' + String(rows[0].l!.tolerance) + ').',
    table,
  );
}

function whyExpected(p: PolicyReport): string {
  const id = p.identical;
  if (!id.expected) return `probably: equal on ${pct(id.match_fraction)} of records`;
  return id.source === 'flag' ? '--identical' : id.source === 'config-fingerprint' ? 'same fingerprint (config)' : 'same fingerprint (scores)';
}

function floorText(p: PolicyReport): string {
  const f = p.identical.noise_floor;
  if (!f) return 'not measured';
  return `${fmtLw(f.value)} (${f.source === 'repeat' ? `repeats, ${int(f.n)}` : 'endpoint probe'})`;
}

export interface IdenticalSectionView {
  root: HTMLElement;
  /** Draws the repeat-spread histograms once laid out. */
  drawCharts(): void;
}

/** The identical-policy section: every target that must (or probably should) equal the behavior, rescored and as logged, against the endpoint's noise floor. */
export function identicalSection(data: ReportData, onPick: (line: number | null, record: string) => void): IdenticalSectionView {
  const box = el('div', { class: 'identical' });
  const view: IdenticalSectionView = { root: box, drawCharts: () => undefined };
  const relevant = data.policies.filter((p) => p.identical.expected || p.identical.probable);
  if (!relevant.length) {
    box.appendChild(
      el('p', { class: 'muted' }, 'No target is expected to equal the behavior policy (no shared fingerprint, no --identical), and none matches it on most records.'),
    );
  } else {
    const summary = el(
      'table',
      { class: 'ident-summary' },
      el(
        'thead',
        null,
        el('tr', null, ...['target', 'why expected', 'log-probs', 'matching records', 'violations', 'largest |log w|', 'noise floor (nats)'].map((h, k) => el('th', { class: k >= 3 ? 'num' : undefined }, h))),
      ),
    );
    const tbody = el('tbody');
    for (const p of relevant) {
      const id = p.identical;
      let maxAbs = 0;
      for (const v of id.violations) if (v.log_weight !== null) maxAbs = Math.max(maxAbs, Math.abs(v.log_weight));
      const nv = id.violation_count;
      tbody.appendChild(
        el(
          'tr',
          { attrs: { 'data-policy': p.name, 'data-check': 'rescored' } },
          el('td', null, p.name),
          el('td', null, whyExpected(p)),
          el('td', null, 'rescored (cje score)'),
          el('td', { class: 'num' }, pct(id.match_fraction)),
          el('td', { class: `num ${nv ? (id.noise_floor && id.beyond_noise === 0 ? 'noise' : 'bad') : 'ok'}` }, nv ? int(nv) : '0 ✓'),
          el('td', { class: 'num' }, nv ? fmtLw(maxAbs) : '—'),
          el('td', { class: 'num' }, floorText(p)),
        ),
      );
      const lg = id.logged;
      if (lg) {
        tbody.appendChild(
          el(
            'tr',
            { attrs: { 'data-policy': p.name, 'data-check': 'logged' } },
            el('td', null, p.name),
            el('td', null, whyExpected(p)),
            el('td', null, 'logged (in the log)'),
            el('td', { class: 'num' }, lg.n ? pct((lg.n - lg.differ) / lg.n) : '—'),
            el('td', { class: `num ${lg.differ ? 'bad' : 'ok'}` }, lg.differ ? `${int(lg.differ)} of ${int(lg.n)}` : '0 ✓'),
            el('td', { class: 'num' }, lg.differ ? fmtLw(lg.max_abs) : '—'),
            el('td', { class: 'num muted', title: 'The noise floor was measured on the scoring endpoint, not on whatever wrote the log' }, '—'),
          ),
        );
      }
    }
    summary.appendChild(tbody);
    box.appendChild(summary);

    for (const p of relevant) {
      const id = p.identical;
      if (id.noise_verdict) {
        const cls = !id.noise_floor ? 'noise-hint muted' : id.beyond_noise > 0 ? 'noise-verdict bad' : 'noise-verdict noise';
        box.appendChild(el('p', { class: cls, attrs: { 'data-policy': p.name } }, el('strong', null, `${p.name}: `), id.noise_verdict));
      }
      if (id.logged?.differ) {
        box.appendChild(
          warnBox(
            'logged-ident',
            `⚠ ${p.name} ${id.expected ? 'has the behavior’s scoring fingerprint' : 'is probably meant to equal the behavior'}, yet the log stores a different log-prob for it than for ${data.meta.behavior.name} on ${int(id.logged.differ)} of ${int(id.logged.n)} records: the logged weights of an identical policy are not 1.`,
          ),
        );
      }
    }

    for (const p of relevant) {
      const id = p.identical;
      if (id.violation_count) box.appendChild(violationList(p, onPick));
      if (id.logged?.differ) box.appendChild(loggedList(p, data, onPick));
    }
  }
  const endpoints = endpointsSection(data);
  if (endpoints) box.appendChild(endpoints);
  const repeats = repeatsSection(data);
  if (repeats) {
    box.appendChild(repeats.root);
    view.drawCharts = repeats.drawCharts;
  }
  return view;
}

function violationList(p: PolicyReport, onPick: (line: number | null, record: string) => void): HTMLElement {
  const id = p.identical;
  const floor = id.noise_floor;
  const list = el(
    'table',
    { class: 'violations', attrs: { 'data-policy': p.name } },
    el(
      'thead',
      null,
      el('tr', null, el('th', null, 'record'), el('th', null, 'line'), el('th', { class: 'num' }, 'log w'), el('th', { class: 'num' }, 'w'), floor ? el('th', null, 'vs noise floor') : null),
    ),
  );
  const body = el('tbody');
  const sorted = [...id.violations].sort((a, b) => Math.abs(b.log_weight ?? Infinity) - Math.abs(a.log_weight ?? Infinity));
  for (const v of sorted) {
    const tr = el(
      'tr',
      { class: 'pick', title: 'Show this record' },
      el('td', null, v.record),
      el('td', { class: 'num' }, v.line === null ? '—' : String(v.line)),
      el('td', { class: 'num' }, v.log_weight === null ? 'not finite' : fmtLw(v.log_weight)),
      el('td', { class: 'num' }, v.log_weight === null ? '—' : weight(Math.exp(v.log_weight))),
      floor ? el('td', { class: v.within_noise ? 'noise' : 'bad' }, v.within_noise ? 'within' : 'beyond') : null,
    );
    tr.addEventListener('click', () => onPick(v.line, v.record));
    body.appendChild(tr);
  }
  list.appendChild(body);
  const more = id.violation_count > id.violations.length ? ` (the first ${id.violations.length} listed)` : '';
  const details = el('vscode-collapsible', { class: 'ident-details', attrs: { 'data-policy': p.name } }, el('div', { class: 'scrollbox' }, list));
  details.heading = `${p.name} · rescored`;
  details.description = `${int(id.violation_count)} records with |log w| > ${id.tolerance}${more}, largest first`;
  details.open = true;
  if (id.causes.length && !(floor && id.beyond_noise === 0)) {
    details.appendChild(el('div', { class: 'causes' }, el('div', { class: 'm-label' }, 'What usually causes this'), el('ul', null, ...id.causes.map((c) => el('li', null, c)))));
  }
  return details;
}

function loggedList(p: PolicyReport, data: ReportData, onPick: (line: number | null, record: string) => void): HTMLElement {
  const lg = p.identical.logged!;
  const b = data.meta.behavior.name;
  const list = el(
    'table',
    { class: 'violations logged', attrs: { 'data-policy': p.name } },
    el('thead', null, el('tr', null, ...['record', 'line', `logged ${p.name}`, `logged ${b}`, 'log w', 'w'].map((h, k) => el('th', { class: k >= 1 ? 'num' : undefined }, h)))),
  );
  const body = el('tbody');
  for (const v of [...lg.violations].sort((x, y) => Math.abs(y.log_weight) - Math.abs(x.log_weight))) {
    const tr = el(
      'tr',
      { class: 'pick', title: 'Show this record' },
      el('td', null, v.record),
      el('td', { class: 'num' }, String(v.line)),
      el('td', { class: 'num' }, logprobText(v.logged)),
      el('td', { class: 'num' }, logprobText(v.logged_behavior)),
      el('td', { class: 'num' }, fmtLw(v.log_weight)),
      el('td', { class: 'num' }, weight(Math.exp(v.log_weight))),
    );
    tr.addEventListener('click', () => onPick(v.line, v.record));
    body.appendChild(tr);
  }
  list.appendChild(body);
  const details = el('vscode-collapsible', { class: 'ident-details logged', attrs: { 'data-policy': p.name } }, el('div', { class: 'scrollbox' }, list));
  details.heading = `${p.name} · logged`;
  details.description = `${int(lg.differ)} of ${int(lg.n)} records where the log's ${p.name} log-prob is not its ${b} log-prob, largest first`;
  details.open = true;
  return details;
}

function logprobText(x: number): string {
  return Number.isFinite(x) ? x.toFixed(2) : '—';
}

/** Probes in the order of the contract; others follow in their own order. */
const PROBE_ORDER = ['echo', 'maxTokens', 'promptLogprobs', 'firstTokenNull', 'offsetUnit', 'listPrompts', 'tokenIdPrompts', 'topLogprobsLimit', 'clampSentinel', 'addsBos', 'doubleBos', 'deterministic', 'noiseFloor', 'noiseFloorToken', 'batchInvariant', 'prefixCacheConsistent', 'templateSanity'];
/** Probes where true is the bad answer. */
const BAD_WHEN_TRUE = new Set(['clampSentinel', 'doubleBos']);
const NATS_PROBES = new Set(['noiseFloor', 'noiseFloorToken']);

function probeCell(name: string, v: boolean | number | string | null | undefined, reason: string | undefined): HTMLElement {
  if (v === undefined) return el('td', { class: 'muted' }, '');
  if (v === null) return el('td', { class: 'muted probe-null', title: reason ?? 'could not tell' }, reason ? `? ${reason}` : '? could not tell');
  if (typeof v === 'boolean') {
    const good = BAD_WHEN_TRUE.has(name) ? !v : v;
    return el('td', { class: good ? 'ok' : 'bad', title: reason }, v ? 'yes' : 'no');
  }
  if (typeof v === 'number') return el('td', { title: reason }, NATS_PROBES.has(name) ? `${fmtLw(v)} nats` : String(v));
  return el('td', { title: reason }, v);
}

/** "Endpoints": each endpoint profile of the scores file as a verdict table (null without any). */
export function endpointsSection(data: ReportData): HTMLElement | null {
  const eps = data.endpoints ?? [];
  if (!eps.length) return null;
  const names = [...PROBE_ORDER.filter((k) => eps.some((e) => k in e.probes))];
  for (const e of eps) for (const k of Object.keys(e.probes)) if (!names.includes(k)) names.push(k);
  const table = el(
    'table',
    { class: 'endpoints' },
    el(
      'thead',
      null,
      el('tr', null, el('th', null, 'probe'), ...eps.map((e) => el('th', { title: `${e.provider} · ${e.baseURL}${e.measured_at ? ` · measured ${e.measured_at}` : ''}` }, `${e.model}`, el('div', { class: 'muted ep-sub' }, `${e.provider} · ${e.baseURL}`), el('div', { class: 'muted ep-sub' }, e.policies.join(', '))))),
    ),
  );
  const body = el('tbody');
  for (const k of names) body.appendChild(el('tr', { attrs: { 'data-probe': k } }, el('td', null, k), ...eps.map((e) => probeCell(k, e.probes[k], e.reasons[k]))));
  table.appendChild(body);
  const root = el('div', { class: 'endpoints-box' }, el('h3', null, 'Endpoints'), el('p', { class: 'muted' }, 'What `cje score` measured of each scoring endpoint before sending the log (its cheap probes; `cje doctor` runs them all).'), el('div', { class: 'scrollx' }, table));
  for (const e of eps) {
    for (const b of e.blockers) root.appendChild(el('p', { class: 'bad' }, `${e.model} (${e.baseURL}): blocker: ${b}`));
    for (const w of e.warnings) root.appendChild(el('p', { class: 'warn' }, `${e.model} (${e.baseURL}): ${w}`));
  }
  return root;
}

/** "Repeat spread": per policy the distribution of max − min over K scorings of the same record. */
function repeatsSection(data: ReportData): IdenticalSectionView | null {
  const reps = data.repeats ?? [];
  if (!reps.length) return null;
  const root = el(
    'div',
    { class: 'repeats-box' },
    el('h3', null, 'Repeat spread'),
    el('p', { class: 'muted' }, 'A sample of records scored K times (`cje score --repeat K`): the spread max − min of one response’s log-prob under the same policy, which is the endpoint’s nondeterminism on the real data. An identical target’s |log w| within the largest spread could be that noise.'),
  );
  const table = el(
    'table',
    { class: 'repeat-summary' },
    el('thead', null, el('tr', null, ...['policy', 'records', 'K', 'median', 'p95', 'max (nats)'].map((h, k) => el('th', { class: k ? 'num' : undefined }, h)))),
    el(
      'tbody',
      null,
      ...reps.map((r) =>
        el('tr', { attrs: { 'data-policy': r.policy } }, el('td', null, r.policy), el('td', { class: 'num' }, int(r.n)), el('td', { class: 'num' }, String(r.k)), el('td', { class: 'num' }, fmtLw(r.median)), el('td', { class: 'num' }, fmtLw(r.p95)), el('td', { class: 'num' }, fmtLw(r.max))),
      ),
    ),
  );
  root.appendChild(table);
  const charts = el('div', { class: 'charts' });
  root.appendChild(charts);
  const boxes = reps.map((r) => {
    const b = el('div', { class: 'chart repeat-chart', attrs: { 'data-policy': r.policy } }, el('div', { class: 'chart-title' }, `${r.policy}: spread of ${int(r.n)} records`));
    charts.appendChild(b);
    return b;
  });
  return {
    root,
    drawCharts: () => {
      reps.forEach((r, i) => histogramChart(boxes[i], r.histogram, 6 + i, { x: 'spread = max − min of the repeats (nats)', value: 'spread', empty: 'No spread to draw.' }));
    },
  };
}
