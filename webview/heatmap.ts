// One record in detail: behavior and target responses side by side as token
// heatmaps coloured by Δ log-prob per token (Δ = log π′ − log π₀). Hovering a
// token shows its log-prob under each policy, its rank among the server's top
// alternatives and those alternatives, where the scores kept them. Tokens and
// alternatives are set with textContent: a response holding <script> or
// <img onerror> is shown as text.
import { tokenRank } from '../src/core/diagnostics/token-rank';
import { clear, el } from './dom';
import { singleSelect } from './elements';
import { lw as fmtLw, num, policyColor, signed, tokLp, weight } from './format';
import type { Host } from './host';
import { suspectText, type Model } from './model';
import type { TokenRecord } from './protocol';

export type ColorMode = 'delta' | 'logprob';

export interface DetailState {
  target: string;
  mode: ColorMode;
}

/** One policy's tokens of the shown record, for the hover card. */
interface PolicyTokens {
  name: string;
  behavior: boolean;
  tokens: string[];
  logprobs: number[];
  top?: (Record<string, number> | null)[];
  /** Position i is the behavior's token i (same tokens). */
  aligned: boolean;
}

/** How many alternatives the hover card lists per policy. */
const MAX_ALTERNATIVES = 10;

/** Background for a Δ: blue where the target likes the token more, red where less. */
function deltaColor(d: number, scale: number): string {
  const a = Math.min(1, Math.abs(d) / scale) * 0.85;
  if (a < 0.02) return 'transparent';
  return d > 0 ? `rgba(0, 114, 178, ${a.toFixed(3)})` : `rgba(213, 94, 0, ${a.toFixed(3)})`;
}

/** Background for a log-prob: the more surprising (lower), the stronger. */
function lpColor(lp: number): string {
  const a = Math.min(1, Math.max(0, -lp) / 8) * 0.8;
  return a < 0.02 ? 'transparent' : `rgba(204, 121, 167, ${a.toFixed(3)})`;
}

function visible(tok: string): string {
  // Keep newlines as breaks, but make a token of pure whitespace visible.
  return tok === '' ? '∅' : tok;
}

function tokenPane(
  title: string,
  tokens: string[],
  own: number[],
  other: number[] | null,
  side: 'behavior' | 'target',
  mode: ColorMode,
  scale: number,
  names: { b: string; t: string },
): HTMLElement {
  const box = el('div', { class: 'tokens', attrs: { 'data-side': side, 'data-policy': side === 'behavior' ? names.b : names.t } });
  const frag = document.createDocumentFragment();
  for (let i = 0; i < own.length; i++) {
    const tok = tokens[i] ?? '';
    const span = document.createElement('span');
    span.className = 'tok' + (/^\s+$/.test(tok) ? ' ws' : '');
    span.textContent = visible(tok);
    span.dataset.i = String(i);
    const lp = own[i];
    if (other) {
      const b = side === 'behavior' ? lp : other[i];
      const t = side === 'behavior' ? other[i] : lp;
      const d = t - b;
      span.dataset.delta = String(d);
      span.style.background = mode === 'delta' ? deltaColor(d, scale) : lpColor(lp);
    } else {
      span.style.background = lpColor(lp);
    }
    frag.appendChild(span);
  }
  box.appendChild(frag);
  return el('div', { class: 'pane' }, el('div', { class: 'pane-title' }, title), box);
}

