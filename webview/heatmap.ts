// One record in detail: behavior and target responses side by side as token
// heatmaps coloured by Δ log-prob per token (Δ = log π′ − log π₀), exact values
// in each token's title. Tokens are set with textContent: a response holding
// <script> or <img onerror> is shown as text.
import { clear, el } from './dom';
import { singleSelect } from './elements';
import { lw as fmtLw, num, policyColor } from './format';
import type { Host } from './host';
import { suspectText, type Model } from './model';
import type { TokenRecord } from './protocol';

export type ColorMode = 'delta' | 'logprob';

export interface DetailState {
  target: string;
  mode: ColorMode;
}

function signed(x: number, digits = 6): string {
  return (x > 0 ? '+' : '') + x.toFixed(digits);
}

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
  const box = el('div', { class: 'tokens', attrs: { 'data-side': side } });
  const frag = document.createDocumentFragment();
  for (let i = 0; i < own.length; i++) {
    const tok = tokens[i] ?? '';
    const span = document.createElement('span');
    span.className = 'tok' + (/^\s+$/.test(tok) ? ' ws' : '');
    span.textContent = visible(tok);
    const lp = own[i];
    let tip = `#${i} ${JSON.stringify(tok)}\nlog π_${side === 'behavior' ? names.b : names.t} = ${lp.toFixed(6)}`;
    if (other) {
      const b = side === 'behavior' ? lp : other[i];
      const t = side === 'behavior' ? other[i] : lp;
      const d = t - b;
      tip = `#${i} ${JSON.stringify(tok)}\nlog π_${names.b} = ${b.toFixed(6)}\nlog π_${names.t} = ${t.toFixed(6)}\nΔ = ${signed(d)}`;
      span.dataset.delta = String(d);
      span.style.background = mode === 'delta' ? deltaColor(d, scale) : lpColor(lp);
    } else {
      span.style.background = lpColor(lp);
    }
    span.title = tip;
    frag.appendChild(span);
  }
  box.appendChild(frag);
  return el('div', { class: 'pane' }, el('div', { class: 'pane-title' }, title), box);
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
        Number.isFinite(v) ? ` (w = ${Math.exp(v) < 1e-4 || Math.exp(v) > 1e5 ? Math.exp(v).toExponential(2) : Math.exp(v).toFixed(4)})` : '',
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
          el('span', { class: 'muted' }, ' · hover a token for exact values'),
        )
      : el('div', { class: 'legend' }, el('span', { class: 'legend-item' }, el('i', { class: 'lp' }), 'darker = lower log-prob (more surprising)'), el('span', { class: 'muted' }, ' · hover a token for exact values'));
  box.appendChild(el('div', { class: 'detail-controls' }, el('label', null, 'target ', tsel), el('label', null, 'colour by ', msel), legend));
  if (!tt.aligned) box.appendChild(el('p', { class: 'warn' }, tt.reason ?? 'Tokens are not aligned.', ' Each side is coloured by its own log-prob.'));
  const names = { b: bname, t: state.target };
  const mode: ColorMode = tt.aligned ? state.mode : 'logprob';
  box.appendChild(
    el(
      'div',
      { class: 'panes' },
      tokenPane(`behavior · ${bname}`, bTokens, tr.behavior.logprobs, tt.aligned ? tt.logprobs : null, 'behavior', mode, scale, names),
      tokenPane(`target · ${state.target}`, tTokens, tt.logprobs, tt.aligned ? tr.behavior.logprobs : null, 'target', mode, scale, names),
    ),
  );
  if (tt.aligned) {
    const k = m.targets.indexOf(state.target);
    box.appendChild(
      el('p', { class: 'muted sum' }, `Σ Δ over ${tt.logprobs.length} tokens = ${signed(sum, 6)}; the record's log w = ${fmtLw(m.lw[k][row])}.`),
    );
    const top = tt.top.filter((e) => Math.abs(e.delta) > 1e-9);
    if (!top.length) box.appendChild(el('p', { class: 'muted' }, 'Every token has the same log-prob under both policies (Δ = 0).'));
    else {
      const list = el('ol', { class: 'top-tokens' });
      for (const e of top) {
        list.appendChild(
          el('li', null, el('code', null, JSON.stringify(e.token ?? '')), ` at #${e.position}: Δ = ${signed(e.delta, 4)} (log π₀ ${e.behavior_logprob.toFixed(3)} → log π′ ${e.target_logprob.toFixed(3)})`),
        );
      }
      box.appendChild(el('div', { class: 'top' }, el('div', { class: 'pane-title' }, 'Tokens where the policies differ most'), list));
    }
  }
}
