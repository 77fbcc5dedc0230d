// The record table: sortable, filterable and virtualised. Only the rows in
// view (plus a few above and below) exist in the DOM; they are a fixed pool of
// row elements moved with transforms and refilled with textContent on scroll,
// so 100,000 records scroll as smoothly as 100.
import { el } from './dom';
import { singleSelect } from './elements';
import { int, logprob, lw as fmtLw, num } from './format';
import { suspectText, type Model } from './model';

export const ROW_HEIGHT = 26;
const OVERSCAN = 8;

interface Column {
  key: string;
  label: string;
  title: string;
  numeric: boolean;
  /** Sort key: a number (NaN sorts last) or a string. */
  value(i: number): number | string;
  text(i: number): string;
  cls?(i: number): string;
  /** Tooltip of the cell. */
  tip?(i: number): string;
  width: string;
}

export type FilterMode = 'all' | 'violations' | 'suspect' | 'tokens' | 'judged';

export class RecordTable {
  readonly root: HTMLElement;
  private readonly viewport: HTMLElement;
  private readonly spacer: HTMLElement;
  private readonly layer: HTMLElement;
  private readonly header: HTMLElement;
  private readonly count: HTMLElement;
  private readonly columns: Column[];
  private pool: HTMLElement[] = [];
  /** Row indices in display order (after filter and sort). */
  private view: Int32Array;
  private sortCol = -1;
  private sortDir: 1 | -1 = 1;
  private filterText = '';
  private filterMode: FilterMode = 'all';
  private selected = -1;
  private frame = 0;

  constructor(private readonly m: Model, private readonly onSelect: (row: number) => void) {
    const checks = m.data.policies.map((p) => (p.identical.expected || p.identical.probable ? p.identical.tolerance : -1));
    this.columns = [
      { key: 'line', label: 'line', title: 'Line in the log', numeric: true, width: '64px', value: (i) => m.line[i], text: (i) => String(m.line[i]) },
      { key: 'id', label: 'record', title: 'Record id (prompt_id); RECORD#i for the i-th sampled response of a record (filter by RECORD to see them together)', numeric: false, width: 'minmax(120px, 1.6fr)', value: (i) => m.ids[i], text: (i) => m.ids[i] },
      ...m.targets.map<Column>((t, k) => ({
        key: `lw:${t}`,
        label: `log w ${t}`,
        title: `log π_${t}(r|c) − log π_${m.data.meta.behavior.name}(r|c)`,
        numeric: true,
        width: 'minmax(92px, 1fr)',
        value: (i) => m.lw[k][i],
        text: (i) => fmtLw(m.lw[k][i]),
        cls: (i) => {
          const v = m.lw[k][i];
          if (checks[k] >= 0 && !(Math.abs(v) <= checks[k])) return 'bad';
          return '';
        },
      })),
      { key: 'blp', label: `log π₀`, title: `Behavior log-prob (${m.data.meta.behavior.name})`, numeric: true, width: 'minmax(84px, 0.8fr)', value: (i) => m.blp[i], text: (i) => logprob(m.blp[i]) },
      { key: 'judge', label: 'judge', title: 'Judge score', numeric: true, width: '64px', value: (i) => m.judge[i], text: (i) => num(m.judge[i], 2) },
      { key: 'chars', label: 'chars', title: 'Response length in characters', numeric: true, width: '64px', value: (i) => m.chars[i], text: (i) => (Number.isNaN(m.chars[i]) ? '—' : String(m.chars[i])) },
      { key: 'ntok', label: 'tokens', title: 'Response length in tokens (behavior)', numeric: true, width: '64px', value: (i) => m.ntok[i], text: (i) => (Number.isNaN(m.ntok[i]) ? '—' : String(m.ntok[i])) },
      { key: 'tok', label: '▦', title: 'Per-token data included in this report', numeric: false, width: '28px', value: (i) => (m.tokens.has(i) ? 0 : 1), text: (i) => (m.tokens.has(i) ? '▦' : '') },
    ];
    if (m.anySuspect) {
      // Only where some score is suspect: a report of checked scores keeps its columns.
      this.columns.push({
        key: 'sus',
        label: '⚠',
        title: 'A score of this record is suspect (⚠) or approximate (≈): kept, but doubtful',
        numeric: false,
        width: '28px',
        value: (i) => 2 - m.suspect[i],
        text: (i) => (m.suspect[i] === 2 ? '≈' : m.suspect[i] === 1 ? '⚠' : ''),
        cls: (i) => (m.suspect[i] ? 'sus' : ''),
        tip: (i) => suspectText(m, i),
      });
    }
    const template = this.columns.map((c) => c.width).join(' ');

    const search = el('vscode-textfield', { class: 'filter', attrs: { type: 'search', placeholder: 'Filter by record id or line…' } });
    search.label = 'Filter records';
    search.addEventListener('input', () => {
      this.filterText = search.value.trim().toLowerCase();
      this.refresh();
    });
    const mode = singleSelect(
      'Which records',
      [
        { value: 'all', label: 'all records' },
        { value: 'violations', label: 'identity violations' },
        ...(m.anySuspect ? [{ value: 'suspect', label: 'with a suspect score' }] : []),
        { value: 'tokens', label: 'with token data' },
        { value: 'judged', label: 'with a judge score' },
      ],
      this.filterMode,
      (v) => {
        this.filterMode = v as FilterMode;
        this.refresh();
      },
    );
    mode.classList.add('mode');
    this.count = el('span', { class: 'muted count' });

    this.header = el('div', { class: 'thead', attrs: { role: 'row' } });
    this.header.style.gridTemplateColumns = template;
    this.columns.forEach((c, ci) => {
      const b = el('button', { class: `th${c.numeric ? ' num' : ''}`, title: `${c.title} — click to sort`, attrs: { role: 'columnheader', 'data-col': c.key } }, c.label);
      b.addEventListener('click', () => this.sortBy(ci));
      this.header.appendChild(b);
    });

    this.spacer = el('div', { class: 'spacer' });
    this.layer = el('div', { class: 'rows' });
    this.viewport = el('div', { class: 'viewport', attrs: { tabindex: '0', role: 'rowgroup', 'aria-label': 'Records' } }, this.spacer, this.layer);
    this.viewport.addEventListener('scroll', () => this.schedule(), { passive: true });
    this.viewport.addEventListener('keydown', (e) => this.onKey(e));
    this.layer.addEventListener('click', (e) => {
      const rowEl = (e.target as HTMLElement).closest('.tr') as HTMLElement | null;
      if (rowEl && rowEl.dataset.row) this.onSelect(Number(rowEl.dataset.row));
    });
    new ResizeObserver(() => this.schedule()).observe(this.viewport);

    this.root = el(
      'div',
      { class: 'record-table', attrs: { role: 'table', 'aria-label': 'Records' } },
      el('div', { class: 'toolbar' }, search, mode, this.count),
      el('div', { class: 'tscroll' }, this.header, this.viewport),
    );
    this.layer.style.setProperty('--cols', template);
    this.view = new Int32Array(0);
    this.refresh();
  }