/** The hover card of token i of `pane`: each comparable policy's log-prob and rank, then the alternatives. */
function tokenCard(i: number, pane: PolicyTokens, all: PolicyTokens[], selected: string): HTMLElement {
  const tok = pane.tokens[i] ?? '';
  // Position i means the same token for every policy aligned with the behavior; a target
  // tokenized differently is compared with nothing.
  const rows = pane.aligned ? all.filter((p) => p.aligned && i < p.logprobs.length) : [pane];
  const card = el('div', { class: 'tok-card' }, el('div', { class: 'tok-card-head' }, `#${i} `, el('code', null, JSON.stringify(tok))));
  const anyTop = rows.some((p) => p.top?.[i]);
  const table = el(
    'table',
    { class: 'tok-policies' },
    el('thead', null, el('tr', null, el('th', null, 'policy'), el('th', { class: 'num' }, 'log-prob'), anyTop ? el('th', { class: 'num', title: '1-based rank among the server’s top alternatives at this position' }, 'rank') : null)),
  );
  const body = el('tbody');
  const ranks = new Map<string, ReturnType<typeof tokenRank>>();
  for (const p of rows) {
    const lp = p.logprobs[i];
    const r = tokenRank(p.tokens[i] ?? tok, lp, p.top?.[i]);
    ranks.set(p.name, r);
    body.appendChild(
      el(
        'tr',
        { class: p.name === pane.name ? 'here' : undefined, attrs: { 'data-policy': p.name } },
        el('td', null, p.name, p.behavior ? el('span', { class: 'muted' }, ' (behavior)') : null),
        el('td', { class: 'num' }, tokLp(lp)),
        anyTop ? el('td', { class: 'num rank' }, r ? r.text : '—') : null,
      ),
    );
  }
  table.appendChild(body);
  card.appendChild(table);
  const b = all.find((p) => p.behavior);
  const t = all.find((p) => p.name === selected);
  if (pane.aligned && b && t && t.aligned && !t.behavior) {
    card.appendChild(el('div', { class: 'tok-delta' }, `Δ (${t.name} − ${b.name}) = ${signed(t.logprobs[i] - b.logprobs[i])}`));
  }
  const withAlts = rows.filter((p) => ranks.get(p.name));
  if (withAlts.length) {
    const alts = el('div', { class: 'tok-alts' });
    for (const p of withAlts) {
      const r = ranks.get(p.name)!;
      const list = el('ol', { class: 'alt-list' });
      for (const a of r.alternatives.slice(0, MAX_ALTERNATIVES)) {
        list.appendChild(el('li', { class: a.token === (p.tokens[i] ?? tok) ? 'self' : undefined }, el('code', null, JSON.stringify(a.token)), ' ', el('span', { class: 'num' }, tokLp(a.logprob))));
      }
      const more = r.k > MAX_ALTERNATIVES ? ` (${MAX_ALTERNATIVES} of ${r.k})` : '';
      alts.appendChild(el('div', { class: 'alt-col', attrs: { 'data-policy': p.name } }, el('div', { class: 'm-label' }, `top alternatives · ${p.name}${more}`), list));
    }
    card.appendChild(alts);
  } else {
    card.appendChild(el('div', { class: 'muted tok-noalts' }, 'No top alternatives in these scores (a policy with topLogprobs > 1 keeps them).'));
  }
  return card;
}

/** Hides the hover card of the detail view now shown (a new view replaces it). */
let hideTip: (() => void) | null = null;
let scrollHooked = false;

/** Shows the hover card beside the token under the pointer (one floating card per detail view). */
function attachHover(box: HTMLElement, panes: { el: HTMLElement; seq: PolicyTokens }[], all: PolicyTokens[], selected: string): void {
  const tip = el('div', { class: 'tok-tip', attrs: { role: 'tooltip' } });
  tip.hidden = true;
  box.appendChild(tip);
  let current: HTMLElement | null = null;
  const hide = () => {
    tip.hidden = true;
    current = null;
  };
  hideTip = hide;
  for (const { el: pane, seq } of panes) {
    const show = (tokEl: HTMLElement) => {
      if (tokEl === current) return;
      current = tokEl;
      clear(tip);
      tip.appendChild(tokenCard(Number(tokEl.dataset.i), seq, all, selected));
      tip.hidden = false;
      const r = tokEl.getBoundingClientRect();
      const w = tip.offsetWidth;
      const h = tip.offsetHeight;
      const left = Math.max(4, Math.min(r.left, window.innerWidth - w - 8));
      const below = r.bottom + 6;
      const top = below + h > window.innerHeight - 4 && r.top - h - 6 > 4 ? r.top - h - 6 : below;
      tip.style.left = `${left}px`;
      tip.style.top = `${top}px`;
    };
    pane.addEventListener('mouseover', (e) => {
      const t = (e.target as HTMLElement).closest('.tok') as HTMLElement | null;
      if (t) show(t);
    });
    pane.addEventListener('mouseleave', hide);
    pane.addEventListener('scroll', hide, { passive: true });
  }
  // The card is fixed to the viewport: a scroll would leave it beside nothing.
  if (!scrollHooked) {
    scrollHooked = true;
    window.addEventListener('scroll', () => hideTip?.(), { passive: true });
  }
}

