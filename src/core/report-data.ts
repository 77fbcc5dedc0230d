// Assembles the report's data (ReportData, see report-types.ts) from a scores
// file (+ optional log and config) or from a log that already carries CJE's
// log-prob fields. Streams every file once, line by line, keeping a few
// numbers per record in typed columns; the per-token data of the few records
// that show it (largest |log w|, identity violations first) is read back by
// byte offset, and the record table carries a selection of the records
// (record-selection.ts), so a report of a million records stays small in
// memory and on the page. No vscode, no DOM.

import { loadConfig, formatConfigProblem } from './config';
import {
  computePolicyDiagnostics,
  differenceSummary,
  noiseFloorFor,
  perTokenDelta,
  seamEffect,
  spreadOf,
  spreadStats,
  withinNoise,
  type EstimateOptions,
  type NoiseFloor,
  type PolicyDiagnostics,
  type RepeatSpread,
} from './diagnostics/index';
import { meanTokenEntropy, responseStats } from './diagnostics/responses';
import { policyFingerprint } from './fingerprint';
import * as fs from 'node:fs';
import { readLines, type RawLine } from './jsonl-lines';
import { mergeFieldMaps, type FieldMap } from './field-map';
import { logFormatOf, readLog, readLogLines } from './log-reader';
import { readLineAt, RecordColumns } from './record-pages';
import { DEFAULT_SELECTION, FLAG_FAILED, FLAG_SUSPECT, selectRecords, selectionSentence, type SelectionLimits } from './record-selection';
import { hasTokenDetail, tokenCount, unpackScoreLine, type StoredScoreLine } from './score-line-form';
import { f64Column, i32Column, LineIndex, u8Column, type TypedColumn } from './typed-column';
import { policyTemplate } from './policy-template';
import { suspectKind } from './suspect-kind';
import type { CjeConfig } from './types';

export { suspectKind };
import {
  REPORT_FORMAT,
  REPORT_VERSION,
  type EndpointProfileReport,
  type Histogram,
  type LoggedIdentity,
  type RepeatReport,
  type IdenticalReport,
  type IdenticalSource,
  type PolicyReport,
  type RecordRow,
  type ReportData,
  type ReportIssue,
  type ResponsesSection,
  type SeamPairReport,
  type SuspectCounts,
  type SuspectReason,
  type SuspectWeights,
  type TokenRecord,
  type TokenSection,
} from './report-types';
import { parseSampleId } from './sample-id';

export * from './report-types';

export interface ReportOptions {
  /** A scores file (from `cje score`) or a log carrying base_policy_logprob / target_policy_logprobs. */
  input: string;
  /** The log the scores belong to: judge scores, response lengths, logged log-probs. */
  log?: string;
  /** cje.config.json: behavior policy and fingerprints. */
  config?: string;
  /** Behavior policy name when no config names it. */
  behavior?: string;
  /** "TARGET=BEHAVIOR" pairs that must be identical. */
  identical?: string[];
  /** How many records keep their per-token data (default 200). */
  tokenRecords?: number;
  /** Identity tolerance on |log w| (default 1e-6). */
  tolerance?: number;
  /** Bootstrap of the IPS/SNIPS intervals; by default B = 2000 up to 25,000 records, then scaled down (at least 50) to keep a report of a million records within seconds. */
  bootstrap?: EstimateOptions;
  /** Histogram bins (default 60). */
  bins?: number;
  /** Timestamp to write (tests pass a fixed one). */
  now?: Date;
  /** Where the log's records keep each field (added over the config's `fields`; --field). */
  fields?: FieldMap;
  /** How many records the record table carries, and of which kinds (record-selection.ts; tests pass small ones). */
  recordTable?: Partial<SelectionLimits>;
}

/** Thrown for a bad input or option (the CLI prints it as a usage error). */
export class ReportInputError extends Error {}

export const IDENTITY_CAUSES = [
  'Logged chat-API log-probs compared with teacher-forced ones: a chat API adds its own formatting and returns log-probs only for tokens it generated; rescore both policies the same way (completions with echo).',
  'Template or system-prompt mismatch: the two policies did not see the same flat text (a different chat template, a default system prompt the family inserts, a double BOS, the end-of-turn token scored for one and not the other).',
  'Tokenization at the prompt/response boundary: the response span was cut at a different token (prompt and response tokenized separately vs. joined).',
  'Non-deterministic scoring: a different server, quantisation or batch shape can change log-probs by more than the tolerance.',
];

const MAX_ISSUES = 50;
/** Resamples × records the default bootstrap may spend per policy. */
const BOOTSTRAP_BUDGET = 5e7;
/**
 * The fewest resamples the default takes: 50 at a million records (from
 * 250,000 records on it goes below 200). Each resample is a pass over every
 * weight in random order (cache misses): 200 of them were half of a
 * million-record report's time. The report's note names the B used;
 * --bootstrap B takes more.
 */
const MIN_AUTO_BOOTSTRAP = 50;

/** The reason written for an approximate score whose line carries none (lines from before the checks). */
export const APPROXIMATE_REASON = "approximate: the response was located by counting the prompt's tokens (span.method prefix_count), not by the echoed text";

