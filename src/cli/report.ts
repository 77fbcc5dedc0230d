import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../core/atomic-write';
import { sameFile } from '../core/same-file';
import { ReportInputError, buildReportData, type ReportData } from '../core/report-data';
import { writeReportHtml } from '../core/report-html';
import { defineCommand, runCommand, UsageError, type Io } from './command';
import { assertReadableFile, fieldFlags, findConfig, logOfScores } from './inputs';
import { formatTable } from './table';

function fmt(x: number | null | undefined, digits: number): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '—';
}

/** The short text summary printed after a report is made. */
export function reportSummary(data: ReportData): string {
  const header = ['policy', 'n', 'ESS/n', 'grade', 'k̂', 'band', 'Hill α', 'max share', 'Hellinger', 'TTC', 'identical', 'violations'];
  // CJE 0.3's overlap readings beside ours: the value and its grade.
  const graded = (o: { value: number | null; status: string | null } | undefined) => (o && o.value !== null ? `${fmt(o.value, 3)}${o.status ? ` ${o.status}` : ''}` : '—');
  const rows = data.policies.map((p) => [
    p.name,
    String(p.n),
    fmt(p.ess_fraction, 3),
    p.too_few_records ? 'too few' : p.ess_grade ?? '—',
    p.khat === null && p.khat_band === 'non_finite_mean' ? '∞' : fmt(p.khat, 2),
    p.too_few_records ? 'too few records' : p.khat_band,
    p.hill_alpha === null ? '—' : fmt(p.hill_alpha, 2),
    fmt(p.max_weight_share, 3),
    graded(p.hellinger_affinity),
    graded(p.ttc),
    p.identical.expected ? `expected (${p.identical.source})` : p.identical.probable ? 'probably meant' : 'no',
    p.identical.expected || p.identical.probable ? String(p.identical.violation_count) : '—',
  ]);
  const m = data.meta;
  const items = m.groups ? ` (${m.groups.samples} of them sampled responses of ${m.groups.records} records)` : '';
  let s = `${m.n_records} records${items} from ${m.input} (${m.input_kind}), behavior policy "${m.behavior.name}"\n\n`;
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
  // A large input: the page's table lists a selection (every statistic above still uses every record).
  if (data.record_table && !data.record_table.all) s += `\nrecord table: ${data.record_table.selection}\n`;
  if (m.issue_count) s += `\n${m.issue_count} input line(s) could not be used (listed in the report).\n`;
  for (const n of m.notes) s += `note: ${n}\n`;
  return s;
}

const MAX_BOOTSTRAP = 100_000;
const MAX_TOKEN_RECORDS = 1000;

