// Adaptive concurrency against a loopback server (its own process) that admits
// N requests a second (fixed 1 s windows) and answers 429 above, 20 ms per
// request; the scorer's ceiling is concurrency 32, far above the N × 20 ms
// that the limit allows. Goal: sustained ≥ 0.85 N, with the 429s printed; for
// each kind of hint the server gives (none, Retry-After, Retry-After and
// x-ratelimit-remaining/reset-requests as Fireworks and OpenAI send them).
import { CompletionsScorer } from '../src/scorers/completions';
import { rendered } from '../test/support/drive-scorer';
import { fmt, startServerProcess } from './load-servers';

const N = Number(process.env.BENCH_RATE ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

async function main() {
  console.log(`adaptive concurrency: server admits ${N} requests/s (1 s windows), 20 ms each; client ceiling 32 in flight; ${N * SECONDS} requests`);
  for (const hints of ['all', 'retry-after', 'none'] as const) {
    const s = await startServerProcess({ answers: 'words', rate: N, 'window-ms': 1000, 'latency-ms': 20, hints });
    const scorer = new CompletionsScorer({ baseURL: s.url, model: 'toy', batchSize: 1, concurrency: 32, maxRetries: 20 });
    const t0 = performance.now();
    const doneAt: number[] = [];
    let next = 0;
    let failed = 0;
    await Promise.all(
      Array.from({ length: scorer.maxInFlight ?? 4 }, async () => {
        for (let i = next++; i < N * SECONDS; i = next++) {
          const [r] = await scorer.scoreBatch([{ rendered: rendered(i) }]);
          if (r.ok) doneAt.push(performance.now() - t0);
          else failed++;
        }
      }),
    );
    const c = await s.stop();
    // Sustained: the answers between the end of the first window (which the server lets through at
    // once) and the 95th percentile (the last few are requests still in their back-off: a tail that a
    // run of a million records does not have), over that time. Overall: all of them over the whole run.
    doneAt.sort((a, b) => a - b);
    const end = doneAt[doneAt.length - 1];
    const p95 = doneAt[Math.floor(doneAt.length * 0.95) - 1];
    const rate = doneAt.filter((t) => t > 1000 && t <= p95).length / ((p95 - 1000) / 1000);
    const overall = doneAt.length / (end / 1000);
    const l = scorer.limit;
    console.log(
      `  hints ${hints.padEnd(11)}: sustained ${fmt(rate)} requests/s = ${fmt(rate / N, 2)} N (goal ≥ 0.85), overall ${fmt(overall / N, 2)} N · ${c.rateLimited} × 429 for ${c.served} served · limit ${l.limit} now, ${l.lowest}–${l.highest}, ${l.decreases} halvings${failed ? ` · ${failed} failed` : ''}`,
    );
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
