// All records, a page at a time, asked of the host (VS Code panel only: the
// standalone page has no host and carries a selection of the records). Each
// page is a recordPage request answered with inReplyTo (protocol.ts), as
// hexeditor's webview asks for ranges of a file instead of receiving it.
import { clear, el } from './dom';
import { singleSelect } from './elements';
import { int, logprob, lw as fmtLw, num } from './format';
import type { Host } from './host';
import type { RecordPage, RecordPageRequest, RecordRow, ReportData } from './protocol';

export const PAGE_SIZE = 100;

export class RecordPager {
  readonly root: HTMLElement;
  private readonly body: HTMLElement;
  private readonly status: HTMLElement;
  private readonly prev: HTMLElement;
  private readonly next: HTMLElement;
  private req: RecordPageRequest = { page: 0, pageSize: PAGE_SIZE, order: { by: 'line' }, filter: 'all' };
  private last: RecordPage | null = null;
  /** Answers to an older request that arrive after a newer one are dropped. */
  private asked = 0;

  /** Per target, the identity tolerance where it is checked (-1: not). */
  private readonly checks: number[];

  constructor(private readonly data: ReportData, private readonly host: Host, private readonly onPick: (row: RecordRow, tableRow: number) => void) {
    const targets = data.meta.targets;
    this.checks = data.policies.map((p) => (p.identical.expected || p.identical.probable ? p.identical.tolerance : -1));
    const order = singleSelect(
      'Order',
      [{ value: 'line', label: 'log order' }, ...targets.map((t, k) => ({ value: `lw:${k}`, label: `largest |log w| ${t}` }))],
      'line',
      (v) => this.go({ ...this.req, page: 0, order: v === 'line' ? { by: 'line' } : { by: 'abs_lw', target: Number(v.slice(3)) } }),
    );
    const filter = singleSelect(
      'Which records',
      [
        { value: 'all', label: 'all records' },
        { value: 'violations', label: 'identity violations' },
        { value: 'suspect', label: 'with a suspect score' },
      ],
      'all',
      (v) => this.go({ ...this.req, page: 0, filter: v as RecordPageRequest['filter'] }),
    );
    this.prev = el('vscode-button', { class: 'page-prev', attrs: { secondary: '' } }, '◀ previous');
    this.next = el('vscode-button', { class: 'page-next', attrs: { secondary: '' } }, 'next ▶');
    this.prev.addEventListener('click', () => this.req.page > 0 && this.go({ ...this.req, page: this.req.page - 1 }));
    this.next.addEventListener('click', () => this.last && this.req.page + 1 < this.last.pages && this.go({ ...this.req, page: this.req.page + 1 }));
    this.status = el('span', { class: 'muted count page-status' }, 'asking the host…');
    const cols = `64px minmax(120px, 1.6fr) ${targets.map(() => 'minmax(92px, 1fr)').join(' ')} minmax(84px, 0.8fr) 64px 64px 64px`;
    const head = el('div', { class: 'thead', attrs: { role: 'row' } }, el('div', { class: 'th num' }, 'line'), el('div', { class: 'th' }, 'record'), ...targets.map((t) => el('div', { class: 'th num' }, `log w ${t}`)), el('div', { class: 'th num' }, 'log π₀'), el('div', { class: 'th num' }, 'judge'), el('div', { class: 'th num' }, 'chars'), el('div', { class: 'th num' }, 'tokens'));
    head.style.gridTemplateColumns = cols;
    this.body = el('div', { class: 'pager-rows', attrs: { role: 'rowgroup' } });
    this.body.style.setProperty('--cols', cols);
    this.body.addEventListener('click', (e) => {
      const r = (e.target as HTMLElement).closest('.tr') as HTMLElement | null;
      if (!r || !this.last || r.dataset.k === undefined) return;
      const k = Number(r.dataset.k);
      this.onPick(this.last.rows[k], this.last.tableRows[k]);
    });
    this.root = el(
      'div',
      { class: 'record-pager', attrs: { role: 'table', 'aria-label': 'All records' } },
      el('div', { class: 'toolbar' }, order, filter, this.prev, this.next, this.status),
      el('div', { class: 'tscroll' }, head, this.body),
    );
    void this.go(this.req);
  }

  private async go(req: RecordPageRequest): Promise<void> {
    const mine = ++this.asked;
    this.req = req;
    this.status.textContent = `page ${int(req.page + 1)}: asking the host…`;
    let page: RecordPage;
    try {
      page = await this.host.request(req);
    } catch (e) {
      if (mine === this.asked) this.status.textContent = `cannot page: ${e instanceof Error ? e.message : String(e)}`;
      return;
    }
    if (mine !== this.asked) return;
    this.last = page;
    this.draw(page);
  }

  private draw(page: RecordPage): void {
    clear(this.body);
    const cols = this.body.style.getPropertyValue('--cols');
    page.rows.forEach((r, k) => {
      const row = el(
        'div',
        { class: `tr${k % 2 ? ' odd' : ''}${page.tableRows[k] >= 0 ? '' : ' not-in-table'}`, attrs: { role: 'row', 'data-k': String(k), 'data-line': String(r.line) } },
        el('div', { class: 'td num' }, String(r.line)),
        el('div', { class: 'td' }, r.id),
        // As in the table: a weight that breaks an identity check is marked.
        ...r.lw.map((w, t) => el('div', { class: `td num${this.checks[t] >= 0 && !(Math.abs(w ?? NaN) <= this.checks[t]) ? ' bad' : ''}` }, fmtLw(w ?? NaN))),
        el('div', { class: 'td num' }, logprob(r.blp ?? NaN)),
        el('div', { class: 'td num' }, num(r.judge ?? NaN, 2)),
        el('div', { class: 'td num' }, r.chars === null ? '—' : String(r.chars)),
        el('div', { class: 'td num' }, r.ntok === null ? '—' : String(r.ntok)),
      );
      row.style.gridTemplateColumns = cols;
      row.title = page.tableRows[k] >= 0 ? 'In the report’s table: click to show it' : 'Not in the report’s table: click to open it in the log';
      this.body.appendChild(row);
    });
    const from = page.request.page * page.request.pageSize;
    this.status.textContent =
      `page ${int(page.request.page + 1)} of ${int(page.pages)} · records ${int(Math.min(from + 1, page.matching))}–${int(Math.min(from + page.rows.length, page.matching))} of ${int(page.matching)}` +
      (page.stale ? ` · ${page.stale}` : '');
    this.prev.toggleAttribute('disabled', page.request.page === 0);
    this.next.toggleAttribute('disabled', page.request.page + 1 >= page.pages);
  }
}