/** Counts reasons by kind; each score counts once per kind. */
class ReasonTally {
  private readonly kinds = new Map<string, { count: number; example: string }>();
  add(reasons: readonly string[]): void {
    const seen = new Set<string>();
    for (const r of reasons) {
      const kind = suspectKind(r);
      if (seen.has(kind)) continue;
      seen.add(kind);
      const k = this.kinds.get(kind);
      if (k) k.count++;
      else this.kinds.set(kind, { count: 1, example: r });
    }
  }
  list(): SuspectReason[] {
    return [...this.kinds]
      .map(([kind, v]) => ({ kind, count: v.count, example: v.example }))
      .sort((a, b) => b.count - a.count || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
  }
}

/** Parses repeated `--identical TARGET=BEHAVIOR` values. */
export function parseIdenticalPairs(pairs: string[] | undefined): { target: string; reference: string }[] {
  return (pairs ?? []).map((p) => {
    const m = /^([^=]+)=([^=]+)$/.exec(p.trim());
    if (!m) throw new ReportInputError(`--identical ${p}: expected TARGET=BEHAVIOR`);
    return { target: m[1].trim(), reference: m[2].trim() };
  });
}

/**
 * Whether a file is a scores file (its first non-empty line other than a `kind`
 * line has key, policy and fingerprint; or it holds only `kind` lines) or a log.
 * A scores file starts with its endpoint profiles (doctor-contract.md), which are
 * not score lines.
 */
export async function detectInputKind(file: string): Promise<'scores' | 'log'> {
  let kindLines = false;
  const format = logFormatOf(file);
  // A CSV log is never a scores file; a .gz one is read decompressed.
  if (format.startsWith('csv')) return 'log';
  for await (const l of readLines(file, { maxLineBytes: 64 * 1024 * 1024, gzip: format.endsWith('.gz') })) {
    if (l.text === undefined || l.text.trim() === '') continue;
    try {
      const v = JSON.parse(l.text) as Record<string, unknown>;
      if (v && typeof v === 'object' && !Array.isArray(v) && 'kind' in v) {
        kindLines = true;
        continue;
      }
      if (v && typeof v === 'object' && 'policy' in v && 'key' in v && 'fingerprint' in v) return 'scores';
    } catch {
      /* a broken first line: let the log reader report it */
    }
    return 'log';
  }
  return kindLines ? 'scores' : 'log';
}

/** The `kind` lines of a scores file that the report reads (doctor-contract.md); any other kind is skipped. */
const KNOWN_KINDS = new Set(['endpoint_profile', 'repeat']);

/** Reads an endpoint_profile line; a string naming the bad field when it is not one. */
function parseProfile(v: Record<string, unknown>, line: number): EndpointProfileReport | string {
  for (const f of ['provider', 'baseURL', 'model'] as const) if (typeof v[f] !== 'string') return `endpoint_profile: field "${f}" must be a string`;
  if (!Array.isArray(v.policies) || !v.policies.every((p) => typeof p === 'string')) return 'endpoint_profile: field "policies" must be a list of policy names';
  const probesIn = v.probes;
  if (!probesIn || typeof probesIn !== 'object' || Array.isArray(probesIn)) return 'endpoint_profile: field "probes" must be an object';
  const probes: Record<string, boolean | number | string | null> = {};
  for (const [k, x] of Object.entries(probesIn as Record<string, unknown>)) {
    if (x === null || typeof x === 'boolean' || typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))) probes[k] = x;
    else return `endpoint_profile: probes.${k} must be a boolean, number, string or null`;
  }
  const strings = (x: unknown, f: string): string[] | string => {
    if (x === undefined) return [];
    return Array.isArray(x) && x.every((e) => typeof e === 'string') ? x : `endpoint_profile: field "${f}" must be a list of strings`;
  };
  const blockers = strings(v.blockers, 'blockers');
  if (typeof blockers === 'string') return blockers;
  const warnings = strings(v.warnings, 'warnings');
  if (typeof warnings === 'string') return warnings;
  const reasons: Record<string, string> = {};
  if (v.reasons !== undefined) {
    if (!v.reasons || typeof v.reasons !== 'object' || Array.isArray(v.reasons)) return 'endpoint_profile: field "reasons" must be an object';
    for (const [k, x] of Object.entries(v.reasons as Record<string, unknown>)) if (typeof x === 'string') reasons[k] = x;
  }
  return {
    line,
    provider: v.provider as string,
    baseURL: v.baseURL as string,
    model: v.model as string,
    policies: v.policies as string[],
    measured_at: typeof v.measured_at === 'string' ? v.measured_at : null,
    probes,
    reasons,
    blockers,
    warnings,
  };
}

/** Reads a repeat line; a string naming the bad field when it is not one. */
function parseRepeat(v: Record<string, unknown>): { policy: string; record: string; line: number | null; logprobs: number[] } | string {
  if (typeof v.policy !== 'string' || !v.policy) return 'repeat: field "policy" must be a policy name';
  if (typeof v.record !== 'string') return 'repeat: field "record" must be a string';
  if (v.line !== undefined && (typeof v.line !== 'number' || !Number.isInteger(v.line))) return 'repeat: field "line" must be a whole number';
  if (!Array.isArray(v.logprobs) || !v.logprobs.every((x) => x === null || typeof x === 'number')) return 'repeat: field "logprobs" must be a list of numbers';
  return { policy: v.policy, record: v.record, line: typeof v.line === 'number' ? v.line : null, logprobs: (v.logprobs as (number | null)[]).filter((x): x is number => typeof x === 'number') };
}

/** Repeat spreads per policy (RepeatReport), policies in order of appearance. */
function repeatReports(spreads: RepeatSpread[], ks: Map<string, number>, bins: number, values: Map<RepeatSpread, number[]>): RepeatReport[] {
  const by = new Map<string, RepeatSpread[]>();
  for (const s of spreads) {
    let l = by.get(s.policy);
    if (!l) by.set(s.policy, (l = []));
    l.push(s);
  }
  const out: RepeatReport[] = [];
  for (const [policy, l] of by) {
    const st = spreadStats(l.map((s) => s.spread))!;
    const top = [...l].sort((a, b) => b.spread - a.spread).slice(0, 20);
    out.push({
      policy,
      n: st.n,
      k: ks.get(policy) ?? 0,
      median: st.median,
      mean: st.mean,
      p95: st.p95,
      max: st.max,
      histogram: histogram(l.map((s) => s.spread), bins),
      top: top.map((s) => ({ record: s.record, line: s.line, spread: s.spread, logprobs: values.get(s) ?? [] })),
    });
  }
  return out;
}

function fmtNats(x: number): string {
  return x >= 1e5 || (x > 0 && x < 5e-4) ? x.toExponential(2) : x.toFixed(3);
}

/** The sentence that classifies a pair's violations against its floor (IdenticalReport.noise_verdict). */
export function noiseVerdict(violations: number, floor: NoiseFloor | null, within: number, beyond: number): string | null {
  if (violations === 0) return null;
  if (!floor) {
    return 'No noise floor measured for this endpoint: run `cje doctor` or `cje score --repeat K` to tell nondeterminism from a scoring error.';
  }
  const what = floor.source === 'repeat' ? `max |Δ| ${fmtNats(floor.value)} nats over ${floor.n} repeated record scorings` : `max |Δ| ${fmtNats(floor.value)} nats measured by the endpoint probe`;
  const parts: string[] = [];
  if (within) parts.push(`${within} within the endpoint's nondeterminism (${what})`);
  if (beyond) parts.push(`${beyond} beyond the endpoint's measured nondeterminism (${what}): a scoring error (template, BOS, seam)`);
  return parts.join('; ');
}

/** Scoring fingerprint of every policy of a config (null where the template cannot be loaded). */
export function configFingerprints(config: CjeConfig, notes: string[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const [name, p] of Object.entries(config.policies)) {
    try {
      out.set(name, policyFingerprint(p, policyTemplate(p, config)));
    } catch (e) {
      out.set(name, null);
      notes.push(`policy ${name}: no fingerprint (${(e as Error).message})`);
    }
  }
  return out;
}

