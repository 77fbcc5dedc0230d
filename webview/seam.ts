// The "Seam effect" section: pairs of policies that scored the same text
// joined (one echo of prompt + response) and separately (prompt and response
// tokenized apart, ids concatenated), with Δ = log p(joined) − log p(separate)
// per record: a table of the pairs, and per pair a histogram of Δ (the same
// chart as the log-weight histograms) and the records with the largest |Δ|.
import { histogramChart } from './charts';
import { el } from './dom';
import { int, lw as fmtLw } from './format';
import type { ReportData, SeamPairReport } from './protocol';

/** How many of a pair's largest-|Δ| records are listed. */
const TOP_SHOWN = 10;
/** Palette slot of the first pair's chart: after the usual few targets' colours. */
const COLOR_OFFSET = 5;

function signed(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—';
  return (x > 0 ? '+' : '') + fmtLw(x);
}

export interface SeamSection {
  root: HTMLElement;
  /** Draws the histograms; call once the section is laid out (charts take their box's width). */
  drawCharts(): void;
}

export function seamSection(data: ReportData, onPick: (line: number | null, record: string) => void): SeamSection | null {
  const pairs: SeamPairReport[] = data.seam ?? [];
  if (!pairs.length) return null;
  const root = el(
    'div',
    { class: 'seam' },
    el(
      'p',
      { class: 'muted' },
      'Pairs of policies that scored the same text joined (the server tokenized prompt + response as one text) and separately (prompt and response tokenized apart and their ids concatenated, as SFT code does). Δ = log p(joined) − log p(separate) per record: where it is not 0, the tokens at the prompt/response seam differ, and so does every weight made from either.',
    ),
  );
  const head = ['joined', 'separate', 'records', 'differ', 'mean Δ', 'mean |Δ|', 'median |Δ|', 'max |Δ|'];
  const table = el(
    'table',
    { class: 'seam-summary' },
    el('thead', null, el('tr', null, ...head.map((h, k) => el('th', { class: k >= 2 ? 'num' : undefined }, h)))),
  );
  const body = el('tbody');
  for (const q of pairs) {
    body.appendChild(
      el(
        'tr',
        { attrs: { 'data-joined': q.joined, 'data-separate': q.separate } },
        el('td', null, q.joined),
        el('td', null, q.separate),
        el('td', { class: 'num', title: q.excluded ? `${q.excluded} records with a score of only one of the two are left out` : undefined }, int(q.n)),
        el('td', { class: `num${q.differ ? ' bad' : ''}`, title: `records with |Δ| > ${q.tolerance}` }, int(q.differ)),
        el('td', { class: 'num' }, signed(q.mean)),
        el('td', { class: 'num' }, fmtLw(q.mean_abs)),
        el('td', { class: 'num' }, fmtLw(q.median_abs)),
        el('td', { class: 'num' }, fmtLw(q.max_abs)),
      ),
    );
  }
  table.appendChild(body);
  root.appendChild(table);

  const charts: { box: HTMLElement; q: SeamPairReport; index: number }[] = [];
  pairs.forEach((q, index) => {
    const box = el('div', { class: 'chart' });
    const top = el('div', { class: 'seam-top' });
    if (q.top.length) {
      const list = el(
        'table',
        { class: 'seam-records' },
        el('thead', null, el('tr', null, el('th', null, 'record'), el('th', { class: 'num' }, 'line'), el('th', { class: 'num' }, 'Δ'))),
      );
      const tb = el('tbody');
      for (const t of q.top.slice(0, TOP_SHOWN)) {
        const tr = el(
          'tr',
          { class: 'pick', title: `Show this record · Δ = ${t.delta}` },
          el('td', null, t.record),
          el('td', { class: 'num' }, String(t.line)),
          el('td', { class: 'num' }, signed(t.delta)),
        );
        tr.addEventListener('click', () => onPick(t.line, t.record));
        tb.appendChild(tr);
      }
      list.appendChild(tb);
      top.appendChild(el('div', { class: 'm-label' }, `Largest |Δ| (${Math.min(TOP_SHOWN, q.top.length)} of ${int(q.differ)} that differ)`));
      top.appendChild(el('div', { class: 'scrollbox' }, list));
    } else {
      top.appendChild(el('p', { class: 'muted' }, q.n ? 'Δ = 0 on every record: the seam changes nothing here.' : 'No record has a score of both.'));
    }
    root.appendChild(
      el(
        'div',
        { class: 'seam-pair', attrs: { 'data-joined': q.joined, 'data-separate': q.separate } },
        el('div', { class: 'chart-title' }, `${q.joined} (joined) − ${q.separate} (separate)`),
        el('div', { class: 'seam-body' }, box, top),
      ),
    );
    charts.push({ box, q, index });
  });

  return {
    root,
    drawCharts: () => {
      for (const { box, q, index } of charts) {
        histogramChart(box, q.histogram, COLOR_OFFSET + index, {
          x: 'Δ = log p(joined) − log p(separate)',
          value: 'Δ',
          empty: 'No record has a finite Δ to draw.',
        });
      }
    },
  };
}

