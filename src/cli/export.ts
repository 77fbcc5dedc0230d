// cje export LOG --format cje|weights-csv|arviz: the teacher-forced scores of LOG
// (its scores file) written where users go next (src/core/export.ts).

import * as path from 'node:path';
import { defaultExportPath, EXPORT_FORMATS, exportScores, type ExportFormat, type ExportSummary } from '../core/export';
import { formatIssue } from '../core/log-reader';
import { sameFile } from '../core/same-file';
import { defaultScoresPath } from '../core/score-store';
import { defineCommand, runCommand, UsageError, type Io } from './command';
import { assertReadableFile, configForLog, fieldFlags } from './inputs';
import { formatTable } from './table';

export const EXPORT_COMMAND = defineCommand({
  name: 'export',
  summary: 'Write the scores of a log as a CJE-ready log (cje-eval), a weights table (CSV) or log-weights for ArviZ / loo PSIS.',
  description: `Reads LOG and its scores file and writes one of:
  cje          the log back, one record per item, with base_policy_logprob and target_policy_logprobs
               set from the teacher-forced scores (the record's other fields kept): the format cje-eval
               reads for its IPS and DR estimators. A failed, suspect or missing score is null.
  weights-csv  one row per item: id, line, judge score, and per target the log-weight, the weight and
               the self-normalised weight (empty where a score is null).
  arviz        JSON: per target the finite log-weights as one vector, with their ids, for
               arviz.psislw (Python) or loo::psis (R).
A record with several sampled responses gives one item per response (id RECORD#i).
Exit 0: written, every number present; 1: written, with nulls or bad lines (counted); 2: bad usage or input.`,
  positionals: { name: 'LOG', min: 1, max: 1, summary: 'the log that was scored (JSONL, .jsonl.gz or CSV)' },
  options: {
    format: { type: 'string', short: 'f', value: 'FORMAT', required: true, summary: `what to write: ${EXPORT_FORMATS.join(', ')}` },
    config: { type: 'string', short: 'c', value: 'CONFIG', summary: 'the policy config (behavior, targets, fields); default: found as cje score finds it' },
    scores: { type: 'string', short: 's', value: 'FILE', summary: 'the scores file (default LOG.scores.jsonl, beside the log)' },
    out: { type: 'string', short: 'o', value: 'FILE', summary: 'where to write (default LOG.cje.jsonl, LOG.weights.csv or LOG.log-weights.json, LOG without its extension)' },
    field: { type: 'string', multiple: true, value: 'NAME=PATH', summary: 'where the records keep a field cje reads (over the config\'s "fields")' },
    json: { type: 'boolean', summary: 'print the summary as JSON' },
    quiet: { type: 'boolean', short: 'q', summary: 'no per-line messages' },
  },
  run: async ({ values, positionals }, io) => {
    const log = positionals[0];
    const format = values.format as ExportFormat;
    if (!(EXPORT_FORMATS as readonly string[]).includes(format)) throw new UsageError(`--format ${values.format}: one of ${EXPORT_FORMATS.join(', ')}`);
    assertReadableFile(log);
    const scores = values.scores ?? defaultScoresPath(log);
    assertReadableFile(scores);
    const loaded = configForLog(log, values.config, io);
    if (!loaded) return 2;
    const configFile = loaded.file;
    const out = values.out ?? defaultExportPath(log, format);
    for (const src of [log, scores, configFile]) if (sameFile(out, src)) throw new UsageError(`--out ${out} is an input of this export (${src}): refusing to write over it`);
    const summary = await exportScores({
      log,
      scores,
      config: loaded.config,
      format,
      out,
      fields: fieldFlags(values.field),
      onIssue: (i) => {
        if (!values.quiet) io.err.write(formatIssue(i) + '\n');
      },
    });
    if (values.json) io.out.write(JSON.stringify(summary, null, 2) + '\n');
    else io.out.write(formatExportSummary(summary, path.relative(process.cwd(), configFile) || configFile));
    const nulls = summary.nulls.some((n) => n.failed + n.suspect + n.missing > 0);
    return nulls || summary.badLines ? 1 : 0;
  },
});

export function formatExportSummary(s: ExportSummary, config: string): string {
  const lines = [`wrote ${s.out} (${s.format}): ${s.items} item(s)${s.badLines ? `, ${s.badLines} bad line(s) in the log not written` : ''} · config ${config}`];
  const withNulls = s.nulls.filter((n) => n.failed + n.suspect + n.missing > 0);
  if (withNulls.length) {
    lines.push('', 'log-probs written as null (never a made-up number):');
    lines.push(
      formatTable(
        ['policy', 'role', 'failed', 'suspect', 'not scored'],
        withNulls.map((n) => [n.policy, n.policy === s.behavior ? 'behavior' : 'target', String(n.failed), String(n.suspect), String(n.missing)]),
      ).trimEnd(),
    );
  }
  const nw = Object.entries(s.nullWeights).filter(([, c]) => c > 0);
  if (nw.length) lines.push(`log-weights left empty: ${nw.map(([t, c]) => `${t} ${c}`).join(', ')}`);
  return lines.join('\n') + '\n';
}

/** `cje export ARGS...` (main() dispatches here through COMMANDS). */
export function exportCommand(argv: string[], io: Io): Promise<number> {
  return runCommand(EXPORT_COMMAND, argv, io);
}
