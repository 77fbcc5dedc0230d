// The local worker on the tiny Llama fixture: teacher-forcing throughput in
// tokens/s over HTTP (requests of 8 prompts, 4 in flight, packed by the
// worker into batches of ≤ --max-batch-tokens) against a bare transformers.js
// forward pass over the same batches (same packing, logits only: no reduction,
// no HTTP, no JSON), and single-record latency. Ratios are measured in this run.
// The worker runs each batch's forward pass and the reduction of its logits
// (onnxruntime, src/worker/reduce.onnx, unless it cannot load it) in its model
// thread (src/worker/forward-thread.ts), while its HTTP and JSON work stays on
// this thread; the bare baseline is a plain transformers.js forward on this
// thread, with transformers.js's default session options. A second worker with
// the JS reduction (reduce.ts) is timed on the same batches for comparison.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../src/core/package-root';
import { loadTemplate, renderPrompt, resolveTemplate } from '../src/core/templates';
import { loadModel } from '../src/worker/model';
import { startWorker } from '../src/worker/server';

const ROOT = packageRoot();
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'tiny-llama');
const MAX_BATCH_TOKENS = Number(process.env.BENCH_MAX_BATCH_TOKENS ?? 4096);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

function prompts(): string[] {
  const spec = resolveTemplate(loadTemplate('llama3'), 'tiny-llama');
  const out: string[] = [];
  for (const line of fs.readFileSync(path.join(ROOT, 'examples', 'arena-mini.jsonl'), 'utf8').split('\n')) {
    try {
      const r = JSON.parse(line);
      if (typeof r.response !== 'string') continue;
      const msgs = r.messages ?? [{ role: 'user', content: r.prompt }];
      out.push(renderPrompt(spec, [{ role: 'system', content: 'You are a helpful assistant.' }, ...msgs.filter((m: { role: string }) => m.role !== 'assistant' && m.role !== 'system')], r.response, { scoreEndOfTurn: true }).text);
    } catch {
      /* the example's deliberately bad lines */
    }
  }
  return out;
}

/** The worker's packing rule: queue order, as many as fit in the padded-token budget. */
function pack(seqs: number[][]): number[][][] {
  const batches: number[][][] = [];
  let cur: number[][] = [];
  let maxLen = 0;
  for (const s of seqs) {
    const len = Math.max(maxLen, s.length);
    if (cur.length && (cur.length + 1) * len > MAX_BATCH_TOKENS) {
      batches.push(cur);
      cur = [];
      maxLen = 0;
    }
    cur.push(s);
    maxLen = Math.max(maxLen, s.length);
  }
  if (cur.length) batches.push(cur);
  return batches;
}

async function main() {
  const texts = prompts();
  const w = await startWorker({ model: FIXTURE, port: 0, device: 'cpu', maxBatchTokens: MAX_BATCH_TOKENS, log: (l) => console.log(l) });
  const wJs = await startWorker({ model: FIXTURE, port: 0, device: 'cpu', maxBatchTokens: MAX_BATCH_TOKENS, reduce: 'js' });
  const m = w.model;
  const seqs = texts.map((t) => m.encode(t).slice(0, m.maxPositions));
  const tokens = seqs.reduce((n, s) => n + s.length, 0);
  const reduce = ((await (await fetch(w.baseURL.replace(/\/v1$/, '/health'))).json()) as { reduce: string }).reduce;
  console.log(`${texts.length} prompts, ${tokens} tokens (llama3 template, arena-mini), batches ≤ ${MAX_BATCH_TOKENS} padded tokens, ${m.device}, reduction: ${reduce}`);

  const post = async (body: unknown, worker = w) => {
    const r = await fetch(`${worker.baseURL}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
    return r.json();
  };
  const echo = (prompt: unknown) => ({ model: m.id, prompt, echo: true, max_tokens: 0, logprobs: 1 });

  // Warm up all paths.
  await post(echo(texts.slice(0, 4)));
  await post(echo(texts.slice(0, 4)), wJs);
  const bare = await loadModel(FIXTURE, { device: 'cpu' });
  const batches = pack(seqs);
  for (const b of batches.slice(0, 2)) (await bare.forward(b, Math.max(...b.map((s) => s.length)))).dispose();

  const timeBare = async () => {
    const t0 = process.hrtime.bigint();
    for (const b of batches) (await bare.forward(b, Math.max(...b.map((s) => s.length)))).dispose();
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  // The worker: requests of 8 prompts, 4 in flight (cje score's defaults).
  const timeWorker = async (perRequest: number, inFlight: number) => {
    const groups: string[][] = [];
    for (let i = 0; i < texts.length; i += perRequest) groups.push(texts.slice(i, i + perRequest));
    const t0 = process.hrtime.bigint();
    let next = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (next < groups.length) await post(echo(groups[next++]));
      }),
    );
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  // Prompts sent in one request in the packing order: exactly the bare pass's batches.
  const timeWorkerSameBatches = async (worker = w) => {
    const t0 = process.hrtime.bigint();
    await post(echo(seqs), worker);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };

  const best = { bare: Infinity, same: Infinity, worker: Infinity, js: Infinity };
  for (let r = 0; r < ROUNDS; r++) {
    best.bare = Math.min(best.bare, await timeBare());
    best.same = Math.min(best.same, await timeWorkerSameBatches());
    best.worker = Math.min(best.worker, await timeWorker(8, 4));
    best.js = Math.min(best.js, await timeWorkerSameBatches(wJs));
  }
  const tps = (s: number) => (tokens / s).toFixed(0);
  console.log(`bare transformers.js forward (logits only)   ${tps(best.bare)} tokens/s`);
  console.log(`worker, same batches (one request, all ids)  ${tps(best.same)} tokens/s   ratio ${(best.bare / best.same).toFixed(2)}`);
  console.log(`worker, 8 prompts × 4 requests in flight     ${tps(best.worker)} tokens/s   ratio ${(best.bare / best.worker).toFixed(2)}`);
  console.log(`worker, same batches, JS reduce (reduce.ts)   ${tps(best.js)} tokens/s   ratio ${(best.bare / best.js).toFixed(2)}`);

  // Single-record latency: one prompt per request, nothing else in flight.
  const lat: number[] = [];
  for (let i = 0; i < Math.min(texts.length, 30); i++) {
    const t0 = process.hrtime.bigint();
    await post(echo(texts[i]));
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  lat.sort((a, b) => a - b);
  const mean = seqs.slice(0, lat.length).reduce((n, s) => n + s.length, 0) / lat.length;
  console.log(`single-record latency over HTTP (mean ${mean.toFixed(0)} tokens): median ${lat[lat.length >> 1].toFixed(1)} ms, p90 ${lat[Math.floor(lat.length * 0.9)].toFixed(1)} ms`);
  await bare.dispose();
  await w.close();
  await wJs.close();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
