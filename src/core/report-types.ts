// The report's data contract: what `cje report --json` writes and what the
// webview (standalone HTML page or VS Code panel) draws. Plain JSON-able data,
// type-only imports: the webview bundle imports this file too, so nothing here
// may pull in Node or vscode.

import type { PolicyDiagnostics } from './diagnostics/index';
import type { DifferenceSummary } from './diagnostics/logged-vs-rescored';
import type { ResponseStats } from './diagnostics/responses';
import type { TokenDeltaEntry } from './diagnostics/token-delta';

export const REPORT_FORMAT = 'cje-report';
export const REPORT_VERSION = 1;

/** Where a target's "must equal the behavior" expectation came from. */
export type IdenticalSource = 'config-fingerprint' | 'scores-fingerprint' | 'flag';

export interface IdenticalReport extends Omit<PolicyDiagnostics['identical'], 'violations'> {
  /** Every listed record breaking identity (the first 1000), with its log line. */
  violations: { record: string; line: number | null; log_weight: number | null }[];
  /** Why it was expected (null when not expected). */
  source: IdenticalSource | null;
  /** The usual causes, shown when identity breaks. */
  causes: string[];
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
}

/** One row of the record table. `lw` follows meta.targets (null: not finite / missing). */
export interface RecordRow {
  /** Record id (prompt_id or line:N). */
  id: string;
  /** 1-based line in the log (or the scores file's `line`). */
  line: number;
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
}

export interface TokenSeq {
  tokens: string[];
  logprobs: number[];
}

export interface TokenTarget {
  /** Token strings when they differ from the behavior's; null when the same. */
  tokens: string[] | null;
  logprobs: number[];
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
  };
  /** Target policy names, in the order of RecordRow.lw. */
  targets: string[];
  n_records: number;
  /** Records with a judge score. */
  n_judged: number;
  issues: ReportIssue[];
  issue_count: number;
  notes: string[];
}

/** Response length (characters from the log; scored tokens per policy) and mean per-token entropy. */
export interface ResponsesSection {
  chars: ResponseStats;
  tokens: (ResponseStats & { policy: string })[];
}

export interface ReportData {
  format: typeof REPORT_FORMAT;
  version: typeof REPORT_VERSION;
  meta: ReportMeta;
  policies: PolicyReport[];
  records: RecordRow[];
  tokens: TokenSection;
  responses: ResponsesSection;
}