export function renderDetail(box: HTMLElement, m: Model, row: number, state: DetailState, host: Host, rerender: () => void): void {
  clear(box);
  if (row < 0 || row >= m.n) {
    box.appendChild(el('p', { class: 'muted' }, 'Select a record in the table (or in the identity table) to see its tokens.'));
    return;
  }
  const d = m.data;
  const bname = d.meta.behavior.name;
  const head = el(
    'div',
    { class: 'detail-head' },
    el('h3', null, 'Record ', el('code', null, m.ids[row]), ` · line ${m.line[row]}`),
    Number.isNaN(m.judge[row]) ? null : el('span', { class: 'chip' }, `judge ${num(m.judge[row], 2)}`),
    Number.isNaN(m.chars[row]) ? null : el('span', { class: 'chip' }, `${m.chars[row]} chars`),
    m.suspect[row] ? el('span', { class: 'chip sus', title: 'Kept, but doubtful: the reasons are counted on the target cards' }, `${m.suspect[row] === 2 ? '≈' : '⚠'} ${suspectText(m, row)}`) : null,
  );
  if (host.present) {
    const open = el('vscode-button', { class: 'btn', title: 'Open the log at this record' }, 'Open in log');
    open.addEventListener('click', () => host.post({ type: 'openRecord', line: m.line[row], record: m.ids[row] }));
    head.appendChild(open);
  }
  box.appendChild(head);
  const chips = el('div', { class: 'lw-chips' });
  m.targets.forEach((t, k) => {
    const v = m.lw[k][row];
    chips.appendChild(
      el(
        'span',
        { class: 'chip lw-chip', title: `log w = log π_${t} − log π_${bname}` },
        el('span', { class: 'swatch' }),
        `${t}: log w = ${fmtLw(v)}`,
        Number.isFinite(v) ? ` (w = ${weight(Math.exp(v))})` : '',
      ),
    );
    (chips.lastChild!.firstChild as HTMLElement).style.background = policyColor(k);
  });
  box.appendChild(chips);

  const tr: TokenRecord | undefined = m.tokens.get(row);
  if (!tr) {
    const why = d.tokens.available ? d.tokens.selection : d.tokens.selection;
    box.appendChild(el('p', { class: 'not-included' }, 'Per-token data not included for this record. ', why));
    return;
  }
  const withData = m.targets.filter((t) => tr.targets[t]);
  if (!withData.length) {
    box.appendChild(el('p', { class: 'not-included' }, 'No target policy has per-token data for this record.'));
    return;
  }
  if (!withData.includes(state.target)) state.target = withData[0];
  const tsel = singleSelect('Target policy', withData.map((t) => ({ value: t, label: t })), state.target, (v) => {
    state.target = v;
    rerender();
  });
  const msel = singleSelect(
    'Colour by',
    [
      { value: 'delta', label: 'Δ log-prob (target − behavior)' },
      { value: 'logprob', label: 'each side’s own log-prob' },
    ],
    state.mode,
    (v) => {
      state.mode = v as ColorMode;
      rerender();
    },
  );
  tsel.classList.add('target-select');
  msel.classList.add('mode-select');
  const tt = tr.targets[state.target];
  const bTokens = tr.behavior.tokens;
  const tTokens = tt.tokens ?? bTokens;
  let scale = 0.5;
  let sum = 0;
  if (tt.aligned) {
    for (let i = 0; i < tt.logprobs.length; i++) {
      const dd = tt.logprobs[i] - tr.behavior.logprobs[i];
      sum += dd;
      scale = Math.max(scale, Math.abs(dd));
    }
  }
  scale = Math.min(scale, 5);
  const legend =
    state.mode === 'delta' && tt.aligned
      ? el(
          'div',
          { class: 'legend' },
          el('span', { class: 'legend-item' }, el('i', { class: 'neg' }), `Δ ≤ −${scale.toFixed(2)}: ${state.target} less likely`),
          el('span', { class: 'legend-item' }, el('i', { class: 'zero' }), 'Δ ≈ 0'),
          el('span', { class: 'legend-item' }, el('i', { class: 'pos' }), `Δ ≥ +${scale.toFixed(2)}: ${state.target} more likely`),
          el('span', { class: 'muted' }, ' · hover a token for its log-prob under each policy, its rank and the alternatives'),
        )
      : el('div', { class: 'legend' }, el('span', { class: 'legend-item' }, el('i', { class: 'lp' }), 'darker = lower log-prob (more surprising)'), el('span', { class: 'muted' }, ' · hover a token for its log-prob under each policy, its rank and the alternatives'));
  box.appendChild(el('div', { class: 'detail-controls' }, el('label', null, 'target ', tsel), el('label', null, 'colour by ', msel), legend));
  if (!tt.aligned) box.appendChild(el('p', { class: 'warn' }, tt.reason ?? 'Tokens are not aligned.', ' Each side is coloured by its own log-prob.'));
  const names = { b: bname, t: state.target };
  const mode: ColorMode = tt.aligned ? state.mode : 'logprob';
  const bPane = tokenPane(`behavior · ${bname}`, bTokens, tr.behavior.logprobs, tt.aligned ? tt.logprobs : null, 'behavior', mode, scale, names);
  const tPane = tokenPane(`target · ${state.target}`, tTokens, tt.logprobs, tt.aligned ? tr.behavior.logprobs : null, 'target', mode, scale, names);
  box.appendChild(el('div', { class: 'panes' }, bPane, tPane));
  const bSeq: PolicyTokens = { name: bname, behavior: true, tokens: bTokens, logprobs: tr.behavior.logprobs, top: tr.behavior.top_logprobs, aligned: true };
  const all: PolicyTokens[] = [
    bSeq,
    ...withData.map((t) => {
      const x = tr.targets[t];
      return { name: t, behavior: false, tokens: x.tokens ?? bTokens, logprobs: x.logprobs, top: x.top_logprobs, aligned: x.aligned };
    }),
  ];
  attachHover(
    box,
    [
      { el: bPane.querySelector('.tokens') as HTMLElement, seq: bSeq },
      { el: tPane.querySelector('.tokens') as HTMLElement, seq: all.find((p) => p.name === state.target)! },
    ],
    all,
    state.target,
  );
  if (tt.aligned) {
    const k = m.targets.indexOf(state.target);
    box.appendChild(
      el('p', { class: 'muted sum' }, `Σ Δ over ${tt.logprobs.length} tokens = ${fmtLw(sum)}; the record's log w = ${fmtLw(m.lw[k][row])}.`),
    );
    const top = tt.top.filter((e) => Math.abs(e.delta) > 1e-9);
    if (!top.length) box.appendChild(el('p', { class: 'muted' }, 'Every token has the same log-prob under both policies (Δ = 0).'));
    else {
      const list = el('ol', { class: 'top-tokens' });
      for (const e of top) {
        list.appendChild(
          el('li', null, el('code', null, JSON.stringify(e.token ?? '')), ` at #${e.position}: Δ = ${signed(e.delta)} (log π₀ ${tokLp(e.behavior_logprob)} → log π′ ${tokLp(e.target_logprob)})`),
        );
      }
      box.appendChild(el('div', { class: 'top' }, el('div', { class: 'pane-title' }, 'Tokens where the policies differ most'), list));
    }
  }
}
