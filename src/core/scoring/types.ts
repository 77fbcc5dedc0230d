// The scoring run's options and summary: what callers (src/cli, src/extension) pass and get back.
import type { EndpointProfile } from '../endpoint-profile';
import type { StoreOpenReport } from '../score-store';
import type { CjeConfig, LogIssue, PolicyConfig, TemplateSpec } from '../types';
import type { Scorer } from './scorer';

export interface ScoreProgress {
  /** Records whose every policy is done (scored, skipped or failed). */
  done: number;
  /** Records in the log (an estimate from its line count until the end). */
  total: number;
  failed: number;
  /** Records per second since the start. */
  rate: number;
  /** Tokens sent so far, approximately (js-tiktoken's o200k_base, not the models' tokenizers): for planning only. */
  approxTokens: number;
}

export interface ScoreRunOptions {
  logFile: string;
  config: CjeConfig;
  outFile?: string;
  /** Score only these policies (the behavior policy is always scored). */
  policies?: string[];
  /** Makes the backend for one fingerprint group; called once per group. */
  makeScorer: (policy: PolicyConfig, name: string) => Promise<Scorer>;
  signal?: AbortSignal;
  onProgress?: (p: ScoreProgress) => void;
  onIssue?: (i: LogIssue) => void;
  maxLineBytes?: number;
  /** How many individual mismatches to keep as examples in the summary. */
  exampleLimit?: number;
  /**
   * Asks an endpoint what it does before its first request (src/doctor's cheap
   * probes): once per endpoint, only when something is left to score there. A
   * profile with blockers stops the run with EndpointBlockedError; the profile
   * is written into the scores file either way.
   */
  probe?: (target: ProbeRequest) => Promise<EndpointProfile | undefined>;
  /** Score a uniform sample of `sample` records (default 20) `k` more times per fingerprint, to measure the noise on real data. */
  repeat?: { k: number; sample?: number };
}

/** What a probe needs of an endpoint: a backend for it, and every policy the run scores there. */
export interface ProbeRequest {
  scorer: Scorer;
  provider: string;
  model: string;
  policies: { name: string; policy: PolicyConfig; spec: TemplateSpec & { variant?: string } }[];
}

/** The endpoint's noise on one policy: from --repeat on the log's own records, else from the probe. */
export interface NoiseFloor {
  /** Largest |Δ| of one response's log-prob between answers to the same prompt (nats). */
  nats: number;
  source: 'repeat' | 'probe';
  /** repeat: records measured, their spreads' median, and K. */
  records?: number;
  medianSpread?: number;
  k?: number;
}

export interface LoggedComparison {
  /** Field of the log the rescored value was compared with. */
  field: string;
  n: number;
  over: number;
  tolerance: number;
  medianAbs: number;
  maxAbs: number;
  examples: { record: string; line: number; logged: number; rescored: number }[];
}

/** A target with the behavior's fingerprint whose log-probs stored in the log nevertheless differ from the behavior's. */
export interface LoggedIdentical {
  n: number;
  differ: number;
  /** Of the differing records, those whose |Δ| is within the endpoint's measured noise floor. */
  withinFloor?: number;
  examples: { record: string; line: number; logged: number; loggedBehavior: number }[];
}

export interface PolicySummary {
  name: string;
  fingerprint: string;
  /** Other policies with the same fingerprint: scored once, weight 1 by construction. */
  sameAs: string[];
  isBehavior: boolean;
  scored: number;
  failed: number;
  meanLogprob: number | null;
  essFraction: number | null;
  /** Kept scores marked suspect (approximate prefix counts among them), with their reasons counted by kind. */
  suspect?: { count: number; approximate: number; reasons: { reason: string; count: number }[] };
  logged?: LoggedComparison;
  loggedIdentical?: LoggedIdentical;
  noiseFloor?: NoiseFloor;
}

export interface ScoreRunSummary {
  logFile: string;
  outFile: string;
  records: number;
  badLines: number;
  issues: LogIssue[];
  /** (record, policy) results written in this run. */
  scored: number;
  /** (record, policy) results already in the scores file. */
  skipped: number;
  /** (record, policy) results reused from an identical-fingerprint policy. */
  reused: number;
  failed: number;
  cancelled: boolean;
  store: StoreOpenReport;
  policies: PolicySummary[];
  seconds: number;
  /** Distinct error messages with how often each occurred. */
  errors: { message: string; count: number }[];
  /** What the probes found of each endpoint this run sent to (also written into the scores file). */
  endpoints: EndpointProfile[];
  /** Records whose prompt and response repeat an earlier record's: each keeps its own line, with the earlier one's numbers. */
  duplicates: { count: number; examples: { line: number; record: string; sameAs: number }[] };
}
