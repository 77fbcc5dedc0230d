import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ReportInputError, buildReportData, type ReportData } from '../core/report-data';
import { writeReportHtml } from '../core/report-html';
import type { Io } from './main';
import { UsageError } from './main';
import { formatTable } from './table';

const REPORT_USAGE = `  cje report INPUT [--log LOG] [--config CONFIG] [--behavior NAME] [--identical TARGET=BEHAVIOR ...]
             [--out report.html] [--json report.json] [--token-records N] [--bootstrap B]
      Importance-weight diagnostics of each target policy against the behavior policy, from a
      scores file (cje score) or a log carrying base_policy_logprob / target_policy_logprobs;
      writes a self-contained HTML report (default INPUT.report.html) and optionally JSON.
      Exit 1 when a target that must equal the behavior does not (rescored, or as the log stores it).
`;

function fmt(x: number | null | undefined, digits: number): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—';
}

/** The short text summary printed after a report is made. */
export function reportSummary(data: ReportData): string {
  const header = ['policy', 'n', 'ESS/n', 'grade', 'k̂', 'band', 'Hill α', 'max share', 'identical', 'violations'];
  const rows = data.policies.map((p) => [
    p.name,
    String(p.n),
    fmt(p.ess_fraction, 3),
    p.too_few_records ? 'too few' : p.ess_grade ?? '—',
    p.khat === null && p.khat_band === 'non_finite_mean' ? '∞' : fmt(p.khat, 2),
    p.too_few_records ? 'too few records' : p.khat_band,
    p.hill_alpha === null ? '—' : fmt(p.hill_alpha, 2),
    fmt(p.max_weight_share, 3),
    p.identical.expected ? `expected (${p.identical.source})` : p.identical.probable ? 'probably meant' : 'no',
    p.identical.expected || p.identical.probable ? String(p.identical.violation_count) : '—',
  ]);
  const m = data.meta;
  let s = `${m.n_records} records from ${m.input} (${m.input_kind}), behavior policy "${m.behavior.name}"\n\n`;
  s += formatTable(header, rows);
  for (const p of data.policies) {
    const id = p.identical;
    if ((id.expected || id.probable) && id.violation_count > 0) {
      const what = id.expected
        ? `must equal "${m.behavior.name}" (${id.source})`
        : `equals "${m.behavior.name}" on ${((id.match_fraction ?? 0) * 100).toFixed(1)}% of records (probably meant to be identical)`;
      s += `\n${p.name} ${what} but |log w| > ${id.tolerance} on ${id.violation_count} of ${p.n_records} records, e.g. `;
      s += id.violations
        .slice(0, 5)
        .map((v) => `${v.record}${v.line !== null ? ` (line ${v.line})` : ''}: ${v.log_weight === null ? 'not finite' : v.log_weight.toPrecision(4)}`)
        .join(', ');
      s += id.violation_count > 5 ? ', …\n' : '\n';
      if (id.noise_verdict) s += `  ${id.noise_verdict}\n`;
    }
    const lg = id.logged;
    if ((id.expected || id.probable) && lg?.differ) {
      s += `\nWARNING ${p.name}: the log stores a different log-prob for it than for "${m.behavior.name}" on ${lg.differ} of ${lg.n} records: the logged weights of an identical policy are not 1.\n`;
    }
  }
  const lvr = [{ name: m.behavior.name, l: m.behavior.logged_vs_rescored }, ...data.policies.map((p) => ({ name: p.name, l: p.logged_vs_rescored }))].filter((x) => x.l?.over_tolerance);
  if (lvr.length) {
    s += `\nWARNING log-probs stored in the log disagree with the rescored ones: ${lvr.map((x) => `${x.name} ${x.l!.over_tolerance} of ${x.l!.n} (median |Δ| ${fmt(x.l!.median_abs, 3)})`).join(', ')}\n`;
  }
  for (const p of data.policies) {
    const w = p.suspect_weights;
    if (!w || !w.n) continue;
    s += `\nWARNING ${p.name}: ${w.n} of the ${p.n} weights rest on suspect scores (${w.approximate} approximate; behavior ${w.behavior}, target ${w.target}): `;
    s += w.reasons.map((r) => `${r.kind} ×${r.count}`).join(', ') + '\n';
  }
  for (const q of data.seam ?? []) {
    s += `\nseam effect ${q.joined} (joined) − ${q.separate} (separate): ${q.n} records, ${q.differ} differ by more than ${q.tolerance}`;
    if (q.n) s += `; mean |Δ| ${fmt(q.mean_abs, 4)}, median |Δ| ${fmt(q.median_abs, 4)}, max |Δ| ${fmt(q.max_abs, 4)}`;
    if (q.top.length) s += ` (${q.top[0].record}, line ${q.top[0].line})`;
    s += '\n';
  }
  if (m.issue_count) s += `\n${m.issue_count} input line(s) could not be used (listed in the report).\n`;
  for (const n of m.notes) s += `note: ${n}\n`;
  return s;
}

export async function reportCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      log: { type: 'string', short: 'l' },
      config: { type: 'string', short: 'c' },
      behavior: { type: 'string', short: 'b' },
      identical: { type: 'string', multiple: true },
      out: { type: 'string', short: 'o' },
      json: { type: 'string' },
      'token-records': { type: 'string' },
      bootstrap: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.out.write(`Usage:\n${REPORT_USAGE}`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('report takes exactly one INPUT (a scores file or a log with log-probs)');
  const input = positionals[0];
  if (!fs.existsSync(input)) throw new UsageError(`${input}: no such file`);
  const intOpt = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number ≥ 0`);
    return n;
  };
  const tokenRecords = intOpt('token-records', values['token-records']);
  const b = intOpt('bootstrap', values.bootstrap);
  let data: ReportData;
  try {
    data = await buildReportData({
      input,
      log: values.log,
      config: values.config,
      behavior: values.behavior,
      identical: values.identical,
      tokenRecords,
      bootstrap: b === undefined ? undefined : { b },
    });
  } catch (e) {
    if (e instanceof ReportInputError) {
      io.err.write(`cje report: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const out = values.out ?? input.replace(/\.jsonl?$/i, '') + '.report.html';
  const html = writeReportHtml(out, data);
  let jsonBytes = 0;
  if (values.json) {
    fs.mkdirSync(path.dirname(path.resolve(values.json)), { recursive: true });
    const text = JSON.stringify(data, null, 1);
    fs.writeFileSync(values.json, text);
    jsonBytes = Buffer.byteLength(text);
  }
  if (!values.quiet) io.out.write(reportSummary(data));
  io.out.write(`\nwrote ${out} (${(html.bytes / 1024).toFixed(0)} KiB)\n`);
  if (values.json) io.out.write(`wrote ${values.json} (${(jsonBytes / 1024).toFixed(0)} KiB)\n`);
  // The log's own weights of an identical target are an identity check too (as cje score warns).
  const broken = data.policies.some((p) => p.identical.expected && (p.identical.violation_count > 0 || (p.identical.logged?.differ ?? 0) > 0));
  return broken ? 1 : 0;
}
