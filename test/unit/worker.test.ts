// The local worker (src/worker) on the real tiny model in test/fixtures/tiny-llama,
// over real HTTP on 127.0.0.1. No Python: the fixture is committed.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packageRoot } from '../../src/core/package-root';
import { runScoring } from '../../src/core/score-run';
import type { CjeConfig, ScoreLine } from '../../src/core/types';
import { CompletionsScorer } from '../../src/scorers/completions';
import { WorkerManager, withLocalWorkers } from '../../src/worker/manager';
import { reduceSequence, type PositionStats } from '../../src/worker/reduce';
import { loadOnnxReducer, reduceGraphPath } from '../../src/worker/reduce-onnx';
import { Batcher, startWorker, type BatchEngine, type RunningWorker } from '../../src/worker/server';
import { ModelThread } from '../../src/worker/thread';
import { WorkerStartupError } from '../../src/worker/model';
import type { SeqScores } from '../../src/worker/reduce';
import { readScoresFile } from '../support/scores-file';

const ROOT = packageRoot();
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'tiny-llama');
const SYSTEM = 'You are a helpful assistant.';
const CHAT =
  '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' + SYSTEM + '<|eot_id|>' +
  '<|start_header_id|>user<|end_header_id|>\n\nWhat is machine learning?<|eot_id|>' +
  '<|start_header_id|>assistant<|end_header_id|>\n\nMachine learning is learning from data.<|eot_id|>';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

async function post(w: RunningWorker, body: unknown): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${w.baseURL}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

const echo = (prompt: unknown, logprobs = 1) => ({ model: 'tiny-llama', prompt, echo: true, max_tokens: 0, logprobs });

/** An independent forward pass: transformers.js AutoModelForCausalLM, default position ids, two-pass log-softmax. */
async function directLogprobs(ids: number[]): Promise<{ lps: number[]; ent: number[] }> {
  const tf = await import('@huggingface/transformers');
  tf.env.allowRemoteModels = false;
  tf.env.localModelPath = path.dirname(FIXTURE) + path.sep;
  const model = await tf.AutoModelForCausalLM.from_pretrained('tiny-llama', { local_files_only: true, dtype: 'fp32', device: 'cpu' } as Json);
  try {
    const n = ids.length;
    const out = await (model as Json)({
      input_ids: new tf.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, n]),
      attention_mask: new tf.Tensor('int64', new BigInt64Array(n).fill(1n), [1, n]),
    });
    const d = out.logits.data as Float32Array;
    const V = out.logits.dims[2];
    const lps: number[] = [];
    const ent: number[] = [];
    for (let t = 1; t < n; t++) {
      const row = Array.from(d.subarray((t - 1) * V, t * V));
      const m = Math.max(...row);
      const z = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
      lps.push(row[ids[t]] - z);
      ent.push(-row.reduce((s, x) => s + Math.exp(x - z) * (x - z), 0));
    }
    return { lps, ent };
  } finally {
    await model.dispose();
  }
}

const maxAbs = (a: number[], b: number[]) => {
  assert.equal(a.length, b.length);
  return a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
};

describe('worker: reduceSequence', () => {
  it('matches a naive two-pass log-softmax, entropy and top-k, also for extreme logits', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const V = 257;
    const T = 6;
    const logits = new Float32Array(T * V).map((_, i) => (i % V === 3 ? 80 : (rand() - 0.5) * (i < V * 3 ? 20 : 2000)));
    const ids = [0, 5, 3, 250, 7, 3, 1];
    const got = reduceSequence(logits, V, 0, ids, 4);
    for (let t = 0; t < T - 0 && t + 1 < ids.length; t++) {
      const row = Array.from(logits.subarray(t * V, (t + 1) * V));
      const m = Math.max(...row);
      const z = m + Math.log(row.reduce((s, x) => s + Math.exp(x - m), 0));
      assert.ok(Math.abs(got[t].logprob - (row[ids[t + 1]] - z)) < 1e-9);
      const h = -row.reduce((s, x) => s + Math.exp(x - z) * (x - z), 0);
      assert.ok(Math.abs(got[t].entropy - h) < 1e-9, `${got[t].entropy} vs ${h}`);
      const top = row.map((x, i) => [x, i]).sort((a, b) => b[0] - a[0]).slice(0, 4).map((p) => p[1]);
      assert.deepEqual(got[t].topIds, top);
      assert.ok(Number.isFinite(got[t].logprob));
    }
  });
});