export const REPORT_COMMAND = defineCommand({
  name: 'report',
  summary: 'Importance-weight diagnostics and a self-contained HTML report from a scores file or a log with log-probs.',
  description: `Importance-weight diagnostics of each target policy against the behavior policy, from a
scores file (cje score) or a log carrying base_policy_logprob / target_policy_logprobs; writes a
self-contained HTML report (default: INPUT without .jsonl, plus .report.html, beside INPUT) and
optionally JSON. For a scores file LOG.scores.jsonl, the log LOG.jsonl beside it is read when
there is one (judge scores, logged log-probs), and the config is found as cje score finds it.
Exit 1 when a target that must equal the behavior does not (rescored, or as the log stores it); 2 on bad usage or input.`,
  positionals: { name: 'INPUT', min: 1, max: 1, summary: 'a scores file (LOG.scores.jsonl) or a log with log-probs' },
  options: {
    log: { type: 'string', short: 'l', value: 'LOG', summary: 'the log of a scores file (default: LOG.jsonl beside LOG.scores.jsonl, when it exists)' },
    config: { type: 'string', short: 'c', value: 'CONFIG', summary: 'the policy config, for the behavior and fingerprints; default: found as cje score finds it (cje.config.json beside the log, else above it up to the working folder, else in the working folder)' },
    behavior: { type: 'string', short: 'b', value: 'NAME', summary: 'the behavior policy when no config names it' },
    identical: { type: 'string', multiple: true, value: 'TARGET=BEHAVIOR', summary: 'a target that must equal the behavior (its weights must all be 1)' },
    out: { type: 'string', short: 'o', value: 'FILE', summary: 'the HTML report (default INPUT.report.html, INPUT without .jsonl)' },
    json: { type: 'string', value: 'FILE', summary: 'also write the numbers as JSON' },
    'token-records': { type: 'string', value: 'N', summary: 'records with per-token detail in the report' },
    bootstrap: { type: 'string', value: 'B', summary: 'bootstrap resamples for the IPS / SNIPS intervals (0: none)' },
    quiet: { type: 'boolean', short: 'q', summary: 'print only the files written, not the summary table' },
    field: { type: 'string', multiple: true, value: 'NAME=PATH', summary: 'where the log\'s records keep a field, e.g. judge_score=scores.judge (over the config\'s "fields")' },
  },
  run: async ({ values, positionals }, io) => {
    const input = positionals[0];
    assertReadableFile(input);
    if (values.log) assertReadableFile(values.log);
    // As the panel does (src/extension/config-discovery.ts): a scores file's log is the file beside it without .scores.
    const log = values.log ?? logOfScores(input);
    const found = values.config ? undefined : findConfig(log ?? input);
    const config = values.config ?? found?.file;
    const intOpt = (name: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number ≥ 0`);
      return n;
    };
    const tokenRecords = intOpt('token-records', values['token-records']);
    const b = intOpt('bootstrap', values.bootstrap);
    // Input-driven costs have a ceiling: 100,000 resamples already pin an interval to the third digit.
    if (b !== undefined && b > MAX_BOOTSTRAP) throw new UsageError(`--bootstrap ${b}: at most ${MAX_BOOTSTRAP} resamples`);
    if (tokenRecords !== undefined && tokenRecords > MAX_TOKEN_RECORDS) throw new UsageError(`--token-records ${tokenRecords}: at most ${MAX_TOKEN_RECORDS} (the page carries every token of each)`);
    // Never over an input: the report of a scores file must not replace the scores file.
    const outPath = values.out ?? input.replace(/\.(jsonl?|csv)(\.gz)?$/i, '') + '.report.html';
    for (const [flag, target] of [['--out', outPath], ['--json', values.json]] as const) {
      if (!target) continue;
      for (const src of [input, log, config]) if (src && sameFile(target, src)) throw new UsageError(`${flag} ${target} is an input of this report (${src}): refusing to write over it`);
    }
    let data: ReportData;
    try {
      data = await buildReportData({
        input,
        log,
        config,
        behavior: values.behavior,
        identical: values.identical,
        tokenRecords,
        bootstrap: b === undefined ? undefined : { b },
        fields: fieldFlags(values.field),
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
      const text = JSON.stringify(data, null, 1);
      writeFileAtomic(values.json, text);
      jsonBytes = Buffer.byteLength(text);
    }
    if (!values.quiet) io.out.write(reportSummary(data));
    // Say what was found rather than given, so a surprising report can be traced to its inputs.
    const lines: string[] = [];
    if (log && !values.log) lines.push(`log: ${log} (beside the scores file)`);
    if (found) lines.push(`config: ${path.relative(process.cwd(), found.file) || found.file} (${found.how})`);
    lines.push(`wrote ${out} (${(html.bytes / 1024).toFixed(0)} KiB)`);
    if (values.json) lines.push(`wrote ${values.json} (${(jsonBytes / 1024).toFixed(0)} KiB)`);
    io.out.write(`\n${lines.join('\n')}\n`);
    // The log's own weights of an identical target are an identity check too (as cje score warns).
    const broken = data.policies.some((p) => p.identical.expected && (p.identical.violation_count > 0 || (p.identical.logged?.differ ?? 0) > 0));
    return broken ? 1 : 0;
  },
});

/** `cje report ARGS...` (main() dispatches here through COMMANDS). */
export function reportCommand(argv: string[], io: Io): Promise<number> {
  return runCommand(REPORT_COMMAND, argv, io);
}
