// The report's data contract: what `cje report --json` writes and what the
// webview (standalone HTML page or VS Code panel) draws. Plain JSON-able data,
// type-only imports: the webview bundle imports this file too, so nothing here
// may pull in Node or vscode.

import type { PolicyDiagnostics } from './diagnostics/index';
import type { DifferenceSummary } from './diagnostics/logged-vs-rescored';
import type { NoiseFloor } from './diagnostics/noise-floor';
import type { ResponseStats } from './diagnostics/responses';
import type { TokenDeltaEntry } from './diagnostics/token-delta';

export const REPORT_FORMAT = 'cje-report';
export const REPORT_VERSION = 1;

/** Where a target's "must equal the behavior" expectation came from. */
export type IdenticalSource = 'config-fingerprint' | 'scores-fingerprint' | 'flag';

export interface IdenticalReport extends Omit<PolicyDiagnostics['identical'], 'violations'> {
  /**
   * Every listed record breaking identity (the first 1000), with its log line.
   * within_noise: |log w| ≤ noise_floor.value (true), beyond it or not finite (false), no floor (null).
   */
  violations: { record: string; line: number | null; log_weight: number | null; within_noise: boolean | null }[];
  /** Why it was expected (null when not expected). */
  source: IdenticalSource | null;
  /** The usual causes, shown when identity breaks. */
  causes: string[];
  /**
   * The same check on the log-probs the log itself stores (target_policy_logprobs.T vs
   * base_policy_logprob), as cje score's summary warns: an identical target whose logged
   * weights are not 1. null when the log stores no value for both, or the target is
   * neither expected nor probably identical.
   */
  logged: LoggedIdentity | null;
  /**
   * The scoring endpoint's measured nondeterminism for this pair (repeat lines of
   * `cje score --repeat K` first, else endpoint profiles; doctor-contract.md); null when unmeasured.
   */
  noise_floor: NoiseFloor | null;
  /** Violations (of violation_count, all of them) with |log w| ≤ noise_floor.value. 0 without a floor. */
  within_noise: number;
  /** Violations beyond the floor, non-finite ones included: scoring errors. 0 without a floor. */
  beyond_noise: number;
  /** What the violations are against the floor, or how to measure one; null without violations. */
  noise_verdict: string | null;
}

/** The log's stored log-probs of an identical target against the behavior's. */
export interface LoggedIdentity {
  /** Records where the log stores a finite log-prob for both. */
  n: number;
  /** Of those, |logged target − logged behavior| > tolerance. */
  differ: number;
  tolerance: number;
  /** Largest |Δ| over the n records (null when n = 0). */
  max_abs: number | null;
  /** The records that differ (the first 1000), log order. */
  violations: { record: string; line: number; logged: number; logged_behavior: number; log_weight: number }[];
}

/** One endpoint_profile line of the scores file (doctor-contract.md §1), the latest per endpoint. */
export interface EndpointProfileReport {
  /** Line of the scores file it came from. */
  line: number;
  provider: string;
  baseURL: string;
  model: string;
  policies: string[];
  measured_at: string | null;
  /** Probe → value; null: could not tell (reasons says why). Unknown probes are kept. */
  probes: Record<string, boolean | number | string | null>;
  reasons: Record<string, string>;
  blockers: string[];
  warnings: string[];
}

/**
 * The spread (max − min) of one policy's log-prob over repeat scorings of the same
 * records (repeat lines, doctor-contract.md §2): the noise floor measured on the real data.
 */
export interface RepeatReport {
  policy: string;
  /** Records with ≥ 2 finite repeat values. */
  n: number;
  /** Largest number of repeats of one record. */
  k: number;
  median: number;
  mean: number;
  p95: number;
  max: number;
  /** Histogram of the spreads (nats). */
  histogram: Histogram | null;
  /** The largest spreads, largest first (at most 20). */
  top: { record: string; line: number | null; spread: number; logprobs: number[] }[];
}

/**
 * One kind of reason why kept scores are suspect. The kind is the reason's text
 * before its first ':' (a ':' inside a quoted token does not count), with quoted
 * token strings written "…" and the numbers after "token" / "log-prob" written N,
 * so that "prompt token 3 ("Hi") has log-prob 0.5: …" and "prompt token 7 ("x") has
 * log-prob 0.2: …" are one kind. A score is counted once per kind.
 */
export interface SuspectReason {
  kind: string;
  count: number;
  /** The first full reason of this kind, as the scorer wrote it. */
  example: string;
}