/** Histogram of the finite values of `xs` in `bins` equal bins. */
export function histogram(xs: ArrayLike<number | null>, bins = 60): Histogram | null {
  let lo = Infinity;
  let hi = -Infinity;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    n++;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (n === 0) return null;
  if (hi - lo < 1e-9) {
    // All (nearly) equal: one bin centred on the value, so a chart still shows it.
    const w = Math.max(Math.abs(lo) * 1e-3, 1e-3);
    return { lo: lo - w / 2, width: w, counts: [n] };
  }
  const width = (hi - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  return { lo, width, counts };
}

/**
 * The records, one entry per column: a million records cost a few numbers
 * each in typed arrays (NaN / -1 where a value is missing), not an object.
 * Ids are kept as strings while the report is built (the diagnostics list
 * records by id) and are not kept after it.
 */
interface Rows {
  n: number;
  ids: string[];
  line: TypedColumn<Int32Array>;
  judge: TypedColumn<Float64Array>;
  /** Response length in characters (-1: unknown). */
  chars: TypedColumn<Int32Array>;
  /** Response length in code points (Python's len, which CJE's TTC divides by; -1: unknown). */
  cps: TypedColumn<Int32Array>;
  /** 1 where the row is one sampled response of a record (several rows share its line; its id is RECORD#i). */
  sample: TypedColumn<Uint8Array>;
  /** An earlier row of the same record with the same response (-1: none): the scores file holds one score for both (same key and line). */
  twin: TypedColumn<Int32Array>;
  /** Rows of sampled responses by line and id (the others are found by line alone). */
  bySample: Map<string, number>;
  /** Where the record's log line starts and how long it is (NaN / -1: the row came from the scores file only). */
  logOffset: TypedColumn<Float64Array>;
  logBytes: TypedColumn<Int32Array>;
  /** For a row the log does not have: the scores line that named it first. */
  scoreOffset: TypedColumn<Float64Array>;
  scoreBytes: TypedColumn<Int32Array>;
  /** Logged log-probs from the log: behavior under '', targets by name (NaN: null or absent). */
  logged: Map<string, TypedColumn<Float64Array>>;
  byLine: LineIndex;
}

function newRows(): Rows {
  return {
    n: 0,
    ids: [],
    line: i32Column(0),
    judge: f64Column(),
    chars: i32Column(-1),
    cps: i32Column(-1),
    sample: u8Column(),
    twin: i32Column(-1),
    bySample: new Map(),
    logOffset: f64Column(),
    logBytes: i32Column(-1),
    scoreOffset: f64Column(),
    scoreBytes: i32Column(-1),
    logged: new Map(),
    byLine: new LineIndex(),
  };
}

/** State of a policy's score of a record. */
const NONE = 0;
/** The latest successful line (logprob a number, or null). */
const OK = 1;
/** Only error lines. */
const FAILED = 2;

interface PolicyColumn {
  /** Latest successful log-prob per row (NaN: none, or null). */
  lp: TypedColumn<Float64Array>;
  state: TypedColumn<Uint8Array>;
  ntok: TypedColumn<Int32Array>;
  /** Mean per-token entropy of the response, where the server gave entropies. */
  ent: TypedColumn<Float64Array>;
  /** Suspect reasons of the kept score: an index into Reasons (-1: not suspect). */
  sus: TypedColumn<Int32Array>;
  /** The kept score is approximate (span.approximate). */
  apx: TypedColumn<Uint8Array>;
  /** The kept score's line carries `checks`: 2; predates them: 1; no kept score, or a log: 0. */
  chk: TypedColumn<Uint8Array>;
  /** seam_group of the kept score (an index into seamNames, -1: none), where its line names one and its span's tokenization. */
  seam: TypedColumn<Int32Array>;
  /** The latest successful line with token detail: where it starts in the scores file, and its length. */
  detOffset: TypedColumn<Float64Array>;
  detBytes: TypedColumn<Int32Array>;
  fingerprints: Set<string>;
}

function column(): PolicyColumn {
  return {
    lp: f64Column(),
    state: u8Column(),
    ntok: i32Column(-1),
    ent: f64Column(),
    sus: i32Column(-1),
    apx: u8Column(),
    chk: u8Column(),
    seam: i32Column(-1),
    detOffset: f64Column(),
    detBytes: i32Column(-1),
    fingerprints: new Set(),
  };
}

/** Suspect reason lists, each distinct list once: a million approximate scores share one. */
class Reasons {
  private readonly ids = new Map<string, number>();
  readonly lists: string[][] = [];
  id(reasons: string[]): number {
    const k = JSON.stringify(reasons);
    let i = this.ids.get(k);
    if (i === undefined) {
      i = this.lists.length;
      this.lists.push(reasons);
      this.ids.set(k, i);
    }
    return i;
  }
}

/** A kept score: the record's latest line without an error and with a finite log-prob. */
function kept(c: PolicyColumn, i: number): boolean {
  return c.state.get(i) === OK && Number.isFinite(c.lp.get(i));
}

function suspectOf(c: PolicyColumn, i: number, reasons: Reasons): string[] | undefined {
  const s = c.sus.get(i);
  return s >= 0 ? reasons.lists[s] : undefined;
}

function suspectCounts(c: PolicyColumn, n: number, reasons: Reasons): SuspectCounts {
  const tally = new ReasonTally();
  let suspect = 0;
  let approximate = 0;
  let unchecked = 0;
  for (let i = 0; i < n; i++) {
    if (!kept(c, i)) continue;
    if (c.chk.get(i) === 1) unchecked++;
    const r = suspectOf(c, i, reasons);
    if (!r) continue;
    suspect++;
    if (c.apx.get(i)) approximate++;
    tally.add(r);
  }
  return { suspect, approximate, suspect_reasons: tally.list(), unchecked };
}

function suspectWeights(b: PolicyColumn, t: PolicyColumn, lw: Float64Array, reasons: Reasons): SuspectWeights {
  const tally = new ReasonTally();
  const out: SuspectWeights = { n: 0, approximate: 0, behavior: 0, target: 0, reasons: [] };
  for (let i = 0; i < lw.length; i++) {
    if (Number.isNaN(lw[i])) continue;
    const bs = suspectOf(b, i, reasons);
    const ts = suspectOf(t, i, reasons);
    if (!bs && !ts) continue;
    out.n++;
    if (b.apx.get(i) || t.apx.get(i)) out.approximate++;
    if (bs) {
      out.behavior++;
      tally.add(bs);
    }
    if (ts) {
      out.target++;
      tally.add(ts);
    }
  }
  out.reasons = tally.list();
  return out;
}

/** Where the latest 64 lines start, by line number modulo 64 (typed: no object per line). */
interface RecentLines {
  line: Int32Array;
  offset: Float64Array;
  bytes: Int32Array;
}

/**
 * readLines, noting where the latest lines start, for readLogLines (which
 * yields a line's records before it reads the next line, so a few lines back
 * are plenty). A thin iterator, not another async generator: one layer less
 * of promises a line.
 */
function withOffsets(file: string, at: RecentLines): AsyncIterable<RawLine> {
  const inner = readLines(file)[Symbol.asyncIterator]();
  return {
    [Symbol.asyncIterator]: () => ({
      next: () =>
        inner.next().then((r) => {
          if (!r.done) {
            const k = r.value.line & 63;
            at.line[k] = r.value.line;
            at.offset[k] = r.value.offset;
            at.bytes[k] = r.value.bytes;
          }
          return r;
        }),
      // An early stop (readLogLines gives up on a file that is not a log) closes the file.
      return: (v?: unknown) => inner.return(v as never),
    }),
  };
}

async function readLogRows(
  file: string,
  rows: Rows,
  issues: ReportIssue[],
  counter: { issues: number },
  targetOrder: string[],
  fields?: FieldMap,
): Promise<void> {
  const seenTargets = new Set(targetOrder);
  const at: RecentLines = { line: new Int32Array(64).fill(-1), offset: new Float64Array(64), bytes: new Int32Array(64) };
  // A plain JSONL log is read with its offsets (the panel reads a record back by them); a .gz or CSV one is not.
  const items = logFormatOf(file) === 'jsonl' ? readLogLines(file, withOffsets(file, at), { fields }) : readLog(file, { fields });
  /** Responses of the current line's samples, for their twins (samples of a line come one after another). */
  let twinLine = -1;
  const twins = new Map<string, number>();
  for await (const item of items) {
    if (item.kind === 'issue') {
      counter.issues++;
      if (issues.length < MAX_ISSUES) issues.push({ file: item.issue.file, line: item.issue.line, reason: item.issue.reason });
      continue;
    }
    const r = item.record;
    const i = rows.n++;
    const log = (k: string, v: number | null | undefined) => {
      let c = rows.logged.get(k);
      if (!c) rows.logged.set(k, (c = f64Column()));
      c.set(i, typeof v === 'number' ? v : NaN);
    };
    if (r.baseLogprob !== undefined) log('', r.baseLogprob);
    for (const [k, v] of Object.entries(r.targetLogprobs ?? {})) {
      log(k, v);
      if (!seenTargets.has(k)) {
        seenTargets.add(k);
        targetOrder.push(k);
      }
    }
    if (r.group !== undefined) {
      rows.sample.set(i, 1);
      rows.bySample.set(sampleKey(r.line, r.id), i);
      if (twinLine !== r.line) {
        twins.clear();
        twinLine = r.line;
      }
      const t = twins.get(r.response);
      if (t === undefined) twins.set(r.response, i);
      else rows.twin.set(i, t);
    } else rows.byLine.set(r.line, i);
    rows.ids.push(r.id);
    rows.line.set(i, r.line);
    rows.judge.set(i, typeof r.judgeScore === 'number' ? r.judgeScore : NaN);
    rows.chars.set(i, r.response.length);
    rows.cps.set(i, r.response.length - (r.response.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0));
    const k = r.line & 63;
    if (at.line[k] === r.line) {
      rows.logOffset.set(i, at.offset[k]);
      rows.logBytes.set(i, at.bytes[k]);
    }
  }
}

const sampleKey = (line: number, id: string) => `${line}\0${id}`;


/** A score line's row: a sampled response's by line and id, any other record's by line. */
function rowOf(rows: Rows, line: number, record: string): number | undefined {
  return (rows.bySample.size ? rows.bySample.get(sampleKey(line, record)) : undefined) ?? rows.byLine.get(line);
}

function isScoreLine(v: unknown): v is StoredScoreLine {
  const o = v as Record<string, unknown>;
  return !!o && typeof o === 'object' && typeof o.policy === 'string' && typeof o.line === 'number' && typeof o.record === 'string';
}

/** What buildReport returns: the report's data, and the columns the panel pages through (host side, not JSON). */
export interface ReportBuild {
  data: ReportData;
  columns: RecordColumns;
}

/** Builds the report data. Throws ReportInputError for unusable inputs or options. */
export async function buildReportData(opts: ReportOptions): Promise<ReportData> {
  return (await buildReport(opts)).data;
}

/** Builds the report data and the record columns behind it. Throws ReportInputError for unusable inputs or options. */
export async function buildReport(opts: ReportOptions): Promise<ReportBuild> {
  const notes: string[] = [];
  const issues: ReportIssue[] = [];
  const counter = { issues: 0 };
  const tol = opts.tolerance ?? 1e-6;
  const kind = await detectInputKind(opts.input);
  const pairs = parseIdenticalPairs(opts.identical);

  // Config: behavior and fingerprints.
  let config: CjeConfig | null = null;
  let cfgFp = new Map<string, string | null>();
  if (opts.config) {
    const loaded = loadConfig(opts.config);
    if (!loaded.config) {
      throw new ReportInputError(loaded.problems.map((p) => formatConfigProblem(opts.config!, p)).join('\n'));
    }
    config = loaded.config;
    cfgFp = configFingerprints(config, notes);
  }
  const refs = new Set(pairs.map((p) => p.reference));
  let behavior = opts.behavior ?? config?.behavior;
  if (!behavior && refs.size === 1) behavior = [...refs][0];
  if (refs.size > 0 && behavior && [...refs].some((r) => r !== behavior)) {
    throw new ReportInputError(
      `--identical: the reference policy must be the behavior policy "${behavior}" (got ${[...refs].filter((r) => r !== behavior).join(', ')})`,
    );
  }

  const rows = newRows();
  const targetOrder: string[] = [];
  const fields = mergeFieldMaps(config?.fields, opts.fields);
  const cols = new Map<string, PolicyColumn>();
  const reasons = new Reasons();
  /** Policies that scored each seam group, by tokenization, in order of appearance. */
  const seamGroups = new Map<string, { joined: string[]; separate: string[] }>();
  const seamNames: string[] = [];
  const seamIds = new Map<string, number>();
  /** Rows with per-token data under any policy. */
  const withTokens = u8Column();
  let tokenTotal = 0;
  /** Endpoint profiles by endpoint, the latest line winning; repeat lines by (policy, record). */
  const profiles = new Map<string, EndpointProfileReport>();
  const repeatsIn = new Map<string, { policy: string; record: string; line: number | null; logprobs: number[] }>();
  const unknownKinds = new Map<string, number>();

  if (kind === 'log') {
    if (opts.log) notes.push(`--log ${opts.log} ignored: the input is itself a log`);
    await readLogRows(opts.input, rows, issues, counter, targetOrder, fields);
    behavior = behavior ?? 'base';
    // The log's own log-probs are the scores: each logged column becomes a policy's.
    const fromLog = (k: string) => {
      const c = column();
      const lg = rows.logged.get(k);
      for (let i = 0; i < rows.n; i++) {
        const v = lg ? lg.get(i) : NaN;
        c.lp.set(i, v);
        // Absent and null alike: no number (the log says nothing else about its scores).
        if (!Number.isNaN(v)) c.state.set(i, OK);
      }
      return c;
    };
    cols.set(behavior, fromLog(''));
    for (const t of targetOrder) cols.set(t, fromLog(t));
    if (rows.n && rows.logged.size === 0) {
      throw new ReportInputError(
        `${opts.input}: the log carries no base_policy_logprob / target_policy_logprobs; score it first (cje score) and report on the scores file`,
      );
    }
  } else {
    if (opts.log) await readLogRows(opts.log, rows, issues, counter, [], fields);
    const seen: string[] = [];
    for await (const l of readLines(opts.input, { maxLineBytes: 256 * 1024 * 1024 })) {
      if (l.text === undefined) {
        counter.issues++;
        if (issues.length < MAX_ISSUES) issues.push({ file: opts.input, line: l.line, reason: `line of ${l.bytes} bytes is too long` });
        continue;
      }
      if (!l.text.trim()) continue;
      let s: unknown;
      try {
        s = JSON.parse(l.text);
      } catch (e) {
        counter.issues++;
        if (issues.length < MAX_ISSUES) issues.push({ file: opts.input, line: l.line, reason: `invalid JSON: ${(e as Error).message}` });
        continue;
      }
      if (s && typeof s === 'object' && !Array.isArray(s) && 'kind' in s) {
        const v = s as Record<string, unknown>;
        const k = typeof v.kind === 'string' ? v.kind : JSON.stringify(v.kind);
        if (!KNOWN_KINDS.has(k)) {
          unknownKinds.set(k, (unknownKinds.get(k) ?? 0) + 1);
          continue;
        }
        const parsed = k === 'endpoint_profile' ? parseProfile(v, l.line) : parseRepeat(v);
        if (typeof parsed === 'string') {
          counter.issues++;
          if (issues.length < MAX_ISSUES) issues.push({ file: opts.input, line: l.line, reason: parsed });
          continue;
        }
        if (k === 'endpoint_profile') {
          const p = parsed as EndpointProfileReport;
          // A later run measures again: its profile replaces the earlier one of the same endpoint.
          profiles.set(JSON.stringify([p.provider, p.baseURL, p.model]), p);
        } else {
          const r = parsed as { policy: string; record: string; line: number | null; logprobs: number[] };
          repeatsIn.set(JSON.stringify([r.policy, r.line ?? r.record]), r);
        }
        continue;
      }
      if (!isScoreLine(s)) {
        counter.issues++;
        if (issues.length < MAX_ISSUES) issues.push({ file: opts.input, line: l.line, reason: 'not a score line (needs policy, record, line)' });
        continue;
      }
      // Any stored form; the tokens are read later for the few records that show them.
      const detail = hasTokenDetail(s as unknown as Record<string, unknown>);
      s = unpackScoreLine(s as unknown as Record<string, unknown>, { tokens: false });
      if (!isScoreLine(s)) continue;
      let i = rowOf(rows, s.line, s.record);
      if (i === undefined) {
        i = rows.n++;
        // Without the log, a sampled response is known by its id (RECORD#i): each is its own row; any other
        // record is its line's row, whatever id an earlier version gave it (line:N before ids were read).
        if (!opts.log && parseSampleId(s.record)) {
          rows.bySample.set(sampleKey(s.line, s.record), i);
          rows.sample.set(i, 1);
        } else rows.byLine.set(s.line, i);
        rows.ids.push(s.record);
        rows.line.set(i, s.line);
        rows.scoreOffset.set(i, l.offset);
        rows.scoreBytes.set(i, l.bytes);
      } else if (rows.logBytes.get(i) < 0 && rows.scoreBytes.get(i) < 0) {
        // A row of a .gz or CSV log (read without offsets): the panel reads its id back from this line instead.
        rows.scoreOffset.set(i, l.offset);
        rows.scoreBytes.set(i, l.bytes);
      }
      let c = cols.get(s.policy);
      if (!c) {
        c = column();
        cols.set(s.policy, c);
        seen.push(s.policy);
      }
      if (typeof s.fingerprint === 'string') c.fingerprints.add(s.fingerprint);
      const ok = s.error === null || s.error === undefined;
      if (ok && (typeof s.logprob === 'number' || s.logprob === null)) {
        c.lp.set(i, typeof s.logprob === 'number' ? s.logprob : NaN);
        c.state.set(i, OK);
        c.sus.set(i, -1);
        c.apx.set(i, 0);
        c.chk.set(i, 0);
        c.seam.set(i, -1);
        if (typeof s.logprob === 'number' && Number.isFinite(s.logprob)) {
          const approximate = s.span?.approximate === true;
          const rs = Array.isArray(s.suspect) ? s.suspect.filter((r): r is string => typeof r === 'string' && r !== '') : [];
          if (approximate && !rs.some((r) => suspectKind(r) === 'approximate')) rs.unshift(APPROXIMATE_REASON);
          if (rs.length) c.sus.set(i, reasons.id(rs));
          if (approximate) c.apx.set(i, 1);
          c.chk.set(i, typeof s.checks === 'number' ? 2 : 1);
          const tz = s.span?.tokenization;
          if (typeof s.seam_group === 'string' && s.seam_group && (tz === 'joined' || tz === 'separate')) {
            let gi = seamIds.get(s.seam_group);
            if (gi === undefined) {
              seamIds.set(s.seam_group, (gi = seamNames.length));
              seamNames.push(s.seam_group);
            }
            c.seam.set(i, gi);
            let g = seamGroups.get(s.seam_group);
            if (!g) seamGroups.set(s.seam_group, (g = { joined: [], separate: [] }));
            if (!g[tz].includes(s.policy)) g[tz].push(s.policy);
          }
        }
        const nt = tokenCount(s);
        if (nt) c.ntok.set(i, nt);
        if (detail) {
          c.detOffset.set(i, l.offset);
          c.detBytes.set(i, l.bytes);
          if (!withTokens.get(i)) {
            withTokens.set(i, 1);
            tokenTotal++;
          }
        }
        if (Array.isArray(s.entropy)) c.ent.set(i, meanTokenEntropy(s.entropy) ?? NaN);
        else if (typeof s.mean_entropy === 'number') c.ent.set(i, s.mean_entropy);
      } else if (c.state.get(i) === NONE) {
        c.state.set(i, FAILED);
      }
    }
    // A sampled response that repeats an earlier one of its record has no score line of its own: it shares that one's.
    if (rows.bySample.size) {
      for (let i = 0; i < rows.n; i++) {
        const t = rows.twin.get(i);
        if (t < 0) continue;
        for (const c of cols.values()) {
          if (c.state.get(i) !== NONE) continue;
          for (const col of [c.lp, c.state, c.ntok, c.ent, c.sus, c.apx, c.chk, c.seam, c.detOffset, c.detBytes] as TypedColumn<Float64Array | Int32Array | Uint8Array>[]) col.set(i, col.get(t));
        }
      }
    }
    for (const [k, c] of unknownKinds) notes.push(`${c} line(s) of kind "${k}" in ${opts.input} skipped (not read by this version)`);
    if (!behavior) {
      throw new ReportInputError(
        `which policy is the behavior? ${opts.input} has scores for ${seen.join(', ')}; give --config, --behavior NAME or --identical TARGET=BEHAVIOR`,
      );
    }
    if (!cols.has(behavior)) {
      throw new ReportInputError(`the behavior policy "${behavior}" has no scores in ${opts.input} (policies there: ${seen.join(', ') || 'none'})`);
    }
    targetOrder.push(...(config ? Object.keys(config.policies).filter((p) => cols.has(p)) : []));
    for (const p of seen) if (!targetOrder.includes(p)) targetOrder.push(p);
  }
  const targets = targetOrder.filter((t) => t !== behavior);
  if (!targets.length) {
    throw new ReportInputError(`${opts.input}: no target policy besides the behavior "${behavior}": nothing to weigh`);
  }
  for (const p of pairs) {
    if (!targets.includes(p.target)) {
      throw new ReportInputError(`--identical ${p.target}=${p.reference}: no target policy "${p.target}" (targets: ${targets.join(', ') || 'none'})`);
    }
  }

  // Fingerprints: the config's, else the scores file's (one per policy).
  const fingerprint = (name: string): string | null => {
    if (cfgFp.has(name)) return cfgFp.get(name) ?? null;
    const fps = cols.get(name)?.fingerprints;
    if (fps && fps.size === 1) return [...fps][0];
    if (fps && fps.size > 1) notes.push(`policy ${name}: the scores file holds ${fps.size} different fingerprints (config changed between runs?)`);
    return null;
  };
  if (config) {
    for (const t of targets) if (!(t in config.policies)) notes.push(`policy ${t} is not in the config ${opts.config}: its fingerprint is unknown`);
  }

  const n = rows.n;
  const ids = rows.ids;
  const bcol = cols.get(behavior)!;
  const rescoredColumn = (c: PolicyColumn): (number | null)[] => {
    const out: (number | null)[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const v = c.lp.get(i);
      out[i] = c.state.get(i) === OK && !Number.isNaN(v) ? v : null;
    }
    return out;
  };
  const blp = rescoredColumn(bcol);
  const judgeCol = rows.judge.take(n);
  const judges: (number | null)[] = Array.from(judgeCol, (j) => (Number.isNaN(j) ? null : j));
  const hasJudge = judges.some((j) => j !== null);
  const behaviorFp = fingerprint(behavior);
  const bootstrap: EstimateOptions = { ...opts.bootstrap };
  if (bootstrap.b === undefined && hasJudge) {
    bootstrap.b = Math.max(MIN_AUTO_BOOTSTRAP, Math.min(2000, Math.floor(BOOTSTRAP_BUDGET / Math.max(1, n))));
    if (bootstrap.b < 2000) notes.push(`bootstrap intervals use B = ${bootstrap.b} resamples for ${n} records (--bootstrap B to change)`);
  }

  const loggedColumn = (name: string): Float64Array | null => {
    if (kind !== 'scores') return null;
    const c = rows.logged.get(name === behavior ? '' : name);
    return c ? c.take(n) : null;
  };
  const errorsOf = (c: PolicyColumn) => {
    let e = 0;
    for (let i = 0; i < n; i++) if (c.state.get(i) === FAILED) e++;
    return e;
  };
  const lvr = (name: string, c: PolicyColumn) => {
    const logged = loggedColumn(name);
    return logged ? differenceSummary(logged, rescoredColumn(c), config?.logprobTolerance ?? 0.01) : null;
  };

  const spreads: RepeatSpread[] = [];
  const spreadValues = new Map<RepeatSpread, number[]>();
  const repeatK = new Map<string, number>();
  for (const r of repeatsIn.values()) {
    const sp = spreadOf(r.logprobs);
    if (!sp) continue;
    const rs: RepeatSpread = { policy: r.policy, record: r.record, line: r.line, spread: sp.spread, k: sp.k };
    spreads.push(rs);
    spreadValues.set(rs, r.logprobs);
    repeatK.set(r.policy, Math.max(repeatK.get(r.policy) ?? 0, sp.k));
  }
  const endpoints = [...profiles.values()].sort((a, b) => a.line - b.line);
  const profileFloors = endpoints.map((p) => ({ policies: p.policies, noiseFloor: typeof p.probes.noiseFloor === 'number' ? p.probes.noiseFloor : null }));
  const judgeRange = (() => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const j of judges) {
      if (j === null || !Number.isFinite(j)) continue;
      if (j < lo) lo = j;
      if (j > hi) hi = j;
    }
    return lo <= hi ? { min: lo, max: hi } : null;
  })();

  const lwColumns: Float64Array[] = [];
  const policies: PolicyReport[] = [];
  for (const t of targets) {
    const c = cols.get(t)!;
    const tlp = rescoredColumn(c);
    const fp = fingerprint(t);
    let source: IdenticalSource | null = null;
    if (pairs.some((p) => p.target === t)) source = 'flag';
    else if (fp !== null && behaviorFp !== null && fp === behaviorFp) source = cfgFp.has(t) ? 'config-fingerprint' : 'scores-fingerprint';
    const d: PolicyDiagnostics = computePolicyDiagnostics({
      name: t,
      records: ids,
      behaviorLogprobs: blp,
      targetLogprobs: tlp,
      judgeScores: hasJudge ? judges : undefined,
      expectedIdentical: source !== null,
      tolerance: tol,
      bootstrap,
      responseLengths: { tokens: c.ntok.take(n), chars: rows.cps.take(n) },
    });
    const lw = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const b = blp[i];
      const v = tlp[i];
      lw[i] = b !== null && v !== null && Number.isFinite(v - b) ? v - b : NaN;
    }
    lwColumns.push(lw);
    const watched = d.identical.expected || d.identical.probable;
    const floor = watched ? noiseFloorFor(t, behavior, spreads, profileFloors) : null;
    const ips = d.estimates?.ips;
    policies.push({
      ...d,
      identical: withLines(d.identical, lw, rows, tol, source, floor, watched && kind === 'scores' ? loggedIdentity(rows, t, tol) : null),
      fingerprint: fp,
      histogram: histogram(lw, opts.bins ?? 60),
      logged_vs_rescored: lvr(t, c),
      score_errors: errorsOf(c),
      ...suspectCounts(c, n, reasons),
      suspect_weights: suspectWeights(bcol, c, lw, reasons),
      ips_outside_judge_range: typeof ips === 'number' && judgeRange !== null && (ips < judgeRange.min || ips > judgeRange.max),
    });
  }

  // Per record: which policies' kept scores are suspect / approximate (bit k: 0 = behavior, k + 1 = targets[k]).
  const rowCols = [bcol, ...targets.map((t) => cols.get(t)!)];
  const susBits = new Uint32Array(n);
  const apxBits = new Uint32Array(n);
  const flags = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < rowCols.length && k < 32; k++) {
      const c = rowCols[k];
      if (!kept(c, i)) {
        if (c.state.get(i) === FAILED) flags[i] |= FLAG_FAILED;
        continue;
      }
      if (c.sus.get(i) >= 0) susBits[i] |= 1 << k;
      if (c.apx.get(i)) apxBits[i] |= 1 << k;
    }
    if (susBits[i]) flags[i] |= FLAG_SUSPECT;
  }
  const identityTolerance = policies.map((p) => (p.identical.expected || p.identical.probable ? p.identical.tolerance : null));
  const limits: SelectionLimits = { ...DEFAULT_SELECTION, ...opts.recordTable };
  const selection = selectRecords({ n, lw: lwColumns, identityTolerance, flags }, limits);
  const bntok = bcol.ntok.take(n);
  const columns = new RecordColumns({
    targets,
    line: rows.line.take(n),
    judge: judgeCol,
    chars: rows.chars.take(n),
    ntok: bntok,
    blp: Float64Array.from(blp, (v) => (v === null ? NaN : v)),
    lw: lwColumns,
    sus: susBits,
    apx: apxBits,
    identityTolerance,
    tableRow: new Int32Array(n).fill(-1),
    files: {
      log: kind === 'log' ? opts.input : opts.log ?? null,
      scores: kind === 'scores' ? opts.input : null,
    },
    logOffset: rows.logOffset.take(n),
    logBytes: rows.logBytes.take(n),
    scoreOffset: rows.scoreOffset.take(n),
    scoreBytes: rows.scoreBytes.take(n),
    ...(rows.bySample.size ? { sampleIndex: Int32Array.from({ length: n }, (_, i) => (rows.sample.get(i) ? parseSampleId(ids[i])!.index : -1)) } : {}),
    fields,
  });
  const records: RecordRow[] = Array.from(selection.rows, (i) => {
    const r = columns.row(i, ids[i]);
    return rows.sample.get(i) ? { ...r, group: parseSampleId(ids[i])!.group } : r;
  });
  /** Position in `records` of each selected record (-1: not in the table). */
  const tableRow = columns.c.tableRow;
  selection.rows.forEach((i, k) => (tableRow[i] = k));

  const seam = seamPairs(seamGroups, seamIds, cols, rows, tol, opts.bins ?? 60);

  const tokens: TokenSection =
    kind === 'scores'
      ? await collectTokens(opts.input, behavior, targets, cols, policies, lwColumns, tableRow, tokenTotal, opts.tokenRecords ?? 200)
      : {
          available: false,
          total: 0,
          included: 0,
          selection: 'The input is a log with total log-probs only: no per-token data. Score it with `cje score` and report on the scores file to see token heatmaps.',
          records: [],
        };

  // Typed arrays with NaN where a value is missing: no array of a million boxed numbers per statistic.
  const asLengths = (col: TypedColumn<Int32Array>) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const v = col.get(i);
      out[i] = v >= 0 ? v : NaN;
    }
    return out;
  };
  const responses: ResponsesSection = {
    chars: responseStats(asLengths(rows.chars), judgeCol),
    tokens: kind === 'scores' ? [behavior, ...targets].map((name) => {
      const c = cols.get(name)!;
      return { policy: name, ...responseStats(asLengths(c.ntok), judgeCol, c.ent.take(n)) };
    }) : [],
  };

  if (counter.issues > issues.length) notes.push(`${counter.issues} input issues; the first ${issues.length} are listed`);
  const data: ReportData = {
    format: REPORT_FORMAT,
    version: REPORT_VERSION,
    meta: {
      tool: 'cje-inspector',
      generated_at: (opts.now ?? new Date()).toISOString(),
      input: opts.input,
      input_kind: kind,
      log: kind === 'scores' ? (opts.log ?? null) : opts.input,
      config: opts.config ?? null,
      behavior: {
        name: behavior,
        fingerprint: behaviorFp,
        logged_vs_rescored: lvr(behavior, bcol),
        score_errors: errorsOf(bcol),
        ...suspectCounts(bcol, n, reasons),
      },
      targets,
      n_records: n,
      ...groupCounts(rows),
      n_judged: judges.filter((j) => j !== null).length,
      judge_range: judgeRange,
      issues,
      issue_count: counter.issues,
      notes,
    },
    policies,
    records,
    record_table: {
      included: records.length,
      total: n,
      all: selection.all,
      kinds: selection.kinds,
      selection: selectionSentence(selection, n, limits),
    },
    tokens,
    responses,
    seam,
    endpoints,
    repeats: repeatReports(spreads, repeatK, opts.bins ?? 60, spreadValues),
  };
  return { data, columns };
}

