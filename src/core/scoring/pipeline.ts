import { setMaxListeners } from 'node:events';
import { tokenDetailOf } from '../config';
import { countLines } from '../line-count';
import { sameFile } from '../same-file';
import { ScoreStore, defaultScoresPath } from '../score-store';
import { OffThreadTokenRate } from '../token-estimate';
import { Batcher } from './batch';
import { Endpoints } from './probe';
import { batchSizeOf, inFlightOf, policyGroups, type RunGroup } from './groups';
import { OpenItems } from './items';
import { LookupStage } from './lookup';
import { Progress } from './progress';
import { BoundedQueue } from './queue';
import { readItems } from './read';
import { renderJob, type Job } from './render';
import { RepeatSample, noiseFloor } from './repeat';
import { sendGroup } from './send';
import { RunSummary } from './summary';
import type { ScoreRunOptions, ScoreRunSummary } from './types';
import { Writer } from './write';

/**
 * How many jobs wait in a group's queue: enough to keep every slot busy with
 * a full batch behind it, and no more (open records are bounded by it).
 */
function queueCapacity(g: RunGroup): number {
  return Math.max(64, 2 * batchSizeOf(g) * inFlightOf(g));
}

/**
 * Scores every record of a log under every policy, appending to the scores
 * file as results arrive. The stages, each in its own module:
 *
 *   read → render → look up → (queue per group) → batch → send → write
 *
 * with the summary as accumulators the stages feed. Memory is bounded by the
 * queues and the resume index, never by the log.
 */
