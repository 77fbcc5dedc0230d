// The "Responses" section: response length overall and split at the median
// judge score (a judge that favours long answers shows here), and the mean
// per-token entropy where the scorer reported it.
import { el } from './dom';
import { int, num } from './format';
import type { ReportData } from './protocol';

type Stats = ReportData['responses']['chars'];

function row(label: string, unit: string, s: Stats): HTMLTableRowElement {
  const bj = s.by_judge;
  const cell = (x: number | null | undefined, n?: number) =>
    el('td', { class: 'num', title: n !== undefined ? `${n} responses` : undefined }, n !== undefined ? `${num(x, 1)} (${int(n)})` : num(x, 1));
  return el(
    'tr',
    null,
    el('td', null, label),
    el('td', null, unit),
    el('td', { class: 'num' }, int(s.n)),
    cell(s.mean_length),
    bj ? cell(bj.high.mean_length, bj.high.n) : el('td', { class: 'num' }, '—'),
    bj ? cell(bj.low.mean_length, bj.low.n) : el('td', { class: 'num' }, '—'),
    el('td', { class: 'num', title: s.n_entropy ? `${s.n_entropy} responses with entropies` : 'the scorer reported no entropies' }, num(s.mean_entropy, 3)),
  );
}

export function responsesSection(data: ReportData): HTMLElement {
  const r = data.responses;
  const median = r.chars.by_judge?.median_judge;
  const table = el(
    'table',
    { class: 'responses' },
    el(
      'thead',
      null,
      el(
        'tr',
        null,
        ...['', 'length in', 'responses', 'mean length', `judge ≥ median${median !== undefined ? ` (${num(median, 2)})` : ''}`, 'judge < median', 'mean entropy (nats/token)'].map((h) => el('th', null, h)),
      ),
    ),
    el('tbody', null, row('logged response', 'characters', r.chars), ...r.tokens.map((t) => row(t.policy, 'scored tokens', t))),
  );
  return el(
    'div',
    null,
    table,
    el('p', { class: 'muted' }, 'A longer mean among the high-scored half than among the low-scored half suggests the judge rewards length. Entropy is the mean over responses of each response’s mean per-token entropy, where the scorer reports it (the local worker does).'),
  );
}
