// Throughput of `cje score` against the loopback completions server, run in
// its own process as a real server would be: one prompt per request vs
// batched requests, at the same concurrency. Prints records/s and the ratio
// to the one-per-request baseline measured in this same run.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runScoring } from '../src/core/score-run';
import { CompletionsScorer } from '../src/scorers/completions';
import type { CjeConfig } from '../src/core/types';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 400);

async function startServer(latencyMs: number): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, [path.join(__dirname, '../test/support/completions-server.js'), '--latency-ms', String(latencyMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d;
      const m = /listening (\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => reject(new Error('server exited')));
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

async function timeRun(url: string, log: string, batchSize: number, concurrency: number): Promise<number> {
  const out = path.join(path.dirname(log), `b${batchSize}-c${concurrency}-${Date.now()}.jsonl`);
  const config: CjeConfig = { behavior: 'base', policies: { base: { provider: 'openai-compatible', baseURL: url, model: 'toy', template: 'chatml', batchSize, concurrency } } };
  const t0 = process.hrtime.bigint();
  const s = await runScoring({ logFile: log, config, outFile: out, makeScorer: async (p) => new CompletionsScorer({ baseURL: p.baseURL!, model: p.model, batchSize }) });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (s.scored !== RECORDS) throw new Error(`scored ${s.scored} of ${RECORDS}`);
  return RECORDS / secs;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-bench-'));
  const log = path.join(dir, 'log.jsonl');
  const lines = Array.from({ length: RECORDS }, (_, i) => JSON.stringify({ prompt_id: `b${i}`, prompt: `Benchmark question ${i}: explain item ${i} briefly.`, response: `Item ${i} is explained here in a short answer of a few words.` }));
  fs.writeFileSync(log, lines.join('\n') + '\n');
  console.log(`score throughput: ${RECORDS} records, one policy, loopback toy server in its own process`);
  for (const latency of [0, 20]) {
    const server = await startServer(latency);
    try {
      const base = await timeRun(server.url, log, 1, 4);
      console.log(`  server latency ${latency} ms/request`);
      console.log(`    1 prompt/request, concurrency 4 : ${base.toFixed(1)} records/s  (baseline)`);
      for (const [b, c] of [[8, 4], [32, 2]] as const) {
        const r = await timeRun(server.url, log, b, c);
        console.log(`    ${b} prompts/request, concurrency ${c}: ${r.toFixed(1)} records/s  ×${(r / base).toFixed(2)}`);
      }
    } finally {
      server.stop();
    }
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
