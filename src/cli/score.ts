import * as path from 'node:path';
import { missingMappedPaths } from '../core/field-map';
import { formatIssue } from '../core/log-reader';
import { sampleLogRecords } from '../core/log-sample';
import { runScoring, type ScoreRunSummary } from '../core/score-run';
import { estimateRun, type RunEstimate } from '../core/score-estimate';
import { formatApproxCount } from '../core/token-estimate';
import { CompletionsScorer } from '../scorers/completions';
import { completionsScorerFactory } from '../scorers/make-scorer';
import { EndpointBlockedError } from '../core/endpoint-profile';
import { StoreLockedError, StoreWriteError } from '../core/score-store';
import { TOKEN_DETAIL_MODES, type TokenDetail } from '../core/score-line-form';
import { cheapProbes } from '../doctor/before-scoring';
import { withLocalWorkers, workers } from '../worker/manager';
import { defineCommand, runCommand, UsageError, type Io } from './command';
import { assertReadableFile, configForLog, withFieldFlags } from './inputs';
import { formatTable, num } from './table';

export const SCORE_COMMAND = defineCommand({
  name: 'score',
  summary: 'Score every response of a JSONL log under each policy of the config, appending to LOG.scores.jsonl (resumes where a previous run stopped).',
  description: `Scores every response of LOG under the behavior policy and each target policy of the config by
teacher forcing, and appends one line per record and policy to LOG.scores.jsonl (or --out). A run
that stops (Ctrl-C, a crash) keeps what it wrote; the same command resumes. "local" policies with a
model folder get a local worker, started for the run and stopped at the end.
Exit 0: all done; 1: some lines or records failed, or the run was cancelled; 2: bad usage or config.`,
  positionals: { name: 'LOG', min: 1, max: 1, summary: 'the log to score (.jsonl, .jsonl.gz, or .csv with a header)' },
  options: {
    config: { type: 'string', short: 'c', value: 'CONFIG', summary: 'the policy config; default: cje.config.json beside the log, else in a folder above it up to the working folder, else in the working folder' },
    out: { type: 'string', short: 'o', value: 'FILE', summary: 'the scores file (default LOG.scores.jsonl, beside the log)' },
    policy: { type: 'string', short: 'p', multiple: true, value: 'NAME', summary: 'score only these target policies (the behavior is always scored)' },
    json: { type: 'boolean', summary: 'print the summary (or the --dry-run estimate) as JSON' },
    quiet: { type: 'boolean', short: 'q', summary: 'no progress, no per-line messages' },
    'max-line-bytes': { type: 'string', value: 'N', summary: 'skip log lines longer than N bytes as bad lines (default 8 MiB)' },
    'dry-run': { type: 'boolean', summary: 'count records, requests and approximate tokens; send and write nothing' },
    'no-probe': { type: 'boolean', summary: "skip the endpoint probes run before an endpoint's first request (see cje doctor)" },
    repeat: { type: 'string', value: 'K', summary: 'score a uniform sample of records K more times per policy, to measure the endpoint\'s noise on the log itself' },
    'repeat-sample': { type: 'string', value: 'N', summary: 'how many records --repeat scores again (default 20)' },
    field: { type: 'string', multiple: true, value: 'NAME=PATH', summary: 'where the records keep a field cje reads, e.g. response=output.text (over the config\'s "fields"; see README, field mapping)' },
    tokens: { type: 'string', value: 'all|flagged|none', summary: 'which score lines keep their per-token detail (default: the config\'s "tokens", else flagged: errors, suspect scores and a sample)' },
  },
  run: async ({ values, positionals }, io) => {
    const log = positionals[0];
    // Before a worker starts or a scores file is created: a log that cannot be read is bad usage.
    assertReadableFile(log);
    const loaded = configForLog(log, values.config, io);
    if (!loaded) return 2;
    const configFile = loaded.file;
    const config = withFieldFlags(loaded.config, values.field);
    // Said before anything starts: a mapped path the log's first records lack reads nothing from there (lint CJE090 says it too).
    for (const m of missingMappedPaths(config.fields, sampleLogRecords(log))) {
      io.err.write(`cje score: warning: fields.${m.field} "${m.path}" is in none of the first ${m.looked} record(s) of ${log}; ${m.field} is read from its default place\n`);
    }
    if (values.tokens !== undefined) {
      if (!(TOKEN_DETAIL_MODES as readonly string[]).includes(values.tokens)) throw new UsageError(`--tokens ${values.tokens}: expected one of ${TOKEN_DETAIL_MODES.join(', ')}`);
      // The flag wins over the config's "tokens"; the run reads it from the config (tokenDetailOf).
      config.tokens = values.tokens as TokenDetail;
    }
    const maxLineBytes = values['max-line-bytes'] ? Number(values['max-line-bytes']) : undefined;
    if (maxLineBytes !== undefined && !(maxLineBytes > 0)) throw new UsageError('--max-line-bytes must be a positive number');
    const repeatK = values.repeat === undefined ? undefined : Number(values.repeat);
    if (repeatK !== undefined && !(Number.isInteger(repeatK) && repeatK >= 1 && repeatK <= 100)) throw new UsageError('--repeat K: K must be a whole number from 1 to 100');
    const repeatSample = values['repeat-sample'] === undefined ? undefined : Number(values['repeat-sample']);
    if (repeatSample !== undefined && !(Number.isInteger(repeatSample) && repeatSample >= 1 && repeatSample <= 10000)) throw new UsageError('--repeat-sample N: N must be a whole number from 1 to 10000');
    if (values['dry-run']) {
      const est = await estimateRun({ logFile: log, config, outFile: values.out, policies: values.policy, maxLineBytes });
      if (values.json) io.out.write(JSON.stringify(est, null, 2) + '\n');
      else {
        if (!values.quiet) for (const i of est.issues) io.err.write(formatIssue(i) + '\n');
        io.out.write(formatEstimate(est));
      }
      return 0;
    }

    const controller = new AbortController();
    const onSignal = () => {
      if (controller.signal.aborted) process.exit(130);
      io.err.write('\ncje score: cancelling — results already written are kept; run the same command again to resume\n');
      controller.abort(new Error('cancelled'));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const tty = !!io.err.isTTY && !values.quiet;
    let lastDraw = 0;
    // The scorers made for the run, by policy name: their adaptive limits go on the progress line and after the summary.
    const scorers = new Map<string, CompletionsScorer>();
    const limited = () => {
      let now = 0;
      let ceiling = 0;
      for (const s of scorers.values()) {
        now += s.limit.limit;
        ceiling += s.limit.ceiling;
      }
      return now < ceiling ? ` · concurrency ${now}/${ceiling} (held down by the server)` : '';
    };
    const factory = withLocalWorkers(completionsScorerFactory(undefined, undefined, {
        baseDir: path.dirname(path.resolve(configFile)),
        // A capped Retry-After or a replica down is said where the user is looking (Ctrl-C cancels any wait at once).
        onWait: (name, m) => {
          if (!values.quiet) io.err.write(`${tty ? '\r\x1b[K' : ''}cje score: ${name}: ${m}\n`);
        },
      }), {
      baseDir: path.dirname(path.resolve(configFile)),
      onStart: (name, dir, w) => {
        if (!values.quiet) io.err.write(`${tty ? '\r\x1b[K' : ''}cje score: ${name}: local worker for ${dir} at ${w.baseURL}\n`);
      },
    });
    try {
      const summary = await runScoring({
        logFile: log,
        config,
        outFile: values.out,
        policies: values.policy,
        maxLineBytes,
        signal: controller.signal,
        probe: values['no-probe'] ? undefined : cheapProbes(controller.signal),
        repeat: repeatK ? { k: repeatK, sample: repeatSample } : undefined,
        // "local" policies that name a model folder get a worker started for it (one per folder, stopped at the end).
        makeScorer: async (policy, name) => {
          const s = await factory(policy, name);
          if (s instanceof CompletionsScorer) scorers.set(name, s);
          return s;
        },
        onIssue: (i) => {
          if (!values.quiet) io.err.write(`${tty ? '\r\x1b[K' : ''}${formatIssue(i)}\n`);
        },
        onProgress: (p) => {
          if (!tty) return;
          const now = Date.now();
          if (now - lastDraw < 100 && p.done < p.total) return;
          lastDraw = now;
          io.err.write(`\r\x1b[Kscoring ${p.done}/${p.total} records · ${p.rate.toFixed(1)}/s · ${p.failed} failed · ≈${formatApproxCount(p.approxTokens)} tokens sent (estimate)${limited()}`);
        },
      });
      if (tty) io.err.write('\r\x1b[K');
      if (!values.json && !values.quiet) for (const e of summary.endpoints) for (const w of e.warnings) io.err.write(`cje score: ${e.baseURL}: ${w}\n`);
      if (!values.json && !values.quiet) {
        for (const [name, s] of scorers) {
          const l = s.limit;
          if (l.rateLimited || l.decreases) io.err.write(`cje score: ${name}: ${l.rateLimited} × 429; requests in flight went down to ${l.lowest} of ${l.ceiling} (${l.decreases} halvings), ${l.limit} at the end\n`);
        }
      }
      if (values.json) io.out.write(JSON.stringify(summary, null, 2) + '\n');
      else io.out.write(formatSummary(summary));
      // A log without a single record is not a finished job: it is the wrong file, or an empty one.
      if (summary.records === 0 && !summary.cancelled) {
        io.err.write(`cje score: ${log} holds no records${summary.badLines ? ` (${summary.badLines} bad line(s), listed above)` : ''}\n`);
        return 1;
      }
      return summary.failed || summary.badLines || summary.cancelled ? 1 : 0;
    } catch (e) {
      if (e instanceof StoreWriteError || e instanceof StoreLockedError) {
        if (tty) io.err.write('\r\x1b[K');
        io.err.write(`cje score: ${e.message}\n`);
        return 1;
      }
      if (!(e instanceof EndpointBlockedError)) throw e;
      if (tty) io.err.write('\r\x1b[K');
      const p = e.profile;
      io.err.write(`cje score: ${p.baseURL} (${p.model}) cannot score ${p.policies.join(', ')}:\n${p.blockers.map((b) => `  ${b}\n`).join('')}(the profile is in the scores file; \`cje doctor\` shows every probe; --no-probe skips the check)\n`);
      return 1;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await workers.stopAll();
    }
  },
});

/** `cje score ARGS...` (main() dispatches here through COMMANDS). */
export function scoreCommand(argv: string[], io: Io): Promise<number> {
  return runCommand(SCORE_COMMAND, argv, io);
}

export function formatEstimate(e: RunEstimate): string {
  const out: string[] = [`dry run: nothing sent, nothing written · records ${e.records} · bad lines ${e.badLines}`, `scores: ${e.outFile}`, ''];
  const rows = e.groups.map((g) => [g.names.join(', '), g.model, g.tokenization, String(g.toScore), String(g.done), g.renderErrors ? String(g.renderErrors) : '0', `≈${formatApproxCount(g.approxTokens)}`]);
  const total = e.groups.reduce((n, g) => n + g.approxTokens, 0);
  out.push(formatTable(['policies (one request each)', 'model', 'tokenization', 'to score', 'done', 'render errors', 'tokens to send'], rows).trimEnd());
  out.push('');
  out.push(`≈${formatApproxCount(total)} tokens in all: ${e.approximate}.`);
  return out.join('\n') + '\n';
}

export function formatSummary(s: ScoreRunSummary): string {
  const out: string[] = [];
  if (s.store.truncated) out.push(`recovered: the last line of ${s.outFile} was half-written (line ${s.store.truncated.line}); it was removed and scored again`);
  if (s.store.corrupt.length) out.push(`${s.store.corrupt.length} unreadable line(s) in ${s.outFile} were ignored and their records scored again`);
  out.push(
    `records ${s.records} · scored ${s.scored} · skipped ${s.skipped} (already scored) · reused ${s.reused} (identical policy) · failed ${s.failed} · bad lines ${s.badLines} · ${s.seconds.toFixed(1)} s${s.cancelled ? ' · CANCELLED' : ''}`,
  );
  out.push(`scores: ${s.outFile}`);
  out.push('');
  const rows = s.policies.map((p) => [
    p.name,
    p.isBehavior ? 'behavior' : 'target',
    p.sameAs.length ? `= ${p.sameAs.join(', ')}` : p.fingerprint,
    String(p.scored),
    String(p.failed),
    p.meanLogprob === null ? '—' : num(p.meanLogprob, 3),
    p.essFraction === null ? '—' : num(p.essFraction, 3),
  ]);
  out.push(formatTable(['policy', 'role', 'fingerprint', 'scored', 'failed', 'mean logprob', 'ESS/n'], rows));
  for (const p of s.policies) {
    if (p.sameAs.length && !p.isBehavior && p.sameAs.includes(s.policies.find((q) => q.isBehavior)!.name)) {
      out.push(`${p.name} has the behavior policy's fingerprint: scored once, weight exactly 1 on every record`);
    }
  }
  for (const p of s.policies) {
    const li = p.loggedIdentical;
    if (!li?.differ) continue;
    out.push('');
    out.push(`WARNING ${p.name} has the behavior's scoring fingerprint, yet the log stores a different log-prob for it than for the behavior on ${li.differ} of ${li.n} records: the logged weights of an identical policy are not 1.`);
    if (p.noiseFloor) {
      const f = p.noiseFloor;
      const within = li.withinFloor ?? 0;
      out.push(
        `  ${within} of the ${li.differ} are within the endpoint's nondeterminism (max |Δ| ${num(f.nats, 3)} nats measured ${f.source === 'repeat' ? `on ${f.records} records scored ${(f.k ?? 0) + 1} times` : 'by its probes'}); ${li.differ - within} beyond it point to a scoring difference (template, BOS, seam).`,
      );
    }
    for (const e of li.examples) out.push(`  line ${e.line} (${e.record}): logged ${num(e.logged, 4)} vs behavior ${num(e.loggedBehavior, 4)}, log w = ${num(e.logged - e.loggedBehavior, 4)}`);
  }
  const repeated = s.policies.filter((p) => p.noiseFloor?.source === 'repeat' && !p.sameAs.some((n) => s.policies.findIndex((q) => q.name === n) < s.policies.indexOf(p)));
  if (repeated.length) {
    out.push('');
    out.push('noise on the log itself (--repeat): the spread of one record scored again and again');
    for (const p of repeated) out.push(`  ${[p.name, ...p.sameAs].join(' = ')}: ${p.noiseFloor!.records} records, median spread ${num(p.noiseFloor!.medianSpread ?? 0, 4)}, max ${num(p.noiseFloor!.nats, 4)} nats`);
  }
  if (s.duplicates.count) {
    out.push('');
    out.push(
      `${s.duplicates.count} record(s) repeat an earlier record's prompt and response: each has its own score line with the same numbers (${s.duplicates.examples.map((d) => `line ${d.line} = line ${d.sameAs}`).join(', ')}${s.duplicates.count > s.duplicates.examples.length ? ', …' : ''})`,
    );
  }
  if (s.store.rechecked?.failed) {
    out.push('');
    out.push(`${s.store.rechecked.failed} result(s) written before the current answer checks failed them now and were scored again (e.g. ${s.store.rechecked.examples[0].reason})`);
  }
  const mismatched = s.policies.filter((p) => p.logged?.over);
  if (mismatched.length) {
    out.push('');
    out.push('WARNING log-probs stored in the log disagree with the rescored ones:');
    out.push(
      formatTable(
        ['policy', 'field', 'over tolerance', 'median |Δ|', 'max |Δ|'],
        mismatched.map((p) => [p.name, p.logged!.field, `${p.logged!.over}/${p.logged!.n}`, num(p.logged!.medianAbs, 3), num(p.logged!.maxAbs, 3)]),
      ).trimEnd(),
    );
    out.push(
      `  (tolerance ${mismatched[0].logged!.tolerance} nats) Log-probs recorded from a chat API, another template or another model are not the teacher-forced log-prob of this flat prompt; weights that mix the two are wrong. Use rescored values for every policy.`,
    );
    const b = mismatched.find((p) => p.isBehavior) ?? mismatched[0];
    for (const e of b.logged!.examples.slice(0, 3)) out.push(`  ${b.name} line ${e.line} (${e.record}): logged ${num(e.logged, 4)}, rescored ${num(e.rescored, 4)}, Δ ${num(e.rescored - e.logged, 4)}`);
  }
  const suspect = s.policies.filter((p) => p.suspect?.count);
  if (suspect.length) {
    out.push('');
    out.push('WARNING some scores were kept but are suspect (the report marks them):');
    for (const p of suspect) {
      const sp = p.suspect!;
      out.push(`  ${p.name}: ${sp.count} suspect${sp.approximate ? `, ${sp.approximate} of them approximate (prefix count)` : ''}`);
      for (const r of sp.reasons.slice(0, 4)) out.push(`    ${r.count}× ${r.reason}`);
    }
  }
  if (s.errors.length) {
    out.push('');
    out.push('errors:');
    for (const e of s.errors.slice(0, 10)) out.push(`  ${e.count}× ${e.message}`);
  }
  if (s.issues.length) {
    out.push('');
    out.push(`${s.badLines} bad line(s) in ${s.logFile} (listed above), not scored`);
  }
  return out.join('\n') + '\n';
}