/** max |Δ| of log-probs, entropies and top log-probs; top ids must be equal. */
function statsDiff(a: PositionStats[], b: PositionStats[], what: string): number {
  assert.equal(a.length, b.length, `${what}: positions`);
  let worst = 0;
  a.forEach((p, t) => {
    assert.deepEqual(p.topIds, b[t].topIds, `${what}: top ids at ${t}`);
    worst = Math.max(worst, Math.abs(p.logprob - b[t].logprob), Math.abs(p.entropy - b[t].entropy), ...p.topLogprobs.map((x, j) => Math.abs(x - b[t].topLogprobs[j])));
  });
  return worst;
}

describe('worker: the onnxruntime reduction (reduce.onnx) against reduceSequence', function () {
  this.timeout(30000);

  it('is the committed graph, loads, and equals the JS reduction (≤ 1e-5) on a padded batch with extreme logits and mixed k', async () => {
    assert.ok(fs.existsSync(reduceGraphPath()), reduceGraphPath());
    const reducer = await loadOnnxReducer();
    try {
      let seed = 11;
      const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const V = 300;
      const T = 9;
      // Row kinds: ordinary, wide (±1000: most exp terms underflow), one dominant logit (p ≈ 1, entropy ≈ 0), all equal (uniform).
      const logits = new Float32Array(3 * T * V).map((_, i) => {
        const row = Math.floor(i / V);
        const v = i % V;
        switch (row % 4) {
          case 0: return (rand() - 0.5) * 20;
          case 1: return (rand() - 0.5) * 2000;
          case 2: return v === 17 ? 90 : (rand() - 0.5) * 4;
          default: return -3.5;
        }
      });
      // Three right-padded sequences of 10, 4 and 1 tokens (the last scores nothing); padding rows hold logits too.
      const seqs = [
        { ids: Array.from({ length: T + 1 }, () => Math.floor(rand() * V)), k: 20 },
        { ids: [5, 17, 299, 0], k: 0 },
        { ids: [42], k: 3 },
      ];
      const got = await reducer.reduce(logits, [3, T, V], seqs);
      let worst = 0;
      seqs.forEach((s, b) => {
        const want = reduceSequence(logits, V, b * T, s.ids, s.k);
        worst = Math.max(worst, statsDiff(got[b], want, `sequence ${b}`));
        got[b].forEach((p) => {
          assert.equal(p.topIds.length, s.k);
          assert.ok(Number.isFinite(p.logprob) && Number.isFinite(p.entropy));
        });
      });
      assert.equal(got[2].length, 0);
      assert.ok(worst <= 1e-5, `max |Δ| ${worst}`);
      // The uniform rows: every id ties; both take the lowest ids first, and the entropy is log V.
      const uniform = got[0][3];
      assert.deepEqual(uniform.topIds, Array.from({ length: 20 }, (_, j) => j));
      assert.ok(Math.abs(uniform.entropy - Math.log(V)) < 1e-5);
      // k above the vocabulary is cut to V.
      const all = await reducer.reduce(logits.subarray(0, 2 * V), [1, 2, V], [{ ids: [1, 2, 3], k: V + 50 }]);
      assert.equal(all[0][0].topIds.length, V);
      assert.ok(statsDiff(all[0], reduceSequence(logits, V, 0, [1, 2, 3], V), 'k = V') <= 1e-5);
    } finally {
      await reducer.dispose();
    }
  });

  it('a graph that cannot load fails with a clear error', async () => {
    await assert.rejects(loadOnnxReducer({ file: path.join(os.tmpdir(), 'cje-no-such-reduce.onnx') }), /ENOENT|no such file/);
  });
});