/** How many records hold several sampled responses and how many rows they make (ReportData.meta.groups). */
function groupCounts(rows: Rows): { groups?: { records: number; samples: number } } {
  const seen = new Set<string>();
  let samples = 0;
  for (let i = 0; i < rows.n; i++) {
    if (!rows.sample.get(i)) continue;
    samples++;
    seen.add(sampleKey(rows.line.get(i), parseSampleId(rows.ids[i])!.group));
  }
  return samples ? { groups: { records: seen.size, samples } } : {};
}

/** The log's own identity check: the target's logged log-prob against the behavior's (LoggedIdentity). */
function loggedIdentity(rows: Rows, target: string, tol: number): LoggedIdentity | null {
  const out: LoggedIdentity = { n: 0, differ: 0, tolerance: tol, max_abs: null, violations: [] };
  const ta = rows.logged.get(target);
  const tb = rows.logged.get('');
  if (!ta || !tb) return null;
  let any = false;
  for (let i = 0; i < rows.n; i++) {
    const a = ta.get(i);
    const b = tb.get(i);
    if (!Number.isFinite(a) || !Number.isFinite(b)) continue;
    any = true;
    out.n++;
    const d = a - b;
    if (out.max_abs === null || Math.abs(d) > out.max_abs) out.max_abs = Math.abs(d);
    if (Math.abs(d) > tol) {
      out.differ++;
      if (out.violations.length < 1000) out.violations.push({ record: rows.ids[i], line: rows.line.get(i), logged: a, logged_behavior: b, log_weight: d });
    }
  }
  return any ? out : null;
}