  /** Recomputes the filtered, sorted view. */
  refresh(): void {
    const m = this.m;
    const out = new Int32Array(m.n);
    let k = 0;
    const q = this.filterText;
    const qLine = /^\d+$/.test(q) ? Number(q) : -1;
    for (let i = 0; i < m.n; i++) {
      if (this.filterMode === 'violations' && !m.violates[i]) continue;
      if (this.filterMode === 'suspect' && !m.suspect[i]) continue;
      if (this.filterMode === 'tokens' && !m.tokens.has(i)) continue;
      if (this.filterMode === 'judged' && Number.isNaN(m.judge[i])) continue;
      if (q && m.line[i] !== qLine && !m.ids[i].toLowerCase().includes(q)) continue;
      out[k++] = i;
    }
    this.view = out.slice(0, k);
    this.applySort();
    const sel = m.data.record_table;
    // A selection of a larger input says so beside the count (the sentence above the table says which).
    this.count.textContent = sel && !sel.all ? `${int(k)} of ${int(m.n)} listed records (${int(sel.total)} in all)` : `${int(k)} of ${int(m.n)} records`;
    this.spacer.style.height = `${k * ROW_HEIGHT}px`;
    this.render();
  }

  sortBy(ci: number): void {
    if (this.sortCol === ci) this.sortDir = this.sortDir === 1 ? -1 : 1;
    else {
      this.sortCol = ci;
      this.sortDir = this.columns[ci].numeric && this.columns[ci].key.startsWith('lw:') ? -1 : 1;
    }
    this.header.querySelectorAll('.th').forEach((h, i) => {
      h.setAttribute('aria-sort', i === this.sortCol ? (this.sortDir === 1 ? 'ascending' : 'descending') : 'none');
      h.classList.toggle('sorted', i === this.sortCol);
      h.setAttribute('data-dir', i === this.sortCol ? (this.sortDir === 1 ? '▲' : '▼') : '');
    });
    this.applySort();
    this.render();
  }