/**
 * Suspect scores of one policy (ScoreLine.suspect, DESIGN.md "When a score may be
 * trusted"): counted over its kept scores, i.e. the record's latest line without an
 * error and with a finite log-prob, the number the report uses. An approximate score
 * (span.approximate: the response located by counting the prompt's tokens,
 * span.method 'prefix_count') is always counted as suspect too, with the reason
 * kind "approximate" when its line carries none (older lines). All zero for a log
 * input and for older scores files without these fields.
 */
export interface SuspectCounts {
  /** Kept scores that are suspect (approximate ones included). */
  suspect: number;
  /** Of those, approximate (prefix count). */
  approximate: number;
  /** Their reasons by kind, most frequent first. */
  suspect_reasons: SuspectReason[];
  /** Kept scores whose line predates the answer checks (no `checks` field): their numbers were never checked. 0 for a log input. */
  unchecked: number;
}

/** The weights of one target that rest on a suspect score, the behavior's or the target's. */
export interface SuspectWeights {
  /** Finite log-weights (of the target's n) with a suspect behavior or target score. */
  n: number;
  /** Of those, the ones with an approximate behavior or target score. */
  approximate: number;
  /** Of those, the ones whose behavior score is suspect. */
  behavior: number;
  /** Of those, the ones whose target score is suspect. */
  target: number;
  /** Reasons of the suspect scores under these weights (both sides), by kind. */
  reasons: SuspectReason[];
}

export interface Histogram {
  /** Left edge of the first bin and the bin width (log-weight units). */
  lo: number;
  width: number;
  counts: number[];
}

/** One target policy against the behavior policy. Keys of PolicyDiagnostics keep their names. */
export interface PolicyReport extends Omit<PolicyDiagnostics, 'identical'> {
  identical: IdenticalReport;
  /** Scoring fingerprint (from the config or the scores file), when known. */
  fingerprint: string | null;
  /** Histogram of the finite log-weights. */
  histogram: Histogram | null;
  /** The target's log-prob stored in the log vs. the rescored one (rescored − logged). */
  logged_vs_rescored: DifferenceSummary | null;
  /** Scores-file lines for this policy that carried an error (latest per record). */
  score_errors: number;
  /** This target's own suspect scores. */
  suspect: number;
  approximate: number;
  suspect_reasons: SuspectReason[];
  unchecked: number;
  /** The weights that rest on a suspect score (the card's warning). */
  suspect_weights: SuspectWeights;
  /**
   * IPS lies outside the range of the judge scores (meta.judge_range): IPS is not
   * self-normalised, so weights that do not average 1 move it off the scores' scale.
   */
  ips_outside_judge_range: boolean;
}

/** One row of the record table. `lw` follows meta.targets (null: not finite / missing). */
export interface RecordRow {
  /** Record id (prompt_id or line:N); `${group}#${i}` for the i-th sampled response of a record with several. */
  id: string;
  /** 1-based line in the log (or the scores file's `line`). */
  line: number;
  /** For a sampled response: the id of the record it was sampled for (its rows share `line`). Absent otherwise. */
  group?: string;
  /** Judge score, when the log has one. */
  judge: number | null;
  /** Response length in characters, when known. */
  chars: number | null;
  /** Response length in tokens under the behavior policy, when known. */
  ntok: number | null;
  /** Behavior log-prob. */
  blp: number | null;
  /** Log-weight per target (order of meta.targets), rounded to 8 significant digits. */
  lw: (number | null)[];
  /**
   * Policies whose kept score of this record is suspect: 0 = the behavior, k + 1 =
   * meta.targets[k], ascending. Absent when none is (so older reports read as before).
   */
  sus?: number[];
  /** The same for approximate scores (a subset of `sus`). Absent when none. */
  apx?: number[];
}

/**
 * Which records `records` holds (record-selection.ts): all of them up to 50,000,
 * else the ones a user looks at, with how many of each kind there are.
 */
export interface RecordTableInfo {
  /** Records in `records`. */
  included: number;
  /** Records in the input (meta.n_records). */
  total: number;
  /** Whether `records` holds every record. */
  all: boolean;
  /** Per kind: records of that kind in the input and in the table (a record may be of several kinds). */
  kinds: { kind: 'largest_lw' | 'violations' | 'suspect' | 'failed' | 'sample'; total: number; included: number }[];
  /** The sentence the table shows: what it holds and what it leaves out. */
  selection: string;
}

/** The order of a page of records (the panel asks the host for pages of all records). */
export type RecordPageOrder =
  /** Log order. */
  | { by: 'line' }
  /** Largest |log w| of meta.targets[target] first (missing weights last). */
  | { by: 'abs_lw'; target: number };

/** Which records a page is cut from. */
export type RecordPageFilter = 'all' | 'violations' | 'suspect';

export interface RecordPageRequest {
  /** 0-based page index. */
  page: number;
  /** Records a page (1 to 1000). */
  pageSize: number;
  order: RecordPageOrder;
  filter: RecordPageFilter;
}