/** The seam effect of every joined/separate pair of policies in a seam group (see SeamPairReport). */
function seamPairs(
  groups: Map<string, { joined: string[]; separate: string[] }>,
  groupIds: Map<string, number>,
  cols: Map<string, PolicyColumn>,
  rows: Rows,
  tol: number,
  bins: number,
): SeamPairReport[] {
  const out: SeamPairReport[] = [];
  const fin = (x: number) => (Number.isFinite(x) ? x : null);
  for (const [g, by] of groups) {
    const gi = groupIds.get(g)!;
    for (const jn of by.joined) {
      for (const sn of by.separate) {
        if (jn === sn) continue;
        const J = cols.get(jn)!;
        const S = cols.get(sn)!;
        const idx: number[] = [];
        const a: (number | null)[] = [];
        const b: (number | null)[] = [];
        for (let i = 0; i < rows.n; i++) {
          const inJ = J.seam.get(i) === gi;
          const inS = S.seam.get(i) === gi;
          if (!inJ && !inS) continue;
          idx.push(i);
          a.push(inJ ? J.lp.get(i) : null);
          b.push(inS ? S.lp.get(i) : null);
        }
        const e = seamEffect(a, b, { tolerance: tol, topN: 20 });
        out.push({
          seam_group: g,
          joined: jn,
          separate: sn,
          n: e.n,
          excluded: e.excluded,
          mean: fin(e.mean),
          mean_abs: fin(e.mean_abs),
          median_abs: fin(e.median_abs),
          max_abs: fin(e.max_abs),
          tolerance: tol,
          differ: e.differ,
          histogram: histogram(e.deltas, bins),
          top: e.top.map((t) => ({ record: rows.ids[idx[t.index]], line: rows.line.get(idx[t.index]), delta: t.delta })),
        });
      }
    }
  }
  return out;
}