describe('worker: onnxruntime and JS reductions on the tiny Llama fixture', function () {
  this.timeout(60000);

  it('the served log-probs, entropies and top-5 agree (≤ 1e-5) on padded batches; a missing graph falls back to JS with one log line', async () => {
    const logs: string[] = [];
    const onnx = await startWorker({ model: FIXTURE, port: 0, device: 'cpu', maxBatchTokens: 512 });
    const js = await startWorker({ model: FIXTURE, port: 0, device: 'cpu', maxBatchTokens: 512, reduce: 'js' });
    const missing = await startWorker({ model: FIXTURE, port: 0, device: 'cpu', maxBatchTokens: 512, reduceGraph: path.join(os.tmpdir(), 'cje-no-such-reduce.onnx'), log: (l) => logs.push(l) });
    try {
      const health = async (w: RunningWorker) => ((await (await fetch(w.baseURL.replace(/\/v1$/, '/health'))).json()) as Json).reduce;
      assert.equal(await health(onnx), 'onnx');
      assert.equal(await health(js), 'js');
      assert.equal(await health(missing), 'js');
      assert.equal(logs.length, 1, logs.join('\n'));
      assert.match(logs[0], /cannot load the onnxruntime reduction .*cje-no-such-reduce\.onnx.*reducing logits in JavaScript/);
      // Lengths 1 to ~100 in one request: several right-padded batches of ≤ 512 tokens.
      const prompts = [CHAT, 'Hello.', 'Short one about machine learning and data, a bit longer than the others here.', CHAT.slice(0, 120), 'a', CHAT.slice(40, 300), 'Ça va? 😀 oui'];
      const [a, b, c] = await Promise.all([onnx, js, missing].map((w) => post(w, echo(prompts, 5))));
      let worst = 0;
      for (let i = 0; i < prompts.length; i++) {
        const la = a.json.choices[i].logprobs;
        const lb = b.json.choices[i].logprobs;
        assert.deepEqual(c.json.choices[i].logprobs, lb, 'the fallback is the JS reduction');
        worst = Math.max(worst, maxAbs(la.token_logprobs.slice(1), lb.token_logprobs.slice(1)), maxAbs(la.entropy.slice(1), lb.entropy.slice(1)));
        for (let t = 1; t < la.tokens.length; t++) {
          assert.deepEqual(Object.keys(la.top_logprobs[t]).sort(), Object.keys(lb.top_logprobs[t]).sort(), `prompt ${i} token ${t}`);
          for (const key of Object.keys(la.top_logprobs[t])) worst = Math.max(worst, Math.abs(la.top_logprobs[t][key] - lb.top_logprobs[t][key]));
        }
      }
      assert.ok(worst <= 1e-5, `max |Δ| ${worst}`);
    } finally {
      await Promise.all([onnx, js, missing].map((w) => w.close()));
    }
  });
});

