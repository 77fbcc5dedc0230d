// Entry of the report UI, shared by the standalone HTML report and the VS Code
// panel. Data comes from <script type="application/json" id="cje-data"> or
// from the host's {type:'data'} message (protocol.ts).
import './report.css';
import './elements';
import { histogramChart, khatChart } from './charts';
import { identicalSection, loggedVsRescoredWarning, policyCard } from './cards';
import { responsesSection } from './responses';
import { clear, el } from './dom';
import { int } from './format';
import { renderDetail, type DetailState } from './heatmap';
import { connectHost, type Host } from './host';
import { buildModel, type Model } from './model';
import type { ReportData } from './protocol';
import { seamSection } from './seam';
import { RecordPager } from './pager';
import { RecordTable } from './table';

interface App {
  model: Model;
  table: RecordTable;
  detail: HTMLElement;
  selected: number;
  state: DetailState;
}

let app: App | null = null;

function section(id: string, title: string, ...children: (Node | null)[]): HTMLElement {
  return el('section', { attrs: { id } }, el('h2', null, title), ...children);
}

function select(row: number): void {
  if (!app) return;
  app.selected = row;
  app.table.select(row);
  redrawDetail();
}

function redrawDetail(): void {
  if (app) renderDetail(app.detail, app.model, app.selected, app.state, host, redrawDetail);
}

function render(root: HTMLElement, data: ReportData): void {
  clear(root);
  const model = buildModel(data);
  const m = data.meta;
  const header = el(
    'header',
    { class: 'page-head' },
    el('h1', null, 'CJE report'),
    el(
      'p',
      { class: 'muted' },
      el('code', null, m.input),
      ` · ${m.input_kind === 'scores' ? 'scores file' : 'log with log-probs'} · behavior `,
      el('strong', null, m.behavior.name),
      ` · ${int(m.n_records)} records${m.groups ? ` (${int(m.groups.samples)} of them sampled responses of ${int(m.groups.records)} records)` : ''} · ${m.targets.length} target${m.targets.length === 1 ? '' : 's'} · ${m.generated_at.replace('T', ' ').slice(0, 19)} UTC`,
    ),
  );
  if (m.notes.length || m.issue_count) {
    const d = el('vscode-collapsible', { class: 'notes' });
    d.heading = 'Notes';
    d.description = `${m.issue_count} input issue(s), ${m.notes.length} note(s)`;
    const ul = el('ul');
    for (const n of m.notes) ul.appendChild(el('li', null, n));
    for (const i of m.issues) ul.appendChild(el('li', null, el('code', null, `${i.file}:${i.line}`), ` ${i.reason}`));
    d.appendChild(ul);
    header.appendChild(d);
  }
  const lvr = loggedVsRescoredWarning(data);
  if (lvr) header.appendChild(lvr);
  root.appendChild(header);

  const cards = el('div', { class: 'cards' });
  data.policies.forEach((p, i) => cards.appendChild(policyCard(p, i, data)));
  if (!data.policies.length) cards.appendChild(el('p', { class: 'muted' }, 'No target policy besides the behavior.'));
  root.appendChild(section('policies', 'Target policies', cards));

  const hists = el('div', { class: 'charts' });
  root.appendChild(section('weights', 'Log-weights (count on a log axis)', hists));
  const khatBox = el('div', { class: 'chart khat-chart' });
  root.appendChild(
    section(
      'khat',
      'Pareto k̂ by policy',
      el('p', { class: 'muted' }, 'PSIS tail-shape k̂ of each target’s weights, against loo’s bands: below the sample-size threshold the estimate is reliable; above 0.7 it is not; above 1 the weights’ mean is not finite.'),
      khatBox,
    ),
  );
  const ident = identicalSection(data, (line, record) => pick(line, record));
  root.appendChild(section('identical', 'Identical-policy check', ident.root));
  const seam = seamSection(data, (line, record) => pick(line, record));
  if (seam) root.appendChild(section('seam', 'Seam effect', seam.root));
  if (data.responses) root.appendChild(section('responses', 'Responses', responsesSection(data)));

  const detail = el('div', { class: 'detail' });
  const table = new RecordTable(model, (row) => select(row));
  const sel = data.record_table;
  root.appendChild(section('records', 'Records', sel && !sel.all ? el('p', { class: 'muted table-selection' }, sel.selection) : null, table.root));
  // In the panel, the host pages through every record (the table carries a selection of them).
  if (host.present && sel && !sel.all) {
    const pager = new RecordPager(data, host, (row, tableRow) => {
      if (tableRow >= 0) pick(row.line, row.id);
      else host.post({ type: 'openRecord', line: row.line, record: row.id });
    });
    root.appendChild(section('all-records', `All ${int(sel.total)} records`, el('p', { class: 'muted' }, 'Read from the log and the scores file a page at a time; a record that is not in the table above opens in the log.'), pager.root));
  }
  root.appendChild(
    section(
      'detail-section',
      'Tokens of the selected record',
      data.tokens.available ? el('p', { class: 'muted' }, data.tokens.selection) : null,
      detail,
    ),
  );
  app = { model, table, detail, selected: -1, state: { target: data.policies.find((p) => p.identical.violation_count > 0)?.name ?? m.targets[0] ?? '', mode: 'delta' } };
  renderDetail(detail, model, -1, app.state, host, () => undefined);

  // Charts after layout so they get their real width.
  requestAnimationFrame(() => {
    data.policies.forEach((p, i) => {
      const box = el('div', { class: 'chart' }, el('div', { class: 'chart-title' }, p.name));
      hists.appendChild(box);
      histogramChart(box, p.histogram, i);
    });
    if (data.policies.length) khatChart(khatBox, data.policies);
    seam?.drawCharts();
    ident.drawCharts();
    document.body.dataset.ready = 'true';
  });
}

function pick(line: number | null, record: string): void {
  if (!app) return;
  const m = app.model;
  let row = line !== null ? m.byLine.get(line) ?? -1 : -1;
  // Sampled responses of one record share its line: the id tells them apart.
  if (row < 0 || m.ids[row] !== record) row = m.ids.indexOf(record);
  if (row >= 0) {
    select(row);
    document.getElementById('detail-section')?.scrollIntoView({ block: 'start' });
  }
}

function show(data: ReportData): void {
  const root = document.getElementById('cje-root') ?? document.body.appendChild(el('div', { attrs: { id: 'cje-root' } }));
  try {
    render(root, data);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    clear(root);
    root.appendChild(el('p', { class: 'warn' }, `Cannot draw this report: ${msg}`));
    host.post({ type: 'error', message: msg });
    throw e;
  }
}

const host: Host = connectHost();

function start(): void {
  host.onMessage((msg) => {
    if (msg.type === 'data') show(msg.data);
    else if (msg.type === 'selectRecord') pick(msg.line, '');
  });
  const inline = document.getElementById('cje-data');
  const text = inline?.textContent?.trim();
  if (text) show(JSON.parse(text) as ReportData);
  host.post({ type: 'ready' });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