export async function runScoring(opts: ScoreRunOptions): Promise<ScoreRunSummary> {
  const t0 = Date.now();
  const { config } = opts;
  const outFile = opts.outFile ?? defaultScoresPath(opts.logFile);
  const wanted = opts.policies?.length ? new Set([config.behavior, ...opts.policies]) : undefined;
  for (const n of opts.policies ?? []) if (!(n in config.policies)) throw new Error(`--policy ${n}: no such policy in the config (${Object.keys(config.policies).join(', ')})`);

  const groups: RunGroup[] = policyGroups(config, wanted);
  // Every batch in flight links its own signal to the run's: that many listeners is expected, not a leak.
  const listeners = () => opts.signal && setMaxListeners(groups.reduce((n, g) => n + inFlightOf(g), 10), opts.signal);
  listeners();
  if (sameFile(outFile, opts.logFile)) throw new Error(`the scores file ${outFile} is the log itself: refusing to write into the input (give another --out)`);
  const { store, report: storeReport } = await ScoreStore.open(outFile, { lock: true, tokens: tokenDetailOf(config) });

  const exampleLimit = opts.exampleLimit ?? 5;
  const names = groups.flatMap((g) => g.names);
  const summary = new RunSummary(
    groups.flatMap((g) => g.names.map((name) => ({ name, fingerprint: g.fingerprint, sameAs: g.names.filter((n) => n !== name) }))),
    config.behavior,
    config.logprobTolerance ?? 0.01,
    exampleLimit,
  );
  const items = new OpenItems(names, config.behavior, (item) => summary.fold(item));
  const progress = new Progress(opts.onProgress, await countLines(opts.logFile));
  const emit = (final = false) => progress.emit({ done: items.done, failed: items.failed, records: summary.records, badLines: summary.badLines }, final);
  const lookup = new LookupStage(store);
  const writer = new Writer(store, items, summary, lookup, () => emit());
  const endpoints = new Endpoints(groups, config, store, opts.makeScorer, opts.probe, opts.signal);
  const repeat = opts.repeat ? new RepeatSample(opts.repeat.k, Math.max(1, opts.repeat.sample ?? 20)) : undefined;
  const tokenRate = new OffThreadTokenRate((late) => (progress.approxTokens += late));

  const queues = new Map(groups.map((g) => [g, new BoundedQueue<Job>(queueCapacity(g))]));
  let fatal: unknown;
  const stopping = () => !!opts.signal?.aborted || fatal !== undefined || writer.fatal !== undefined;
  const stopAll = () => {
    for (const q of queues.values()) q.abort();
  };
  opts.signal?.addEventListener('abort', stopAll, { once: true });
  const inflight = new Set<Promise<void>>();
  const senders = groups.map((g) =>
    sendGroup(g, new Batcher(queues.get(g)!), {
      ready: (x) => endpoints.ready(x),
      signal: opts.signal,
      stopping,
      started: (x) => {
        // The scorer's own ceiling (replicas × concurrency) is known now: the queue keeps two requests' worth for each.
        const q = queues.get(x)!;
        q.capacity = Math.max(q.capacity, queueCapacity(x));
        listeners();
      },
      inflight,
      write: (x, jobs, results) => {
        try {
          writer.results(x, jobs, results);
        } catch (e) {
          fatal ??= e;
          stopAll();
        }
      },
    }).catch((e) => {
      // A group that cannot start (a blocked endpoint, a backend that fails to start) stops the run; other groups keep what they have in flight.
      fatal ??= e;
      stopAll();
    }),
  );

  const firstGroup = groups[0];
  const pushed = groups.map(() => 0);
  const start = (g: RunGroup) =>
    endpoints.ready(g).then(
      () => true,
      (e) => {
        fatal ??= e;
        stopAll();
        return false;
      },
    );
  try {
    reading: for await (const item of readItems(opts.logFile, { maxLineBytes: opts.maxLineBytes, fields: config.fields })) {
      if (stopping()) break;
      if (item.kind === 'issue') {
        summary.issue(item.issue);
        opts.onIssue?.(item.issue);
        continue;
      }
      const rec = item.record;
      summary.records++;
      items.open(item.seq, rec, groups.length);
      for (const g of groups) {
        const r = renderJob(g, rec, item.seq);
        if (r.error !== undefined) {
          writer.results(g, [r.job], [{ ok: false, error: r.error }]);
          continue;
        }
        const job = r.job;
        repeat?.offer(g, job, summary.records);
        const found = lookup.look(g.names, job);
        if (found.kind !== 'send') {
          if (!writer.looked(g, job, found, g === firstGroup, rec)) break reading;
          continue;
        }
        if (found.duplicateOf !== undefined) {
          job.duplicateOf = found.duplicateOf;
          if (g === firstGroup) summary.duplicate(rec, found.duplicateOf);
        }
        progress.approxTokens += tokenRate.add(job.rendered.text);
        // The reading waits while the token counter's worker holds the vocabulary (about a second, once): the two peaks do not add up.
        if (tokenRate.counting) await tokenRate.counting;
        if (!(await queues.get(g)!.push(job))) break reading;
        // A group's first full batch starts its backend here, in group order, as the reading waits: probes answer one endpoint at a time.
        if (!g.ready && ++pushed[groups.indexOf(g)] >= batchSizeOf(g) && !(await start(g))) break reading;
      }
      if (summary.records % 64 === 0) emit();
    }
    if (!stopping()) for (const g of groups) if (!g.ready && pushed[groups.indexOf(g)] > 0 && !(await start(g))) break;
    if (stopping()) stopAll();
    else for (const q of queues.values()) q.close();
    await Promise.all(senders);
    if (repeat && !stopping()) for (const g of groups) await repeat.run(g, store, (x) => endpoints.ready(x), opts.signal);
  } finally {
    stopAll();
    opts.signal?.removeEventListener('abort', stopAll);
    // A run that stops on an error (a blocked endpoint, a backend that cannot start) still keeps what other groups have in flight.
    await Promise.allSettled([...senders, ...inflight]);
    store.close();
    for (const g of groups) await g.scorer?.close?.();
    await tokenRate.close();
  }
  fatal ??= writer.fatal;
  if (fatal !== undefined) throw fatal;
  items.foldOpen();
  emit(!opts.signal?.aborted);

  const groupOf = new Map(groups.flatMap((g) => g.names.map((n) => [n, g] as const)));
  const floors = new Map(groups.map((g) => [g, noiseFloor(g, store, repeat)]));
  return {
    logFile: opts.logFile,
    outFile,
    records: summary.records,
    badLines: summary.badLines,
    issues: summary.issues,
    scored: summary.scored,
    skipped: summary.skipped,
    reused: summary.reused,
    failed: summary.failed,
    cancelled: !!opts.signal?.aborted,
    store: storeReport,
    policies: summary.perPolicy((name) => floors.get(groupOf.get(name)!)),
    seconds: (Date.now() - t0) / 1000,
    errors: summary.errors.list(),
    endpoints: endpoints.profiles,
    duplicates: summary.duplicates,
  };
}