export interface RecordPage {
  request: RecordPageRequest;
  /** Records matching the filter, and pages of them. */
  matching: number;
  pages: number;
  /** The records of the page, in order; each as a row of `records`. */
  rows: RecordRow[];
  /** Position in `records` of each row (-1: not in the report's table). */
  tableRows: number[];
  /** Set when the log or the scores file changed since the report was built: ids may be wrong, reload. */
  stale?: string;
}

export interface TokenSeq {
  tokens: string[];
  logprobs: number[];
  /**
   * The server's top alternatives at each token (token → log-prob), aligned with
   * `tokens`, when the score line keeps them (a policy with topLogprobs > 1). Absent otherwise.
   */
  top_logprobs?: (Record<string, number> | null)[];
}

export interface TokenTarget {
  /** Token strings when they differ from the behavior's; null when the same. */
  tokens: string[] | null;
  logprobs: number[];
  /** As TokenSeq.top_logprobs, aligned with this target's tokens. */
  top_logprobs?: (Record<string, number> | null)[];
  /** Whether per-token Δ is defined (same tokens). */
  aligned: boolean;
  reason: string | null;
  /** The tokens where behavior and target differ most (largest |Δ| first). */
  top: TokenDeltaEntry[];
}

export interface TokenRecord {
  /** Index into `records`. */
  row: number;
  behavior: TokenSeq;
  targets: Record<string, TokenTarget>;
}

export interface TokenSection {
  /** Whether the input had per-token log-probs at all (scores files do, logs do not). */
  available: boolean;
  /** Records with per-token data in the input. */
  total: number;
  /** Records whose tokens are included in this report. */
  included: number;
  /** How the included records were chosen; why others show as 'not included'. */
  selection: string;
  records: TokenRecord[];
}

export interface ReportIssue {
  file: string;
  line: number;
  reason: string;
}

export interface ReportMeta {
  tool: 'cje-inspector';
  generated_at: string;
  input: string;
  input_kind: 'scores' | 'log';
  log: string | null;
  config: string | null;
  behavior: {
    name: string;
    fingerprint: string | null;
    logged_vs_rescored: DifferenceSummary | null;
    score_errors: number;
  } & SuspectCounts;
  /** Target policy names, in the order of RecordRow.lw. */
  targets: string[];
  n_records: number;
  /**
   * When the log holds records with several sampled responses (each a row of its own):
   * how many such records, and how many rows they make. Absent otherwise.
   */
  groups?: { records: number; samples: number };
  /** Records with a judge score. */
  n_judged: number;
  /** Smallest and largest judge score (null without any). */
  judge_range: { min: number; max: number } | null;
  issues: ReportIssue[];
  issue_count: number;
  notes: string[];
}

/** Response length (characters from the log; scored tokens per policy) and mean per-token entropy. */
export interface ResponsesSection {
  chars: ResponseStats;
  tokens: (ResponseStats & { policy: string })[];
}

/**
 * The seam effect of one pair of policies whose score lines share a seam_group
 * and differ in span.tokenization: the same text scored joined (one echo of
 * prompt + response) and separate (prompt and response tokenized apart, ids
 * concatenated). Δ = logprob(joined) − logprob(separate), per record, over the
 * records where both policies' kept scores belong to that group. Statistics are
 * null when no record has both.
 */
export interface SeamPairReport {
  seam_group: string;
  /** The policy that scored the joined text, and the one that scored it apart. */
  joined: string;
  separate: string;
  /** Records where both log-probs are finite. */
  n: number;
  /** Records where only one of the two has a finite score of this group. */
  excluded: number;
  mean: number | null;
  mean_abs: number | null;
  median_abs: number | null;
  max_abs: number | null;
  /** |Δ| above this counts as a difference (the identity tolerance). */
  tolerance: number;
  /** Records with |Δ| > tolerance. */
  differ: number;
  /** Histogram of Δ (same bins as the log-weight histograms). */
  histogram: Histogram | null;
  /** The records with the largest |Δ| (> 0), largest first (at most 20). */
  top: { record: string; line: number; delta: number }[];
}

export interface ReportData {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  meta: ReportMeta;
  policies: PolicyReport[];
  records: RecordRow[];
  /** Which records `records` holds. */
  record_table: RecordTableInfo;
  tokens: TokenSection;
  responses: ResponsesSection;
  /** One entry per joined/separate pair of policies; empty when the scores file has none. */
  seam: SeamPairReport[];
  /** Endpoint profiles of the scores file (the latest per provider + base URL + model); empty without any. */
  endpoints: EndpointProfileReport[];
  /** Repeat spreads per policy; empty without repeat lines. */
  repeats: RepeatReport[];
}