/** The identity check of computePolicyDiagnostics, each violation with its log line (ids may repeat). */
function withLines(
  ident: PolicyDiagnostics['identical'],
  lw: Float64Array,
  rows: Rows,
  tol: number,
  source: IdenticalSource | null,
  floor: NoiseFloor | null,
  logged: LoggedIdentity | null,
): IdenticalReport {
  // Violations come in record order: walk the rows that break identity alongside them.
  const bad: number[] = [];
  for (let i = 0; i < rows.n && bad.length < ident.violations.length; i++) {
    if (!(Math.abs(lw[i]) <= tol)) bad.push(i);
  }
  const violations = ident.violations.map((v, k) => {
    const i = bad[k];
    const line = i !== undefined && rows.ids[i] === v.record ? rows.line.get(i) : null;
    return { record: v.record, line, log_weight: v.log_weight, within_noise: withinNoise(v.log_weight, floor) };
  });
  // Counted over every violation, not only the listed ones.
  let within = 0;
  let beyond = 0;
  if (floor && ident.violation_count > 0) {
    for (let i = 0; i < rows.n; i++) {
      const v = lw[i];
      if (Math.abs(v) <= tol) continue;
      if (withinNoise(Number.isNaN(v) ? null : v, floor)) within++;
      else beyond++;
    }
  }
  const broken = ident.violation_count > 0 || (logged?.differ ?? 0) > 0;
  return {
    ...ident,
    violations,
    source,
    causes: broken && (ident.expected || ident.probable) ? IDENTITY_CAUSES : [],
    logged,
    noise_floor: floor,
    within_noise: within,
    beyond_noise: beyond,
    noise_verdict: noiseVerdict(ident.violation_count, floor, within, beyond),
  };
}

