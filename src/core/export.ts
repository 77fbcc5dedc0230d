// `cje export`: the teacher-forced scores, out to where users go next.
//  - cje: the log back, one JSON object per item, with base_policy_logprob and
//    target_policy_logprobs set from the scores: the format cje-eval reads for
//    its IPS and DR estimators (prompt_id, prompt, response, the two log-prob
//    fields, judge_score / oracle_label). A failed, suspect or missing score is
//    null, never a number made up or carried over from the log.
//  - weights-csv: one row per item: id, judge score, and per target the
//    log-weight, the weight and the self-normalised weight.
//  - arviz: per target the finite log-weights as one vector, the input of
//    arviz.psislw / loo::psis (README: "Export").
// Streams the log; the scores are read first into per-policy maps.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { selfNormalizedWeights } from './diagnostics/weights';
import { EVERY, FIELD_NAMES, parsePath, type FieldMap } from './field-map';
import { readLog } from './log-reader';
import { cellOf, readScoreColumns, type ScoreCell } from './score-columns';
import type { CjeConfig, LogIssue, LogRecord } from './types';

export const EXPORT_FORMATS = ['cje', 'weights-csv', 'arviz'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  log: string;
  scores: string;
  config: CjeConfig;
  format: ExportFormat;
  out: string;
  /** Over the config's `fields` (the command line's --field). */
  fields?: FieldMap;
  onIssue?: (i: LogIssue) => void;
}

/** Why a policy's number is null for how many items. */
export interface NullCounts {
  policy: string;
  failed: number;
  suspect: number;
  missing: number;
}

export interface ExportSummary {
  format: ExportFormat;
  out: string;
  /** Items written (one per sampled response of a multi-sample record). */
  items: number;
  /** Log lines that could not be read (not written). */
  badLines: number;
  behavior: string;
  targets: string[];
  /** Per policy, behavior first: the items whose log-prob is null, by reason. */
  nulls: NullCounts[];
  /** Items with a null log-weight, per target (weights-csv, arviz). */
  nullWeights: Record<string, number>;
}

const SUFFIX: Record<ExportFormat, string> = { cje: '.cje.jsonl', 'weights-csv': '.weights.csv', arviz: '.log-weights.json' };

/** LOG without its extension (.jsonl, .jsonl.gz, .csv), plus the format's suffix, beside LOG. */
export function defaultExportPath(log: string, format: ExportFormat): string {
  return log.replace(/\.(?:jsonl?|csv)(?:\.gz)?$/i, '') + SUFFIX[format];
}

/** One line per policy with null log-probs: how many, and why. */
export function nullLines(s: ExportSummary): string[] {
  return s.nulls
    .filter((n) => n.failed + n.suspect + n.missing > 0)
    .map((n) => `${n.policy}${n.policy === s.behavior ? ' (behavior)' : ''}: null on ${n.failed + n.suspect + n.missing} item(s): ${n.failed} failed, ${n.suspect} suspect, ${n.missing} not scored`);
}

/** A file written through a temporary beside it and renamed into place when complete, so a stopped export never leaves half a file under the name. */
class AtomicOut {
  private readonly tmp: string;
  private readonly fd: number;
  private buf: string[] = [];
  private size = 0;
  constructor(readonly file: string) {
    const dir = path.dirname(path.resolve(file));
    fs.mkdirSync(dir, { recursive: true });
    this.tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
    this.fd = fs.openSync(this.tmp, 'w', 0o644);
  }
  write(s: string): void {
    this.buf.push(s);
    this.size += s.length;
    if (this.size > 1 << 20) this.flush();
  }
  private flush(): void {
    if (!this.buf.length) return;
    const b = Buffer.from(this.buf.join(''), 'utf8');
    for (let off = 0; off < b.length; ) off += fs.writeSync(this.fd, b, off);
    this.buf = [];
    this.size = 0;
  }
  commit(): void {
    this.flush();
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    fs.renameSync(this.tmp, this.file);
  }
  abort(): void {
    try {
      fs.closeSync(this.fd);
    } catch {
      /* closed */
    }
    fs.rmSync(this.tmp, { force: true });
  }
}

/** The number an item gets under a policy: the kept score when it passed every check, else null with the reason counted. */
function usable(cell: ScoreCell | undefined, n: NullCounts): number | null {
  if (!cell) {
    n.missing++;
    return null;
  }
  if ('failed' in cell) {
    n.failed++;
    return null;
  }
  if (cell.suspect) {
    n.suspect++;
    return null;
  }
  return cell.logprob;
}

