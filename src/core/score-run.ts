import { setMaxListeners } from 'node:events';
import type { Scorer, ScoreRequest } from '../scorers/scorer';
import { policyDefaults } from './config';
import { DEFAULT_IDENTICAL_TOLERANCE } from './diagnostics/identical';
import { kishEss } from './diagnostics/weights';
import { policyFingerprint, scoreKey, seamGroup } from './fingerprint';
import { EndpointBlockedError, endpointKey, type EndpointProfile, type RepeatLine } from './endpoint-profile';
import { countLines } from './line-count';
import { sameFile } from './same-file';
import { readLog } from './log-reader';
import { ScoreStore, defaultScoresPath, type StoreOpenReport } from './score-store';
import type { SpanResult } from './span';

import { ANSWER_CHECKS_VERSION } from './span';
export { ANSWER_CHECKS_VERSION };
import { policyTemplate } from './policy-template';
import { renderDateFor } from './render-date';
import { renderPrompt } from './templates';
import { redact } from './secrets';
import { suspectKind } from './suspect-kind';
import { TokenRate } from './token-estimate';
import type { ChatMessage, CjeConfig, LogIssue, LogRecord, PolicyConfig, RenderedPrompt, ScoreLine, TemplateSpec } from './types';

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

/** Policies that score alike: one fingerprint, scored once, its result shared by every name. */
export interface PolicyGroup {
  fingerprint: string;
  seamGroup: string;
  names: string[];
  policy: PolicyConfig;
  spec: TemplateSpec & { variant?: string };
  scoreEndOfTurn: boolean;
}

/** The config's policies (those in `wanted`, when given) grouped by fingerprint, in config order. */
export function policyGroups(config: CjeConfig, wanted?: Set<string>): PolicyGroup[] {
  const groups = new Map<string, PolicyGroup>();
  for (const [name, policy] of Object.entries(config.policies)) {
    if (wanted && !wanted.has(name)) continue;
    let spec: TemplateSpec & { variant?: string };
    try {
      spec = policyTemplate(policy, config);
    } catch (e) {
      throw new Error(`policy ${name}: ${(e as Error).message}`);
    }
    const fp = policyFingerprint(policy, spec);
    const g = groups.get(fp);
    if (g) g.names.push(name);
    else groups.set(fp, { fingerprint: fp, seamGroup: seamGroup(policy, spec), names: [name], policy, spec, scoreEndOfTurn: policyDefaults(policy).scoreEndOfTurn });
  }
  return [...groups.values()];
}

interface Group extends PolicyGroup {
  scorer?: Scorer;
  /** Settles once the scorer exists and its endpoint has been probed. */
  ready?: Promise<void>;
  /** A uniform sample of the records seen, for --repeat. */
  reservoir: Job[];
  pending: Job[];
  active: number;
  concurrency: number;
  waiters: (() => void)[];
}

interface Job {
  record: LogRecord;
  rendered: RenderedPrompt;
  key: string;
  /** The earlier log line with the same prompt and response. */
  duplicateOf?: number;
}

/** The conversation a policy sees for a record: the policy's system prompt replaces any logged one. */
export function conversationFor(record: LogRecord, policy: PolicyConfig): ChatMessage[] {
  const base: ChatMessage[] = record.messages ?? [{ role: 'user', content: record.prompt ?? '' }];
  if (policy.systemPrompt === undefined) return base;
  return [{ role: 'system', content: policy.systemPrompt }, ...base.filter((m) => m.role !== 'system')];
}