/**
 * Chooses the records whose tokens go into the report: identity violations
 * first (up to half the limit), then the largest |log w|. `lwColumns` per
 * target, NaN (or null) where a weight is missing.
 */
export function chooseTokenRows(
  policies: PolicyReport[],
  lwColumns: ArrayLike<number | null>[],
  eligible: (i: number) => boolean,
  limit: number,
): number[] {
  const n = lwColumns[0]?.length ?? 0;
  const chosen = new Set<number>();
  const score = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let m = 0;
    for (const c of lwColumns) {
      const v = c[i];
      if (v !== null && Math.abs(v) > m) m = Math.abs(v);
    }
    score[i] = m;
  }
  const byScore = (a: number, b: number) => score[b] - score[a] || a - b;
  const violating: number[] = [];
  policies.forEach((p, k) => {
    if (!(p.identical.expected || p.identical.probable)) return;
    const tol = p.identical.tolerance;
    for (let i = 0; i < n; i++) {
      const v = lwColumns[k][i];
      if (v !== null && Math.abs(v) > tol && eligible(i)) violating.push(i);
    }
  });
  violating.sort(byScore);
  const half = Math.ceil(limit / 2);
  for (const i of violating) {
    if (chosen.size >= half) break;
    chosen.add(i);
  }
  const order: number[] = [];
  for (let i = 0; i < n; i++) if (eligible(i) && !chosen.has(i)) order.push(i);
  order.sort(byScore);
  for (const i of order) {
    if (chosen.size >= limit) break;
    chosen.add(i);
  }
  return [...chosen].sort((a, b) => a - b);
}

