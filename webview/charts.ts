// Charts drawn with uPlot (canvas, ~50 KB, MIT): log-weight histograms on a
// log count axis, and the Pareto k̂ band chart.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Histogram, PolicyReport } from './protocol';
import { cssVar, el } from './dom';
import { BAND_LABEL, int, lw as fmtLw, num, policyColor } from './format';

function axisColors() {
  return {
    stroke: cssVar('--cje-muted', '#6b6b6b'),
    grid: cssVar('--cje-grid', 'rgba(128,128,128,0.18)'),
    font: `11px ${cssVar('--cje-font', 'system-ui, sans-serif')}`,
  };
}

/** Keeps a chart as wide as its box. */
function fitWidth(u: uPlot, box: HTMLElement, height: number): void {
  const ro = new ResizeObserver(() => {
    const w = Math.max(200, Math.floor(box.clientWidth));
    if (Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
  });
  ro.observe(box);
}

export interface HistogramLabels {
  /** x-axis label. */
  x: string;
  /** Legend name of the x value. */
  value: string;
  /** What the chart says when there is nothing to draw. */
  empty: string;
}

const LOG_WEIGHT_LABELS: HistogramLabels = { x: 'log w = log π′ − log π₀', value: 'log w', empty: 'No finite log-weights to draw.' };

/**
 * Histogram on a log10 count axis: one policy's log-weights (x = log w) by
 * default, or any other histogram of the report (the seam effect's Δ) with its labels.
 */
export function histogramChart(box: HTMLElement, h: Histogram | null, index: number, labels: HistogramLabels = LOG_WEIGHT_LABELS): uPlot | null {
  if (!h) {
    box.appendChild(el('p', { class: 'muted' }, labels.empty));
    return null;
  }
  const xs: number[] = [];
  const ys: (number | null)[] = [];
  h.counts.forEach((c, i) => {
    xs.push(h.lo + (i + 0.5) * h.width);
    ys.push(c > 0 ? c : null);
  });
  const maxCount = Math.max(...h.counts);
  const total = h.counts.reduce((a, b) => a + b, 0);
  const ax = axisColors();
  const color = policyColor(index);
  const height = 190;
  const lo = h.lo;
  const hi = h.lo + h.width * h.counts.length;
  const pad = h.counts.length === 1 ? Math.max(1, Math.abs(lo) * 0.5) : h.width;
  const opts: uPlot.Options = {
    width: Math.max(200, box.clientWidth || 360),
    height,
    legend: { show: true, live: true },
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    scales: {
      x: { time: false, range: () => [lo - pad, hi + pad] },
      y: { distr: 3, log: 10, range: () => [0.7, Math.max(10, maxCount * 2)] },
    },
    axes: [
      { stroke: ax.stroke, grid: { stroke: ax.grid, width: 1 }, ticks: { stroke: ax.grid }, font: ax.font, label: labels.x, labelFont: ax.font, labelSize: 14, labelGap: 0 },
      {
        stroke: ax.stroke,
        grid: { stroke: ax.grid, width: 1 },
        ticks: { show: false },
        font: ax.font,
        size: 44,
        // Decades only: 1, 10, 100, … (the log scale's 2…9 splits would crowd the axis).
        filter: (_u, splits) => splits.map((s) => (Math.abs(Math.log10(s) - Math.round(Math.log10(s))) < 1e-9 ? s : null)),
        // 1k, 1M: a million-record histogram's decades fit the axis.
        values: (_u, splits) => splits.map((s) => (s === null ? '' : s >= 1e6 ? `${s / 1e6}M` : s >= 1e3 ? `${s / 1e3}k` : String(s))),
      },
    ],
    series: [
      // Off the chart the legend says what the chart holds; over a bar, that bar's range and count.
      {
        label: labels.value,
        value: (_u, _v, _s, idx) =>
          idx === null || idx === undefined ? `${fmtLw(lo)} … ${fmtLw(hi)}` : `${fmtLw(h.lo + idx * h.width)} … ${fmtLw(h.lo + (idx + 1) * h.width)}`,
      },
      {
        label: 'records',
        stroke: color,
        fill: color + '99',
        width: 1,
        paths: uPlot.paths.bars!({ size: [h.counts.length === 1 ? 0.05 : 1, 100], align: 0 }),
        points: { show: false },
        fillTo: (u) => u.scales.y.min ?? 0.7,
        value: (_u, v, _s, idx) => (idx === null || idx === undefined ? `${int(total)} in all (hover a bar)` : v === null || v === undefined ? '0' : String(v)),
      },
    ],
  };
  const u = new uPlot(opts, [xs, ys], box);
  fitWidth(u, box, height);
  return u;
}

const BAND_COLORS = {
  reliable: 'rgba(0, 158, 115, 0.16)',
  more: 'rgba(240, 180, 0, 0.22)',
  unreliable: 'rgba(230, 110, 0, 0.22)',
  infinite: 'rgba(213, 60, 0, 0.24)',
};

/** k̂ of every target against loo's bands: ≤ threshold reliable, ≤ 0.7, ≤ 1, > 1. */
export function khatChart(box: HTMLElement, policies: PolicyReport[]): uPlot {
  const names = policies.map((p) => p.name);
  const xs = policies.map((_, i) => i);
  // The bands use the threshold of the targets' sample size (all share n up to exclusions); none when too few.
  const thr = policies.find((p) => p.khat_threshold !== null)?.khat_threshold ?? 0.7;
  // The interesting range is 0…1.5: a larger (or infinite) k̂ is drawn at the top edge, its true value in the label.
  const TOP = 1.5;
  const ks = policies.map((p) => (p.khat === null ? (p.khat_band === 'non_finite_mean' ? TOP - 0.06 : null) : Math.min(p.khat, TOP - 0.06)));
  // A target without a k̂ gets no point and no label inside a band (that would read as a value): its
  // x-axis label says why instead.
  const why = (p: PolicyReport): string | null => {
    if (p.khat !== null || p.khat_band === 'non_finite_mean') return null;
    if (p.too_few_records) return `no k̂: too few records (n = ${p.n})`;
    if (p.khat_band === 'constant_tail') return 'no k̂: equal weights, no tail';
    return 'no k̂: undefined';
  };
  const finite = policies.map((p) => p.khat).filter((k): k is number => k !== null);
  const yMin = Math.min(-0.1, ...finite.map((k) => k - 0.1));
  const yMax = TOP;
  const ax = axisColors();
  const height = 220;
  const bands: [number, number, string, string][] = [
    [-Infinity, thr, BAND_COLORS.reliable, policies.some((p) => p.khat_threshold !== null) ? `reliable (k̂ ≤ ${thr.toFixed(2)})` : 'k̂ ≤ 0.7 (reliable only with enough records)'],
    [thr, 0.7, BAND_COLORS.more, 'more samples may help'],
    [0.7, 1, BAND_COLORS.unreliable, 'unreliable (0.7–1)'],
    [1, Infinity, BAND_COLORS.infinite, 'non-finite mean (> 1)'],
  ];
  const drawBands = (u: uPlot) => {
    const ctx = u.ctx;
    const { left, width } = u.bbox;
    const dpr = devicePixelRatio || 1;
    ctx.save();
    ctx.font = `${11 * dpr}px system-ui, sans-serif`;
    ctx.textAlign = 'left';
    for (const [a, b, color, label] of bands) {
      const lo = Math.max(a, u.scales.y.min!);
      const hi = Math.min(b, u.scales.y.max!);
      if (hi <= lo) continue;
      const y0 = u.valToPos(hi, 'y', true);
      const y1 = u.valToPos(lo, 'y', true);
      ctx.fillStyle = color;
      ctx.fillRect(left, y0, width, y1 - y0);
      ctx.fillStyle = ax.stroke;
      if (y1 - y0 > 16 * dpr) ctx.fillText(label, left + 6 * dpr, y0 + 13 * dpr);
    }
    ctx.restore();
  };
  const opts: uPlot.Options = {
    width: Math.max(240, box.clientWidth || 480),
    height,
    legend: { show: false },
    cursor: { show: false },
    scales: {
      x: { time: false, range: () => [-0.5, names.length - 0.5 + 0.45] },
      y: { range: () => [yMin, yMax] },
    },
    axes: [
      {
        stroke: ax.stroke,
        font: ax.font,
        grid: { show: false },
        ticks: { show: false },
        splits: () => xs,
        size: policies.some((p) => why(p)) ? 48 : 30,
        values: (_u, splits) => splits.map((s) => (policies[s] ? (why(policies[s]) ? `${names[s]}\n${why(policies[s])}` : names[s]) : '')),
      },
      { stroke: ax.stroke, font: ax.font, grid: { stroke: ax.grid, width: 1 }, ticks: { stroke: ax.grid }, label: 'Pareto k̂', labelFont: ax.font, labelSize: 18, values: (_u, s) => s.map((v) => v.toFixed(1)) },
    ],
    series: [
      {},
      {
        label: 'k̂',
        stroke: 'transparent',
        paths: () => null,
        points: {
          show: true,
          size: 13,
          width: 2,
          stroke: (_u: uPlot) => cssVar('--cje-fg', '#222'),
          fill: (_u: uPlot) => cssVar('--cje-accent', '#0072B2'),
        },
      },
    ],
    hooks: {
      drawClear: [drawBands],
      draw: [
        (u: uPlot) => {
          // Value labels beside each point (canvas text: never parsed as HTML).
          const ctx = u.ctx;
          const dpr = devicePixelRatio || 1;
          ctx.save();
          ctx.font = `${12 * dpr}px system-ui, sans-serif`;
          ctx.fillStyle = ax.stroke;
          ctx.textAlign = 'left';
          policies.forEach((p, i) => {
            const plotted = ks[i];
            if (plotted === null) return;
            const x = u.valToPos(i, 'x', true) + 11 * dpr;
            const k = p.khat;
            const y = u.valToPos(plotted, 'y', true) + 4 * dpr;
            const text = k === null ? 'k̂ = ∞ (fit failed) ↑' : `k̂ = ${num(k, 2)}${k > TOP - 0.06 ? ' ↑' : ''} · ${BAND_LABEL[p.khat_band]}`;
            ctx.fillText(text, x, y);
          });
          ctx.restore();
        },
      ],
    },
  };
  const u = new uPlot(opts, [xs, ks], box);
  fitWidth(u, box, height);
  return u;
}