/** `obj` without the value at the dotted path (a copy along the path; the rest shared). */
function withoutPath(obj: Record<string, unknown>, p: string): Record<string, unknown> {
  const segs = parsePath(p);
  const drop = (o: unknown, i: number): unknown => {
    if (o === null || typeof o !== 'object') return o;
    const s = segs[i];
    if (s === EVERY) {
      if (!Array.isArray(o)) return o;
      return i === segs.length - 1 ? [] : o.map((item) => drop(item, i + 1));
    }
    if (Array.isArray(o)) {
      const k = typeof s === 'number' ? s : Number(s);
      if (!Number.isInteger(k) || k >= o.length) return o;
      const c = [...o];
      if (i === segs.length - 1) c.splice(k, 1);
      else c[k] = drop(c[k], i + 1);
      return c;
    }
    const key = String(s);
    if (!Object.hasOwn(o, key)) return o;
    const c: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (k !== key || i < segs.length - 1) Object.defineProperty(c, k, { value: k === key ? drop(v, i + 1) : v, enumerable: true, writable: true, configurable: true });
    return c;
  };
  return drop(obj, 0) as Record<string, unknown>;
}

function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** One cje-eval record for a log item: the record's own fields, CJE's fields set from the item and the scores. */
function cjeRecord(r: LogRecord, fields: FieldMap | undefined, base: number | null, targets: Record<string, number | null>): Record<string, unknown> {
  let out: Record<string, unknown> = r.raw;
  // The values now live in CJE's own fields below; left at their mapped paths, the config's mapping would read
  // them back instead (the logged log-probs, not the exported ones; a record's id for each of its samples).
  for (const name of FIELD_NAMES) {
    const p = fields?.[name];
    if (p) out = withoutPath(out, p);
  }
  // One output record per sample: the list of all samples (and lists of per-sample values) would repeat on every one.
  if (r.group !== undefined) for (const p of ['responses', 'response', 'judge_score', 'oracle_label', 'base_policy_logprob', 'target_policy_logprobs']) out = withoutPath(out, p);
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(out)) setOwn(o, k, v);
  setOwn(o, 'prompt_id', r.id);
  if (r.prompt !== undefined) setOwn(o, 'prompt', r.prompt);
  else if (r.messages) {
    // cje-eval reads a prompt string; a chat record keeps its messages, and its prompt is the last user turn.
    setOwn(o, 'messages', r.messages);
    if (!(typeof o.prompt === 'string')) setOwn(o, 'prompt', [...r.messages].reverse().find((m) => m.role === 'user')?.content ?? '');
  }
  setOwn(o, 'response', r.response);
  setOwn(o, 'base_policy_logprob', base);
  setOwn(o, 'target_policy_logprobs', targets);
  if (r.judgeScore !== undefined) setOwn(o, 'judge_score', r.judgeScore);
  if (r.oracleLabel !== undefined) setOwn(o, 'oracle_label', r.oracleLabel);
  if (r.group !== undefined) {
    const meta = o.metadata && typeof o.metadata === 'object' && !Array.isArray(o.metadata) ? { ...(o.metadata as Record<string, unknown>) } : {};
    meta.group = r.group;
    meta.sample = r.sample;
    setOwn(o, 'metadata', meta);
  }
  return o;
}

function csvCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v > 0 ? 'inf' : v < 0 ? '-inf' : 'nan';
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** Writes the export; throws for an unusable input (the CLI prints it as one line). */
export async function exportScores(opts: ExportOptions): Promise<ExportSummary> {
  const { config } = opts;
  const fields = opts.fields ? { ...config.fields, ...opts.fields } : config.fields;
  const cols = await readScoreColumns(opts.scores);
  const behavior = config.behavior;
  if (!cols.has(behavior)) throw new Error(`${opts.scores} holds no scores of the behavior policy "${behavior}" (policies there: ${[...cols.keys()].join(', ') || 'none'})`);
  const targets = [...Object.keys(config.policies).filter((p) => p !== behavior), ...[...cols.keys()].filter((p) => p !== behavior && !(p in config.policies))];
  const nulls = new Map<string, NullCounts>([behavior, ...targets].map((p) => [p, { policy: p, failed: 0, suspect: 0, missing: 0 }]));
  const out = new AtomicOut(opts.out);
  let items = 0;
  let badLines = 0;
  // Per-item rows kept for the formats that need every weight before writing (self-normalisation, one vector per target).
  const ids: string[] = [];
  const meta: { line: number; group?: string; sample?: number; judge: number | null | undefined }[] = [];
  const lws = targets.map(() => [] as number[]);
  // A sampled response repeating an earlier one of its record shares that one's score line (files written before each sample kept its own).
  const twins = new Map<string, string>();
  let twinLine = -1;
  try {
    for await (const item of readLog(opts.log, { fields })) {
      if (item.kind === 'issue') {
        if (item.issue.line > 0) badLines++;
        opts.onIssue?.(item.issue);
        continue;
      }
      const r = item.record;
      let twin: string | undefined;
      if (r.group !== undefined) {
        // Samples of a line come one after another: the map holds one line's responses at a time.
        if (twinLine !== r.line) {
          twins.clear();
          twinLine = r.line;
        }
        const tk = r.response;
        twin = twins.get(tk);
        if (twin === undefined) twins.set(tk, r.id);
      }
      items++;
      const b = usable(cellOf(cols.get(behavior), r, twin), nulls.get(behavior)!);
      const t: Record<string, number | null> = {};
      for (const name of targets) setOwn(t, name, usable(cellOf(cols.get(name), r, twin), nulls.get(name)!));
      if (opts.format === 'cje') {
        out.write(JSON.stringify(cjeRecord(r, fields, b, t)) + '\n');
        continue;
      }
      ids.push(r.id);
      meta.push({ line: r.line, group: r.group, sample: r.sample, judge: r.judgeScore });
      targets.forEach((name, k) => {
        const v = t[name];
        lws[k].push(b !== null && v !== null ? v - b : NaN);
      });
    }
    const nullWeights: Record<string, number> = {};
    targets.forEach((name, k) => (nullWeights[name] = lws[k].filter((x) => !Number.isFinite(x)).length));
    if (opts.format === 'weights-csv') writeWeightsCsv(out, ids, meta, targets, lws);
    if (opts.format === 'arviz') writeArviz(out, ids, targets, lws, behavior);
    out.commit();
    return { format: opts.format, out: opts.out, items, badLines, behavior, targets, nulls: [...nulls.values()], nullWeights: opts.format === 'cje' ? {} : nullWeights };
  } catch (e) {
    out.abort();
    throw e;
  }
}

function writeWeightsCsv(out: AtomicOut, ids: string[], meta: { line: number; group?: string; sample?: number; judge: number | null | undefined }[], targets: string[], lws: number[][]): void {
  const grouped = meta.some((m) => m.group !== undefined);
  const head = ['id', 'line', ...(grouped ? ['group', 'sample'] : []), 'judge_score'];
  for (const t of targets) head.push(`log_weight.${t}`, `weight.${t}`, `sn_weight.${t}`);
  out.write(head.map(csvCell).join(',') + '\n');
  const sn = lws.map((lw) => selfNormalizedWeights(lw));
  for (let i = 0; i < ids.length; i++) {
    const m = meta[i];
    const row: (string | number | null | undefined)[] = [ids[i], m.line, ...(grouped ? [m.group, m.sample] : []), m.judge];
    for (let k = 0; k < targets.length; k++) {
      const lw = lws[k][i];
      row.push(...(Number.isFinite(lw) ? [lw, Math.exp(lw), sn[k][i]] : [null, null, null]));
    }
    out.write(row.map(csvCell).join(',') + '\n');
  }
}

/**
 * ArviZ's psislw takes log_weights of shape (..., n_samples) and smooths along the
 * last axis; loo::psis takes a vector of log ratios. Both need finite values, so
 * each target gets its own vector of the finite log-weights, with the ids they
 * belong to and the ids left out.
 */
function writeArviz(out: AtomicOut, ids: string[], targets: string[], lws: number[][], behavior: string): void {
  const doc = {
    format: 'cje-inspector/log-weights',
    version: 1,
    layout:
      'targets[T].log_weights: the finite log-weights log pi_T(r|c) - log pi_0(r|c) of target T, one per item, in the order of targets[T].ids; ' +
      'Python: arviz.psislw(numpy.array(doc["targets"][T]["log_weights"])); R: loo::psis(doc$targets[[T]]$log_weights, r_eff = 1)',
    behavior,
    targets: Object.fromEntries(
      targets.map((t, k) => {
        const keep: number[] = [];
        const left: string[] = [];
        lws[k].forEach((v, i) => (Number.isFinite(v) ? keep.push(i) : left.push(ids[i])));
        return [t, { n: keep.length, ids: keep.map((i) => ids[i]), log_weights: keep.map((i) => lws[k][i]), excluded: left }];
      }),
    ),
  };
  out.write(JSON.stringify(doc) + '\n');
}