/**
 * A score line's top_logprobs, when it is a list aligned with its tokens of
 * (token → finite-or-not log-prob) objects or nulls; anything else is left out
 * (the heatmap then shows no ranks) rather than failing the report.
 */
function topAlternatives(x: unknown, n: number): (Record<string, number> | null)[] | undefined {
  if (!Array.isArray(x) || x.length !== n) return undefined;
  let any = false;
  const out: (Record<string, number> | null)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const e = x[i];
    if (e === null || e === undefined || typeof e !== 'object' || Array.isArray(e)) {
      out[i] = null;
      continue;
    }
    const m: Record<string, number> = {};
    for (const [k, v] of Object.entries(e as Record<string, unknown>)) if (typeof v === 'number') m[k] = v;
    out[i] = m;
    any = true;
  }
  return any ? out : undefined;
}

async function collectTokens(
  file: string,
  behavior: string,
  targets: string[],
  cols: Map<string, PolicyColumn>,
  policies: PolicyReport[],
  lwColumns: Float64Array[],
  tableRow: Int32Array,
  total: number,
  limit: number,
): Promise<TokenSection> {
  const bcol = cols.get(behavior)!;
  // Records in the table whose behavior line keeps its tokens: their lines are read back by offset, not by a second pass.
  const rowsChosen = chooseTokenRows(policies, lwColumns, (i) => tableRow[i] >= 0 && bcol.detBytes.get(i) >= 0, Math.max(0, limit));
  const fd = fs.openSync(file, 'r');
  const read = (c: PolicyColumn, i: number): { tokens: string[]; logprobs: number[]; top?: (Record<string, number> | null)[] } | undefined => {
    const text = readLineAt(fd, c.detOffset.get(i), c.detBytes.get(i));
    if (text === undefined) return undefined;
    let s: StoredScoreLine;
    try {
      s = unpackScoreLine(JSON.parse(text) as Record<string, unknown>);
    } catch {
      return undefined;
    }
    if (!Array.isArray(s.token_logprobs) || !s.token_logprobs.length) return undefined;
    return { tokens: Array.isArray(s.tokens) ? s.tokens : [], logprobs: s.token_logprobs, top: topAlternatives((s as { top_logprobs?: unknown }).top_logprobs, s.token_logprobs.length) };
  };
  const out: TokenRecord[] = [];
  try {
    for (const i of rowsChosen) {
      const b = read(bcol, i);
      if (!b) continue;
      const rec: TokenRecord = { row: tableRow[i], behavior: { tokens: b.tokens, logprobs: b.logprobs }, targets: {} };
      if (b.top) rec.behavior.top_logprobs = b.top;
      for (const t of targets) {
        const c = cols.get(t)!;
        const s = c.detBytes.get(i) >= 0 ? read(c, i) : undefined;
        if (!s) continue;
        const same = s.tokens.length === b.tokens.length && s.tokens.every((x, k) => x === b.tokens[k]);
        const d = perTokenDelta({
          behaviorLogprobs: b.logprobs,
          targetLogprobs: s.logprobs,
          behaviorTokens: b.tokens.length ? b.tokens : undefined,
          targetTokens: s.tokens.length ? s.tokens : undefined,
          topN: 5,
        });
        rec.targets[t] = { tokens: same ? null : s.tokens, logprobs: s.logprobs, aligned: d.aligned, reason: d.reason, top: d.top };
        if (s.top) rec.targets[t].top_logprobs = s.top;
      }
      out.push(rec);
    }
  } finally {
    fs.closeSync(fd);
  }
  out.sort((a, b) => a.row - b.row);
  return {
    available: total > 0,
    total,
    included: out.length,
    selection:
      out.length < total
        ? `Per-token data is included for ${out.length} of ${total} records: records that break an identity check first, then those with the largest |log w|. The others show as 'not included'; raise --token-records to include more.`
        : `Per-token data is included for all ${total} records that have it.`,
    records: out,
  };
}
