// Replicas: throughput of the scorer (src/scorers/completions.ts, driven as the
// pipeline drives it) against 1, 2 and 4 loopback replicas of fixed capacity,
// each a process of its own that serves 4 requests at once in 250 ms and queues
// the rest (a vLLM replica with a full batch). concurrency 4 = one replica's
// capacity, so maxInFlight is 4 × replicas. Goal: ≥ 0.9 × replicas × the
// one-replica throughput.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runScoring } from '../src/core/score-run';
import type { CjeConfig } from '../src/core/types';
import { CompletionsScorer } from '../src/scorers/completions';
import { completionsScorerFactory } from '../src/scorers/make-scorer';
import { drive } from '../test/support/drive-scorer';
import { fmt, startServerProcess } from './load-servers';

const CAPACITY = 4;
const LATENCY_MS = 250;
const PER_REPLICA = Number(process.env.BENCH_REQUESTS ?? 80);

async function throughput(n: number): Promise<{ rps: number; spread: number[] }> {
  const servers = await Promise.all(Array.from({ length: n }, () => startServerProcess({ answers: 'words', capacity: CAPACITY, 'latency-ms': LATENCY_MS })));
  const scorer = new CompletionsScorer({ baseURL: servers.map((s) => s.url), model: 'toy', batchSize: 1, concurrency: CAPACITY });
  await drive(scorer, scorer.maxInFlight ?? 4);
  const requests = PER_REPLICA * n;
  const t0 = performance.now();
  const res = await drive(scorer, requests);
  const secs = (performance.now() - t0) / 1000;
  if (res.some((r) => !r.ok)) throw new Error('a request failed');
  const counters = await Promise.all(servers.map((s) => s.stop()));
  return { rps: requests / secs, spread: counters.map((c) => c.served) };
}

/** The same through runScoring: a policy whose baseURL lists the replicas, one record per request. */
async function throughRunScoring(n: number): Promise<number> {
  const servers = await Promise.all(Array.from({ length: n }, () => startServerProcess({ answers: 'words', capacity: CAPACITY, 'latency-ms': LATENCY_MS })));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-bench-replicas-'));
  const log = path.join(dir, 'log.jsonl');
  const records = PER_REPLICA * n;
  fs.writeFileSync(log, Array.from({ length: records }, (_, i) => JSON.stringify({ prompt_id: `r${i}`, prompt: `Question ${i}?`, response: `Answer ${i} in a few words.` })).join('\n') + '\n');
  const config: CjeConfig = { behavior: 'base', policies: { base: { provider: 'openai-compatible', baseURL: servers.map((s) => s.url), model: 'toy', template: 'raw', batchSize: 1, concurrency: CAPACITY } } };
  const t0 = performance.now();
  const sum = await runScoring({ logFile: log, config, makeScorer: completionsScorerFactory() });
  const secs = (performance.now() - t0) / 1000;
  await Promise.all(servers.map((s) => s.stop()));
  fs.rmSync(dir, { recursive: true, force: true });
  if (sum.scored !== records) throw new Error(`scored ${sum.scored} of ${records}: ${JSON.stringify(sum.errors)}`);
  return records / secs;
}

async function main() {
  console.log(`replicas: ${PER_REPLICA} requests per replica, each replica serving ${CAPACITY} at once in ${LATENCY_MS} ms (ideal ${fmt((CAPACITY * 1000) / LATENCY_MS, 0)} requests/s each)`);
  const one = await throughput(1);
  console.log(`  1 replica : ${fmt(one.rps)} requests/s (baseline)`);
  for (const n of [2, 4]) {
    const r = await throughput(n);
    console.log(`  ${n} replicas: ${fmt(r.rps)} requests/s · ×${fmt(r.rps / one.rps, 2)} = ${fmt(r.rps / one.rps / n, 2)} × replicas (goal ≥ 0.9) · served per replica ${r.spread.join('/')}`);
  }
  const p1 = await throughRunScoring(1);
  const p4 = await throughRunScoring(4);
  console.log(`  through runScoring (baseURL list): 1 replica ${fmt(p1)} records/s, 4 replicas ${fmt(p4)} records/s · ×${fmt(p4 / p1, 2)} = ${fmt(p4 / p1 / 4, 2)} × replicas`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
