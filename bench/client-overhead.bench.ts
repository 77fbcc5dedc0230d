// Client overhead: the client's CPU time per 1,000 response tokens divided by
// the backend's busy time per 1,000 response tokens, with the backend (a
// loopback load server in its own process) emulating a real one at full
// concurrency: 20–50 ms per request plus 20 µs per prompt token on one shared
// compute line (≈50,000 tokens/s, an 8B model on one GPU), 64 requests at once;
// its answers are one token per word (the real JSON shape, little server CPU).
// Goal: below 5 %. Measured twice: the scorer alone (src/scorers/completions.ts,
// driven like the pipeline drives it) and the whole `runScoring` (read, render,
// look up, send, check, write).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runScoring } from '../src/core/score-run';
import type { CjeConfig, RenderedPrompt } from '../src/core/types';
import { CompletionsScorer } from '../src/scorers/completions';
import { fmt, startServerProcess } from './load-servers';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 40);
const BATCH = 8;
const CONCURRENCY = 8;

const words = (i: number, n: number) => Array.from({ length: n }, (_, k) => `word${(i * 7 + k * 13) % 997}`).join(' ');
// A typical record: a prompt of about 150 tokens and a response of about 300 (the load server's answers: one token a word).
const record = (i: number) => ({ prompt: `Question ${i}: ${words(i, 150)}?`, response: `Answer ${i}: ${words(i + 1, 300)}.` });

function rendered(i: number): RenderedPrompt {
  const r = record(i);
  const text = `${r.prompt} ${r.response}`;
  return { text, responseStart: r.prompt.length + 1, responseEnd: text.length, scoredEnd: text.length, template: 'raw' };
}

let perTokenUs = 20;
const server = () => startServerProcess({ answers: 'words', capacity: 64, 'latency-ms': 20, 'latency-max-ms': 50, 'per-token-us': perTokenUs, seed: 7 });

async function scorerAlone() {
  const s2 = await server();
  const sc = new CompletionsScorer({ baseURL: s2.url, model: 'toy', batchSize: BATCH, concurrency: CONCURRENCY });
  let tokens = 0;
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: sc.maxInFlight ?? 4 }, async () => {
      for (let b = next++; b < REQUESTS; b = next++) {
        const res = await sc.scoreBatch(Array.from({ length: BATCH }, (_, k) => ({ rendered: rendered(b * BATCH + k) })));
        for (const r of res) if (r.ok) tokens += r.value.tokens.length;
      }
    }),
  );
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const srv = await s2.stop();
  return { tokens, clientCpuMs: (cpu.user + cpu.system) / 1000, wall, srv };
}

async function throughPipeline() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-bench-overhead-'));
  const log = path.join(dir, 'log.jsonl');
  fs.writeFileSync(log, Array.from({ length: REQUESTS * BATCH }, (_, i) => JSON.stringify({ prompt_id: `r${i}`, ...record(i) })).join('\n') + '\n');
  const s = await server();
  const config: CjeConfig = { behavior: 'base', policies: { base: { provider: 'openai-compatible', baseURL: s.url, model: 'toy', template: 'raw', batchSize: BATCH, concurrency: CONCURRENCY } } };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let tokens = 0;
  const sum = await runScoring({
    logFile: log,
    config,
    makeScorer: async (p) => {
      const inner = new CompletionsScorer({ baseURL: p.baseURL!, model: p.model, batchSize: BATCH, concurrency: CONCURRENCY });
      // Counts the response tokens it hands the pipeline; everything else is the pipeline's own work.
      return Object.assign(Object.create(inner) as CompletionsScorer, {
        scoreBatch: async (reqs: Parameters<CompletionsScorer['scoreBatch']>[0], signal?: AbortSignal) => {
          const res = await inner.scoreBatch(reqs, signal);
          for (const r of res) if (r.ok) tokens += r.value.tokens.length;
          return res;
        },
      });
    },
  });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const srv = await s.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  if (sum.failed) throw new Error(`${sum.failed} records failed: ${JSON.stringify(sum.errors)}`);
  return { tokens, clientCpuMs: (cpu.user + cpu.system) / 1000, wall, srv };
}

async function main() {
  console.log(`client overhead: ${REQUESTS} requests of ${BATCH} prompts (≈150 prompt + ≈300 response tokens each), concurrency ${CONCURRENCY};`);
  console.log('  backend in its own process: 20–50 ms per request + a compute time per prompt token on one line, 64 at once');
  console.log('  (20 µs/token ≈ 50,000 tokens/s: plain prefill of an 8B model on one H100; 100 µs: the echo with prompt log-probs, or a 70B model)');
  for (const us of (process.env.BENCH_PER_TOKEN_US ?? '20,100').split(',').map(Number)) {
    perTokenUs = us;
    for (const [name, f] of [['scorer alone', scorerAlone], ['runScoring (whole client)', throughPipeline]] as const) {
      const r = await f();
      const per1k = (ms: number) => (ms / r.tokens) * 1000;
      console.log(
        `  ${us} µs/token, ${name}: ${r.tokens} response tokens in ${fmt(r.wall / 1000, 2)} s · client CPU ${fmt(per1k(r.clientCpuMs), 2)} ms/1k tokens · backend busy ${fmt(per1k(r.srv.busyMs), 2)} ms/1k tokens ` +
          `· ratio ${fmt((r.clientCpuMs / r.srv.busyMs) * 100, 1)} % (goal < 5 %)`,
      );
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