describe('worker: HTTP server on the tiny Llama fixture', function () {
  this.timeout(60000);
  let w: RunningWorker;
  before(async () => {
    w = await startWorker({ model: FIXTURE, port: 0, device: 'cpu', maxBatchTokens: 512 });
  });
  after(async () => {
    await w?.close();
  });

  it('serves /health and /v1/models', async () => {
    const h: Json = await (await fetch(w.baseURL.replace(/\/v1$/, '/health'))).json();
    assert.equal(h.status, 'ok');
    assert.equal(h.device, 'cpu');
    const m: Json = await (await fetch(`${w.baseURL}/models`)).json();
    assert.equal(m.data[0].id, 'tiny-llama');
    assert.equal(m.data[0].max_model_len, 2048);
  });

  it('log-probs and entropy equal a direct transformers.js forward pass (≤ 1e-5), first token null; the export agrees with torch', async () => {
    const { status, json } = await post(w, echo(CHAT, 3));
    assert.equal(status, 200, JSON.stringify(json));
    const lp = json.choices[0].logprobs;
    assert.equal(lp.token_logprobs[0], null);
    assert.equal(lp.entropy[0], null);
    assert.equal(lp.top_logprobs[0], null);
    assert.equal(lp.tokens.length, lp.token_ids.length);
    assert.equal(lp.tokens.join(''), CHAT, 'ASCII tokens spell the prompt');
    assert.equal(lp.tokens[0], '<|begin_of_text|>');
    const direct = await directLogprobs(lp.token_ids);
    assert.ok(maxAbs(lp.token_logprobs.slice(1), direct.lps) <= 1e-5, `max |Δ| ${maxAbs(lp.token_logprobs.slice(1), direct.lps)}`);
    assert.ok(maxAbs(lp.entropy.slice(1), direct.ent) <= 1e-5);
    // top_logprobs: the scored token plus the 3 best, each ≤ the best.
    for (let t = 1; t < lp.tokens.length; t++) {
      const d = lp.top_logprobs[t];
      // (fewer keys where byte pieces of different ids share the text U+FFFD)
      assert.ok(Object.keys(d).length >= 1 && Object.keys(d).length <= 4);
      assert.ok(Math.max(...(Object.values(d) as number[])) >= lp.token_logprobs[t] - 1e-12);
    }
    // The fixture's reference.json was written by the build script from the torch model.
    const ref = JSON.parse(fs.readFileSync(path.join(FIXTURE, 'reference.json'), 'utf8'));
    const r = await post(w, echo(ref.text, 0));
    assert.deepEqual(r.json.choices[0].logprobs.token_ids, ref.token_ids, 'transformers.js tokenizes as the Python build did');
    assert.ok(maxAbs(r.json.choices[0].logprobs.token_logprobs.slice(1), ref.token_logprobs.slice(1)) < 1e-4);
  });

  it('takes a prompt as token ids and as a list of id lists; text_offset is in code points', async () => {
    const text = 'Ça va? 😀 oui';
    const a = (await post(w, echo(text))).json.choices[0];
    const ids = a.logprobs.token_ids;
    const b = (await post(w, echo(ids))).json.choices[0];
    const c = (await post(w, echo([ids, ids.slice(0, 3)]))).json.choices;
    assert.equal(b.text, text);
    assert.deepEqual(b.logprobs.token_logprobs, a.logprobs.token_logprobs);
    assert.deepEqual(c[0].logprobs.token_logprobs, a.logprobs.token_logprobs);
    assert.equal(c[1].logprobs.tokens.length, 3);
    const cps = [...text];
    const offs: number[] = a.logprobs.text_offset;
    assert.equal(offs[0], 0);
    for (let i = 1; i < offs.length; i++) assert.ok(offs[i] >= offs[i - 1] && offs[i] <= cps.length);
    // Every whole-character token sits at its offset counted in code points (the emoji counts one).
    let checked = 0;
    a.logprobs.tokens.forEach((t: string, i: number) => {
      if (t.includes('\ufffd')) return;
      assert.ok(cps.slice(offs[i]).join('').startsWith(t), `token ${i} ${JSON.stringify(t)} at ${offs[i]}`);
      checked++;
    });
    assert.ok(checked >= 4);
    assert.equal(offs[offs.length - 1] + [...a.logprobs.tokens.at(-1)].length, cps.length);
  });

  it('batching: a prompt scores the same alone, in one request with others, and among concurrent requests (max |Δ| ≤ 1e-5)', async () => {
    const prompts = [CHAT, 'Hello.', 'Short one about machine learning and data, a bit longer than the others here.', CHAT.slice(0, 120)];
    const alone: number[][] = [];
    for (const p of prompts) alone.push((await post(w, echo(p))).json.choices[0].logprobs.token_logprobs.slice(1));
    const together = (await post(w, echo(prompts))).json.choices.map((c: Json) => c.logprobs.token_logprobs.slice(1));
    const concurrent = (await Promise.all(prompts.map((p) => post(w, echo(p))))).map((r) => r.json.choices[0].logprobs.token_logprobs.slice(1));
    let worst = 0;
    prompts.forEach((_, i) => {
      worst = Math.max(worst, maxAbs(alone[i], together[i]), maxAbs(alone[i], concurrent[i]));
    });
    assert.ok(worst <= 1e-5, `max |Δ| ${worst}`);
  });

  it('rejects bad requests with clear OpenAI error bodies and keeps serving', async () => {
    const expectError = async (body: unknown, status: number, code: RegExp, msg: RegExp) => {
      const r = await post(w, body);
      assert.equal(r.status, status, JSON.stringify(r.json));
      assert.equal(typeof r.json.error.message, 'string');
      assert.match(r.json.error.code ?? '', code);
      assert.match(r.json.error.message, msg);
      assert.ok('param' in r.json.error && 'type' in r.json.error);
    };
    await expectError(echo(new Array(2049).fill(65)), 400, /context_length_exceeded/, /maximum context length is 2048 tokens.*2049/);
    await expectError(echo('word '.repeat(3000)), 400, /context_length_exceeded/, /maximum context length/);
    await expectError(echo([1, 2, 5000]), 400, /invalid_token_id/, /token 2 is 5000/);
    await expectError(echo([[1, 2], [3, -1]]), 400, /invalid_token_id/, /prompt 1/);
    await expectError(echo(''), 400, /empty_prompt/, /empty/);
    await expectError(echo([]), 400, /empty_prompt/, /empty/);
    await expectError('{"model": "tiny-llama", "prompt": ', 400, /invalid_json/, /not valid JSON/);
    await expectError({ ...echo('hi'), max_tokens: 5 }, 400, /unsupported_parameter/, /max_tokens=5/);
    await expectError({ ...echo('hi'), model: 'other-model' }, 404, /model_not_found/, /serves tiny-llama/);
    const big = JSON.stringify(echo('x'.repeat(10 * 1024 * 1024)));
    const r = await fetch(`${w.baseURL}/completions`, { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 413);
    assert.match(((await r.json()) as Json).error.message, /at most \d+ bytes/);
    // Still serving.
    const ok = await post(w, echo('Still here?'));
    assert.equal(ok.status, 200);
    assert.equal(ok.json.choices[0].logprobs.token_logprobs[0], null);
  });
});

describe('worker: the model thread and the Batcher', function () {
  this.timeout(60000);

  it('the Batcher keeps two batches in the engine, packs what arrives meanwhile, and resolves each prompt with its own results', async () => {
    const calls: { seqs: { ids: number[]; k: number }[]; maxLen: number; resolve: (s: SeqScores[]) => void; reject: (e: Error) => void }[] = [];
    const engine: BatchEngine = {
      reduceMode: 'onnx',
      run: (seqs, maxLen) => new Promise((resolve, reject) => calls.push({ seqs: seqs.map((s) => ({ ids: s.ids, k: s.k })), maxLen, resolve, reject })),
    };
    const fake = (ids: number[]): SeqScores => ({ length: ids.length - 1, k: 0, logprob: Float64Array.from(ids.slice(1), (x) => -x), entropy: new Float64Array(ids.length - 1), topIds: new Int32Array(0), topLogprobs: new Float64Array(0) });
    const answer = (c: (typeof calls)[number]) => c.resolve(c.seqs.map((s) => fake(s.ids)));
    const batcher = new Batcher(engine, 8);
    const tick = () => new Promise((r) => setImmediate(r));
    // One request's three prompts of 4 tokens: batches of ≤ 8 padded tokens, two in the engine at once.
    const first = [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]].map((ids) => batcher.score(ids, 0));
    await tick();
    assert.deepEqual(calls.map((c) => c.seqs.map((s) => s.ids)), [[[1, 2, 3, 4], [5, 6, 7, 8]], [[9, 10, 11, 12]]]);
    // While both are in flight, two more requests arrive: they wait, then share the next batch.
    const later = [batcher.score([20, 21], 0), batcher.score([30, 31, 32], 0)];
    await tick();
    assert.equal(calls.length, 2);
    answer(calls[1]);
    await tick();
    assert.equal(calls.length, 3);
    assert.deepEqual(calls[2].seqs.map((s) => s.ids), [[20, 21], [30, 31, 32]]);
    assert.equal(calls[2].maxLen, 3);
    answer(calls[2]);
    answer(calls[0]);
    const got = await Promise.all([...first, ...later]);
    assert.deepEqual(got.map((g) => Array.from(g.logprob)), [[-2, -3, -4], [-6, -7, -8], [-10, -11, -12], [-21], [-31, -32]]);
    assert.deepEqual(batcher.stats, { batches: 3, sequences: 5, tokens: 17, paddedTokens: 8 + 4 + 6 });
    // A failing batch rejects its prompts only; the next batch still runs.
    const failing = batcher.score([1, 2], 0);
    await tick();
    const ok = batcher.score([3, 4, 5, 6, 7, 8], 0);
    await tick();
    assert.equal(calls.length, 5);
    calls[3].reject(new Error('forward failed'));
    answer(calls[4]);
    await assert.rejects(failing, /forward failed/);
    assert.deepEqual(Array.from((await ok).logprob), [-4, -5, -6, -7, -8]);
  });

  it('two concurrent requests are both answered correctly while another request\'s batches are in the thread', async () => {
    const w = await startWorker({ model: FIXTURE, port: 0, device: 'cpu', maxBatchTokens: 96 });
    try {
      const long = [CHAT, CHAT.slice(30), CHAT.slice(60), CHAT.slice(0, 200), CHAT.slice(90)];
      const others = ['Hello.', 'Short one about machine learning and data, a bit longer than the others here.'];
      const lps = (r: { json: Json }) => r.json.choices.map((c: Json) => c.logprobs.token_logprobs.slice(1) as number[]);
      const alone = [...long, ...others].map(async (p) => (await post(w, echo(p))).json.choices[0].logprobs.token_logprobs.slice(1) as number[]);
      const want = await Promise.all(alone);
      const health = async (): Promise<Json> => (await fetch(w.baseURL.replace(/\/v1$/, '/health'))).json();
      const before = (await health()).batches;
      // The long request goes out in ≥ 5 batches; the others are sent once the thread has answered at least one of them.
      const a = post(w, echo(long));
      while ((await health()).batches === before) await new Promise((r) => setTimeout(r, 1));
      const [ra, rb, rc] = await Promise.all([a, post(w, echo(others[0])), post(w, echo([others[1]]))]);
      for (const r of [ra, rb, rc]) assert.equal(r.status, 200, JSON.stringify(r.json));
      const got = [...lps(ra), ...lps(rb), ...lps(rc)];
      let worst = 0;
      want.forEach((x, i) => (worst = Math.max(worst, maxAbs(x, got[i]))));
      assert.ok(worst <= 1e-5, `max |Δ| ${worst}`);
      const direct = await directLogprobs(rb.json.choices[0].logprobs.token_ids);
      assert.ok(maxAbs(got[long.length], direct.lps) <= 1e-5);
    } finally {
      await w.close();
    }
  });

  it('a model the thread cannot load is a startup error with one clear message; the thread keeps no process alive', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-badonnx-'));
    const copy = path.join(dir, 'tiny-llama');
    fs.cpSync(FIXTURE, copy, { recursive: true });
    fs.writeFileSync(path.join(copy, 'onnx', 'model.onnx'), 'not an onnx file');
    await assert.rejects(startWorker({ model: copy, port: 0, device: 'cpu' }), (e: Error) => e instanceof WorkerStartupError && /cannot load onnx\/model\.onnx/.test(e.message));
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'cje.js'), 'worker', '--model', copy, '--device', 'cpu'], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /cannot load onnx\/model\.onnx/);
    // A process that started a model thread, scored a batch and has nothing else to do exits by itself.
    const script = `
      const { ModelThread } = require(${JSON.stringify(require.resolve('../../src/worker/thread'))});
      const { loadTokenizer } = require(${JSON.stringify(require.resolve('../../src/worker/model'))});
      (async () => {
        const info = await loadTokenizer(${JSON.stringify(FIXTURE)});
        const t = await ModelThread.start({ dir: info.dir, config: info.config, device: 'cpu', reduce: 'onnx' });
        const [s] = await t.run([{ ids: [1016, 5, 6, 7], k: 2 }], 4);
        console.log('scored', s.length, s.k);
      })();`;
    const c = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30000 });
    assert.equal(c.signal, null, 'the process had to be killed: the thread kept it alive');
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /scored 3 2/);
  });

  it('cje worker stops on SIGTERM: the model thread ends with it', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'cje.js'), 'worker', '--model', FIXTURE, '--device', 'cpu', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (/listening (http:\/\/\S+)/.test(out)) resolve();
      });
      child.on('exit', () => reject(new Error(`exited before listening: ${err}`)));
    });
    const baseURL = /listening (http:\/\/\S+)/.exec(out)![1];
    const r = await fetch(`${baseURL}/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(echo('Hello there.')) });
    assert.equal(r.status, 200);
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20000);
    const code = await exited;
    clearTimeout(timer);
    assert.equal(code, 0, err);
    assert.match(err, /stopping \(SIGTERM\)/);
  });
});

describe('worker: process, manager and end-to-end scoring', function () {
  this.timeout(60000);

  it('a bad --model folder fails at startup with one clear line (exit 2)', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-badmodel-'));
    fs.writeFileSync(path.join(empty, 'config.json'), '{"model_type": "llama"}');
    const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'cje.js'), 'worker', '--model', empty], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 2, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /lacks tokenizer\.json, tokenizer_config\.json, onnx\/model\.onnx/);
    const r2 = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'cje.js'), 'worker', '--model', path.join(empty, 'nope')], { encoding: 'utf8', timeout: 30000 });
    assert.equal(r2.status, 2);
    assert.match(r2.stderr, /does not exist/);
  });

  it('scores a llama3 chat log through runScoring with a local policy: a worker is started, the span is found by text_offset, the identical policy has weight exactly 1', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-worker-e2e-'));
    const log = path.join(dir, 'log.jsonl');
    const records = [
      { prompt_id: 'a', prompt: 'What is machine learning?', response: 'Machine learning is learning from data.' },
      { prompt_id: 'b', prompt: 'Dis bonjour.', response: 'Bonjour ! Ça va 😀' },
      { messages: [{ role: 'user', content: 'Count to three.' }], response: 'One, two, three.', metadata: { prompt_id: 'c' } },
    ];
    fs.writeFileSync(log, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const model = path.relative(dir, FIXTURE);
    const config: CjeConfig = {
      behavior: 'base',
      policies: {
        base: { provider: 'local', model, template: 'llama3', systemPrompt: SYSTEM },
        clone: { provider: 'local', model, template: 'llama3', systemPrompt: SYSTEM },
        terse: { provider: 'local', model, template: 'llama3', systemPrompt: 'Answer briefly.' },
        chatml: { provider: 'local', model, template: 'chatml' },
      },
    };
    const manager = new WorkerManager();
    const started: string[] = [];
    try {
      const summary = await runScoring({
        logFile: log,
        config,
        makeScorer: withLocalWorkers(
          async () => {
            throw new Error('no other provider here');
          },
          { baseDir: dir, manager, onStart: (name) => started.push(name) },
        ),
      });
      assert.equal(summary.failed, 0, JSON.stringify(summary.errors));
      assert.equal(summary.scored, 9, 'three records × three distinct fingerprints');
      assert.equal(summary.reused, 3);
      assert.equal(new Set(started).size, 3);
      const lines: ScoreLine[] = readScoresFile(summary.outFile);
      for (const rec of ['a', 'b', 'c']) {
        const by = (p: string) => lines.find((l) => l.record === rec && l.policy === p)!;
        assert.equal(by('clone').logprob, by('base').logprob, 'identical policy: weight exactly 1');
        assert.notEqual(by('terse').logprob, by('base').logprob, 'another system prompt changes the log-prob');
        const b = by('base');
        assert.equal(b.span!.method, 'text_offset');
        assert.ok(b.logprob! < 0 && Number.isFinite(b.logprob));
        assert.equal(b.tokens.at(-1), '<|eot_id|>', 'the end of turn is one scored token');
        const response = records.find((r) => (r.prompt_id ?? r.metadata?.prompt_id) === rec)!.response;
        // Characters split across byte tokens come back as U+FFFD pieces: compare the ASCII skeleton.
        const skeleton = (x: string) => x.replace(/[^\x00-\x7f]+/g, '?');
        assert.equal(skeleton(b.tokens.join('')), skeleton(response + '<|eot_id|>'));
        assert.equal(b.entropy!.length, b.tokens.length);
        const c = by('chatml');
        assert.equal(c.tokens.at(-1), '<|im_end|>');
      }
      // The same worker again, by hand: the summed span equals the sum of the echoed token log-probs.
      const w = await manager.get({ model: FIXTURE });
      const scorer = new CompletionsScorer({ baseURL: w.baseURL, model: 'tiny-llama' });
      const [res] = await scorer.scoreBatch([{ rendered: { text: CHAT, responseStart: CHAT.indexOf('Machine'), responseEnd: CHAT.length - 10, scoredEnd: CHAT.length, template: 'llama3' }, endOfTurn: '<|eot_id|>' }]);
      assert.ok(res.ok);
      assert.equal(res.value.tokens.join(''), 'Machine learning is learning from data.<|eot_id|>');
    } finally {
      await manager.stopAll();
    }
  });

  it('the manager reports a bad model folder with the worker\'s own message', async () => {
    const manager = new WorkerManager();
    await assert.rejects(manager.get({ model: path.join(os.tmpdir(), 'cje-no-such-model') }), /does not exist/);
    await manager.stopAll();
  });
});