function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = Float64Array.from(xs).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Scores every record of a log under every policy, appending to the scores file as results arrive. */
export async function runScoring(opts: ScoreRunOptions): Promise<ScoreRunSummary> {
  const t0 = Date.now();
  const { config } = opts;
  const outFile = opts.outFile ?? defaultScoresPath(opts.logFile);
  const wanted = opts.policies?.length ? new Set([config.behavior, ...opts.policies]) : undefined;
  for (const n of opts.policies ?? []) if (!(n in config.policies)) throw new Error(`--policy ${n}: no such policy in the config (${Object.keys(config.policies).join(', ')})`);

  const groups = new Map<string, Group>();
  for (const pg of policyGroups(config, wanted)) {
    const d = policyDefaults(pg.policy);
    groups.set(pg.fingerprint, { ...pg, pending: [], active: 0, concurrency: d.concurrency, waiters: [], reservoir: [] });
  }

  // Every batch in flight links its own signal to the run's: that many listeners is expected, not a leak.
  if (opts.signal) setMaxListeners([...groups.values()].reduce((n, g) => n + g.concurrency, 10), opts.signal);
  if (sameFile(outFile, opts.logFile)) throw new Error(`the scores file ${outFile} is the log itself: refusing to write into the input (give another --out)`);
  const { store, report: storeReport } = await ScoreStore.open(outFile, { lock: true });
  const issues: LogIssue[] = [];
  let badLines = 0;
  let records = 0;
  let scored = 0;
  let skipped = 0;
  let reused = 0;
  let failed = 0;
  let doneRecords = 0;
  const duplicates: ScoreRunSummary['duplicates'] = { count: 0, examples: [] };
  const noteDuplicate = (rec: LogRecord, sameAs: number) => {
    duplicates.count++;
    if (duplicates.examples.length < (opts.exampleLimit ?? 5)) duplicates.examples.push({ line: rec.line, record: rec.id, sameAs });
  };
  // Keys sent but not yet written, with the first line that asked: a record repeating one in flight is a duplicate too.
  const pendingFirst = new Map<string, number>();
  const errorCounts = new Map<string, number>();
  const logprobs = new Map<string, Map<number, number>>();
  const failures = new Map<string, number>();
  const logged = new Map<string, Map<number, { value: number; record: string; line: number }>>();
  for (const names of [...groups.values()].map((g) => g.names)) {
    for (const n of names) {
      logprobs.set(n, new Map());
      failures.set(n, 0);
      logged.set(n, new Map());
    }
  }
  // Jobs still open per record, so progress counts whole records.
  const openJobs = new Map<number, number>();
  const total = { value: await countLines(opts.logFile) };
  const failedRecords = new Set<number>();
  const tokenRate = new TokenRate();
  let approxTokens = 0;
  // Until the end the total is the line count less the bad lines seen so far; at the end it is exact.
  const emitProgress = (final = false) =>
    opts.onProgress?.({
      done: doneRecords,
      total: final ? records : Math.max(total.value - badLines, records),
      failed: failedRecords.size,
      rate: doneRecords / Math.max(1e-3, (Date.now() - t0) / 1000),
      approxTokens,
    });

  // Per-item state is keyed by the item's sequence number, not its line: a record with several sampled responses is several items on one line.
  const seqOf = new WeakMap<LogRecord, number>();
  const seq = (rec: LogRecord) => seqOf.get(rec)!;
  const finishJob = (rec: LogRecord) => {
    const k = seq(rec);
    const left = (openJobs.get(k) ?? 1) - 1;
    if (left <= 0) {
      openJobs.delete(k);
      doneRecords++;
    } else openJobs.set(k, left);
  };

  const lineFor = (g: Group, name: string, job: Job, res: SpanResult): ScoreLine => ({
    key: job.key,
    record: job.record.id,
    line: job.record.line,
    policy: name,
    fingerprint: g.fingerprint,
    logprob: res.ok ? res.value.logprob : null,
    tokens: res.ok ? res.value.tokens : [],
    token_logprobs: res.ok ? res.value.token_logprobs : [],
    ...(res.ok && res.value.entropy ? { entropy: res.value.entropy } : {}),
    ...(res.ok && res.value.top_logprobs && (g.policy.topLogprobs ?? 1) > 1 ? { top_logprobs: res.value.top_logprobs } : {}),
    span: res.ok ? res.value.span : null,
    error: res.ok ? null : redact(res.error),
    ...(res.ok && res.value.suspect?.length ? { suspect: res.value.suspect } : {}),
    checks: ANSWER_CHECKS_VERSION,
    seam_group: g.seamGroup,
    ...(g.names.length > 1 && name !== g.names[0] ? { reused_from: g.names[0] } : {}),
    ...(job.duplicateOf !== undefined ? { duplicate_of: job.duplicateOf } : {}),
    model: g.policy.model,
    template: g.spec.variant ? `${g.policy.template}:${g.spec.variant}` : g.policy.template,
    provider: g.policy.provider,
    scored_at: new Date().toISOString(),
  });

  const record = (name: string, rec: LogRecord, lp: number) => logprobs.get(name)!.set(seq(rec), lp);
  const suspects = new Map<string, { count: number; approximate: number; reasons: Map<string, number> }>();
  const noteSuspect = (name: string, l: Pick<ScoreLine, 'suspect' | 'span'>) => {
    let s = suspects.get(name);
    if (!s) suspects.set(name, (s = { count: 0, approximate: 0, reasons: new Map() }));
    s.count++;
    if (l.span?.approximate) s.approximate++;
    for (const r of l.suspect ?? []) {
      const kind = suspectKind(r);
      s.reasons.set(kind, (s.reasons.get(kind) ?? 0) + 1);
    }
  };
  const fail = (name: string, rec: LogRecord, raw: string) => {
    const message = redact(raw);
    failed++;
    failures.set(name, failures.get(name)! + 1);
    failedRecords.add(seq(rec));
    errorCounts.set(message, (errorCounts.get(message) ?? 0) + 1);
  };

  // A write that fails (a full disk) stops the run: nothing after it could be kept.
  const append = (lines: ScoreLine[]) => {
    try {
      store.append(lines);
      return true;
    } catch (e) {
      fatal ??= e;
      return false;
    }
  };
  const write = (g: Group, jobs: Job[], results: SpanResult[]) => {
    const lines: ScoreLine[] = [];
    jobs.forEach((job, i) => {
      for (const name of g.names) {
        if (store.coversLine(job.key, job.record.line, name)) continue;
        const l = lineFor(g, name, job, results[i]);
        lines.push(l);
        if (l.error === null) {
          record(name, job.record, l.logprob!);
          if (name === g.names[0]) scored++;
          else reused++;
          if (l.suspect) noteSuspect(name, l);
        } else fail(name, job.record, l.error);
      }
    });
    if (!append(lines)) return;
    for (const job of jobs) {
      if (pendingFirst.get(job.key) === job.record.line) pendingFirst.delete(job.key);
      finishJob(job.record);
    }
    emitProgress();
  };

  // The scorer is made at a group's first send, so a rerun with nothing left starts no worker and asks no server.
  const probes = new Map<string, Promise<EndpointProfile | undefined>>();
  const endpoints: EndpointProfile[] = [];
  const ready = (g: Group) =>
    (g.ready ??= (async () => {
      g.scorer = await opts.makeScorer(g.policy, g.names[0]);
      // The scorer knows its replicas: it may take concurrency × replicas batches, and holds itself below that (AIMD).
      if (g.scorer.maxInFlight !== undefined) {
        g.concurrency = g.scorer.maxInFlight;
        if (opts.signal) setMaxListeners([...groups.values()].reduce((n, o) => n + o.concurrency, 10), opts.signal);
      }
      if (!opts.probe) return;
      const ek = endpointKey(g.policy);
      let pr = probes.get(ek);
      if (!pr) {
        const on = [...groups.values()].filter((o) => endpointKey(o.policy) === ek);
        pr = opts.probe({
          scorer: g.scorer,
          provider: g.policy.provider,
          model: g.policy.model,
          policies: on.flatMap((o) => o.names.map((name) => ({ name, policy: config.policies[name], spec: o.spec }))),
        }).then((profile) => {
          if (profile) {
            store.appendExtra([profile]);
            endpoints.push(profile);
          }
          return profile;
        });
        probes.set(ek, pr);
      }
      let profile: EndpointProfile | undefined;
      try {
        profile = await pr;
      } catch (e) {
        // Ctrl-C during the probes is a cancel, not a failure of the run (nor a verdict on the endpoint).
        if (opts.signal?.aborted) return;
        throw e;
      }
      if (opts.signal?.aborted) return;
      if (profile?.blockers.length) throw new EndpointBlockedError(profile);
      if (profile) g.scorer.adopt?.(profile);
    })());
  // Reservoir sampling (Algorithm R): every record seen so far is in the sample with the same chance.
  const sampleSize = Math.max(1, opts.repeat?.sample ?? 20);
  let rng = 0x9e3779b9;
  const random = () => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return (rng >>> 0) / 2 ** 32;
  };
  const sample = (g: Group, job: Job, seen: number) => {
    if (g.reservoir.length < sampleSize) g.reservoir.push(job);
    else {
      const j = Math.floor(random() * seen);
      if (j < sampleSize) g.reservoir[j] = job;
    }
  };
  const repeatSpreads = new Map<string, number[]>();
  const repeatGroup = async (g: Group) => {
    const todo = g.reservoir.filter((j) => store.logprobOf(j.key) !== undefined && !store.hasRepeat(j.key, g.names[0]));
    const values = todo.map((j) => [store.logprobOf(j.key)!]);
    if (todo.length) await ready(g);
    for (let round = 0; round < (opts.repeat?.k ?? 0) && todo.length; round++) {
      // Stepped by what was sent: a batch may change the scorer's batch size (lists refused) under the loop.
      for (let i = 0, chunk: Job[] = []; i < todo.length; i += chunk.length) {
        if (opts.signal?.aborted) return;
        chunk = todo.slice(i, i + batchSizeOf(g));
        const res = await g.scorer!.scoreBatch(chunk.map((j) => ({ rendered: j.rendered, endOfTurn: g.spec.endOfTurn })), opts.signal);
        res.forEach((r, k) => r.ok && values[i + k].push(r.value.logprob));
      }
    }
    const lines: RepeatLine[] = [];
    todo.forEach((j, i) => {
      if (values[i].length < 2) return;
      lines.push({ kind: 'repeat', policy: g.names[0], fingerprint: g.fingerprint, record: j.record.id, line: j.record.line, key: j.key, logprobs: values[i] });
    });
    store.appendExtra(lines);
    const spreads = lines.map((l) => Math.max(...l.logprobs) - Math.min(...l.logprobs));
    if (spreads.length) repeatSpreads.set(g.fingerprint, spreads);
  };
  const firstGroup = [...groups.values()][0];
  const batchSizeOf = (g: Group) => g.scorer?.batchSize ?? policyDefaults(g.policy).batchSize;

  const inflight = new Set<Promise<void>>();
  let fatal: unknown;
  const launch = async (g: Group) => {
    await ready(g);
    while (g.active >= g.concurrency) await new Promise<void>((r) => g.waiters.push(r));
    const batch = g.pending.splice(0, g.scorer!.batchSize);
    if (!batch.length) return;
    g.active++;
    const reqs: ScoreRequest[] = batch.map((j) => ({ rendered: j.rendered, endOfTurn: g.spec.endOfTurn }));
    const p = g
      .scorer!.scoreBatch(reqs, opts.signal)
      .then(
        (results) => write(g, batch, results),
        (e) => {
          // A batch that could not be scored fails its own records, never the run.
          if (opts.signal?.aborted) return;
          const error = `scoring failed: ${e instanceof Error ? e.message : String(e)}`.slice(0, 500);
          write(g, batch, batch.map(() => ({ ok: false as const, error })));
        },
      )
      .finally(() => {
        g.active--;
        inflight.delete(p);
        g.waiters.shift()?.();
      });
    inflight.add(p);
  };

  try {
    for await (const item of readLog(opts.logFile, { maxLineBytes: opts.maxLineBytes, fields: config.fields })) {
      if (opts.signal?.aborted || fatal) break;
      if (item.kind === 'issue') {
        if (item.issue.line > 0) badLines++;
        if (issues.length < 1000) issues.push(item.issue);
        opts.onIssue?.(item.issue);
        continue;
      }
      const rec = item.record;
      records++;
      seqOf.set(rec, records);
      openJobs.set(records, groups.size);
      if (rec.baseLogprob != null) logged.get(config.behavior)?.set(records, { value: rec.baseLogprob, record: rec.id, line: rec.line });
      for (const [name, v] of Object.entries(rec.targetLogprobs ?? {})) if (v != null && name !== config.behavior) logged.get(name)?.set(records, { value: v, record: rec.id, line: rec.line });

      for (const g of groups.values()) {
        let rendered: RenderedPrompt;
        try {
          rendered = renderPrompt(g.spec, conversationFor(rec, g.policy), rec.response, { scoreEndOfTurn: g.scoreEndOfTurn, date: renderDateFor(g.policy, rec) });
        } catch (e) {
          const job: Job = { record: rec, rendered: { text: '', responseStart: 0, responseEnd: 0, scoredEnd: 0, template: g.spec.name }, key: `render-error:${rec.line}` };
          write(g, [job], [{ ok: false, error: `template ${g.spec.name}: ${(e as Error).message}` }]);
          continue;
        }
        const key = scoreKey(rendered, g.fingerprint);
        const job: Job = { record: rec, rendered, key };
        if (opts.repeat) sample(g, job, records);
        // Done means done for this log line under each name: a record repeating another's prompt and response has its own lines.
        const lineMissing = g.names.filter((n) => !store.coversLine(key, rec.line, n));
        if (lineMissing.length === 0) {
          const lp = store.logprobOf(key)!;
          for (const n of g.names) record(n, rec, lp);
          if (store.isSuspect(key)) for (const n of g.names) noteSuspect(n, { suspect: ['kept as suspect in an earlier run'], span: null });
          skipped += g.names.length;
          finishJob(rec);
          continue;
        }
        const prev = store.find(key);
        if (prev) {
          // Scored before, under an identical policy or for an earlier line with the same prompt and response: copy, never rescore.
          const dupOf = prev.line !== rec.line ? prev.line : undefined;
          const lines = lineMissing.map((n) => ({ ...prev, policy: n, record: rec.id, line: rec.line, reused_from: prev.policy, ...(dupOf !== undefined ? { duplicate_of: dupOf } : {}), scored_at: new Date().toISOString() }));
          if (!append(lines)) break;
          for (const n of g.names) record(n, rec, prev.logprob!);
          if (prev.suspect?.length) for (const n of g.names) noteSuspect(n, prev);
          if (dupOf !== undefined && g === firstGroup) noteDuplicate(rec, dupOf);
          reused += lineMissing.length;
          skipped += g.names.length - lineMissing.length;
          finishJob(rec);
          continue;
        }
        const inFlight = pendingFirst.get(key);
        if (inFlight === undefined) pendingFirst.set(key, rec.line);
        else {
          job.duplicateOf = inFlight;
          if (g === firstGroup) noteDuplicate(rec, inFlight);
        }
        g.pending.push(job);
        approxTokens += tokenRate.add(rendered.text);
        if (g.pending.length >= batchSizeOf(g)) await launch(g);
      }
      if (records % 64 === 0) emitProgress();
    }
    if (!opts.signal?.aborted && !fatal) {
      for (const g of groups.values()) while (g.pending.length) await launch(g);
    }
    while (inflight.size) await Promise.race(inflight);
    if (opts.repeat && !opts.signal?.aborted && !fatal) for (const g of groups.values()) await repeatGroup(g);
  } finally {
    // A run that stops on an error (a blocked endpoint, a backend that cannot start) still keeps what other groups have in flight.
    await Promise.allSettled([...inflight]);
    store.close();
    for (const g of groups.values()) await g.scorer?.close?.();
  }
  if (fatal) throw fatal;
  emitProgress(!opts.signal?.aborted);

  const tolerance = config.logprobTolerance ?? 0.01;
  const floorOf = (g: Group): NoiseFloor | undefined => {
    const spreads = repeatSpreads.get(g.fingerprint);
    if (spreads?.length) return { nats: Math.max(...spreads), source: 'repeat', records: spreads.length, medianSpread: median(spreads), k: opts.repeat?.k };
    const p = [...store.profiles].reverse().find((e) => e.probes.noiseFloor !== null && e.policies.includes(g.names[0]));
    return p ? { nats: p.probes.noiseFloor!, source: 'probe' } : undefined;
  };
  const behaviorLps = logprobs.get(config.behavior)!;
  const policies: PolicySummary[] = [];
  for (const g of groups.values()) {
    for (const name of g.names) {
      const lps = logprobs.get(name)!;
      let sum = 0;
      for (const v of lps.values()) sum += v;
      let essFraction: number | null = null;
      if (name !== config.behavior) {
        const lw: number[] = [];
        for (const [line, v] of lps) {
          const b = behaviorLps.get(line);
          if (b !== undefined) lw.push(v - b);
        }
        essFraction = lw.length ? kishEss(lw).fraction : null;
      }
      const summary: PolicySummary = {
        name,
        fingerprint: g.fingerprint,
        sameAs: [...groups.values()].flatMap((o) => (o === g ? g.names.filter((n) => n !== name) : [])),
        isBehavior: name === config.behavior,
        scored: lps.size,
        failed: failures.get(name)!,
        meanLogprob: lps.size ? sum / lps.size : null,
        essFraction,
      };
      const floor = floorOf(g);
      if (floor) summary.noiseFloor = floor;
      const sus = suspects.get(name);
      if (sus) summary.suspect = { count: sus.count, approximate: sus.approximate, reasons: [...sus.reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count) };
      const lg = logged.get(name)!;
      if (lg.size) {
        const abs: number[] = [];
        const examples: LoggedComparison['examples'] = [];
        let over = 0;
        for (const [k, { value, record: rid, line }] of lg) {
          const r = lps.get(k);
          if (r === undefined) continue;
          const d = Math.abs(r - value);
          abs.push(d);
          if (d > tolerance) {
            over++;
            if (examples.length < (opts.exampleLimit ?? 5)) examples.push({ record: rid, line, logged: value, rescored: r });
          }
        }
        if (abs.length) {
          summary.logged = {
            field: name === config.behavior ? 'base_policy_logprob' : `target_policy_logprobs.${name}`,
            n: abs.length,
            over,
            tolerance,
            medianAbs: median(abs),
            maxAbs: abs.reduce((a, b) => Math.max(a, b), 0),
            examples,
          };
        }
      }
      const lb = logged.get(config.behavior);
      if (!summary.isBehavior && summary.sameAs.includes(config.behavior) && lg.size && lb?.size) {
        const li: LoggedIdentical = { n: 0, differ: 0, examples: [] };
        for (const [k, { value, record: rid, line }] of lg) {
          const b = lb.get(k);
          if (b === undefined) continue;
          li.n++;
          // The report's tolerance, so that both count the same records.
          if (Math.abs(value - b.value) > DEFAULT_IDENTICAL_TOLERANCE) {
            li.differ++;
            if (floor && Math.abs(value - b.value) <= floor.nats) li.withinFloor = (li.withinFloor ?? 0) + 1;
            if (li.examples.length < (opts.exampleLimit ?? 5)) li.examples.push({ record: rid, line, logged: value, loggedBehavior: b.value });
          }
        }
        if (li.n) summary.loggedIdentical = li;
      }
      policies.push(summary);
    }
  }
  return {
    logFile: opts.logFile,
    outFile,
    records,
    badLines,
    issues,
    scored,
    skipped,
    reused,
    failed,
    cancelled: !!opts.signal?.aborted,
    store: storeReport,
    policies,
    seconds: (Date.now() - t0) / 1000,
    errors: [...errorCounts].map(([message, count]) => ({ message, count })).sort((a, b) => b.count - a.count),
    endpoints,
    duplicates,
  };
}