  private applySort(): void {
    if (this.sortCol < 0) return;
    const c = this.columns[this.sortCol];
    const dir = this.sortDir;
    const v = this.view;
    if (c.numeric) {
      const key = new Float64Array(this.m.n);
      for (let j = 0; j < v.length; j++) key[v[j]] = c.value(v[j]) as number;
      // log w columns sort by |log w| descending first: the records that matter most.
      const abs = c.key.startsWith('lw:');
      v.sort((a, b) => {
        let x = key[a];
        let y = key[b];
        if (abs) {
          x = Math.abs(x);
          y = Math.abs(y);
        }
        const xn = Number.isNaN(x);
        const yn = Number.isNaN(y);
        if (xn || yn) return xn === yn ? a - b : xn ? 1 : -1;
        return (x - y) * dir || a - b;
      });
    } else {
      const arr = Array.from(v);
      arr.sort((a, b) => {
        const x = c.value(a) as string | number;
        const y = c.value(b) as string | number;
        return (x < y ? -1 : x > y ? 1 : 0) * dir || a - b;
      });
      this.view = Int32Array.from(arr);
    }
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  private makeRow(): HTMLElement {
    const r = el('div', { class: 'tr', attrs: { role: 'row' } });
    r.style.gridTemplateColumns = this.layer.style.getPropertyValue('--cols');
    for (const c of this.columns) r.appendChild(el('div', { class: `td${c.numeric ? ' num' : ''}`, attrs: { role: 'cell' } }));
    return r;
  }

  /** Draws the rows in view. */
  render(): void {
    const h = this.viewport.clientHeight || 400;
    const top = this.viewport.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.view.length, Math.ceil((top + h) / ROW_HEIGHT) + OVERSCAN);
    const need = Math.max(0, last - first);
    while (this.pool.length < need) {
      const r = this.makeRow();
      this.pool.push(r);
      this.layer.appendChild(r);
    }
    for (let k = 0; k < this.pool.length; k++) {
      const r = this.pool[k];
      if (k >= need) {
        r.style.display = 'none';
        continue;
      }
      const pos = first + k;
      const i = this.view[pos];
      r.style.display = '';
      r.style.transform = `translateY(${pos * ROW_HEIGHT}px)`;
      r.dataset.row = String(i);
      r.classList.toggle('selected', i === this.selected);
      r.classList.toggle('odd', pos % 2 === 1);
      const cells = r.children;
      for (let c = 0; c < this.columns.length; c++) {
        const col = this.columns[c];
        const cell = cells[c] as HTMLElement;
        const t = col.text(i);
        if (cell.textContent !== t) cell.textContent = t;
        const extra = col.cls ? col.cls(i) : '';
        // Only a class that changes is written: an unchanged write still costs a style pass on every frame.
        const cls = `td${col.numeric ? ' num' : ''}${extra ? ' ' + extra : ''}`;
        if (cell.className !== cls) cell.className = cls;
        if (col.tip) {
          const tip = col.tip(i);
          if (cell.title !== tip) cell.title = tip;
        }
      }
    }
  }

  /** Marks a row selected and scrolls it into view. */
  select(row: number, scroll = true): void {
    this.selected = row;
    if (scroll) {
      let pos = -1;
      for (let k = 0; k < this.view.length; k++) if (this.view[k] === row) { pos = k; break; }
      if (pos >= 0) {
        const top = pos * ROW_HEIGHT;
        const vh = this.viewport.clientHeight;
        if (top < this.viewport.scrollTop || top + ROW_HEIGHT > this.viewport.scrollTop + vh) {
          this.viewport.scrollTop = Math.max(0, top - vh / 2);
        }
      }
    }
    this.render();
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    let pos = -1;
    for (let k = 0; k < this.view.length; k++) if (this.view[k] === this.selected) { pos = k; break; }
    pos = Math.min(this.view.length - 1, Math.max(0, pos + (e.key === 'ArrowDown' ? 1 : -1)));
    if (pos >= 0) this.onSelect(this.view[pos]);
  }
}
