// Replicas: throughput of the scorer (src/scorers/completions.ts, driven as the
// pipeline drives it) against 1, 2 and 4 loopback replicas of fixed capacity,
// each a process of its own that serves 4 requests at once in 100 ms and queues
// the rest (a vLLM replica with a full batch). concurrency 4 = one replica's
// capacity, so maxInFlight is 4 × replicas. Goal: ≥ 0.9 × replicas × the
// one-replica throughput.
import { CompletionsScorer } from '../src/scorers/completions';
import { drive } from '../test/support/drive-scorer';
import { fmt, startServerProcess } from './load-servers';

const CAPACITY = 4;
const LATENCY_MS = 100;
const PER_REPLICA = Number(process.env.BENCH_REQUESTS ?? 120);

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

async function main() {
  console.log(`replicas: ${PER_REPLICA} requests per replica, each replica serving ${CAPACITY} at once in ${LATENCY_MS} ms (ideal ${fmt((CAPACITY * 1000) / LATENCY_MS, 0)} requests/s each)`);
  const one = await throughput(1);
  console.log(`  1 replica : ${fmt(one.rps)} requests/s (baseline)`);
  for (const n of [2, 4]) {
    const r = await throughput(n);
    console.log(`  ${n} replicas: ${fmt(r.rps)} requests/s · ×${fmt(r.rps / one.rps, 2)} = ${fmt(r.rps / one.rps / n, 2)} × replicas (goal ≥ 0.9) · served per replica ${r.spread.join('/')}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
