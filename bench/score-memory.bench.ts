// Memory of `cje score` over a long log: a generated log of N records of
// about 1 KB (CJE_BENCH_RECORDS, default 20,000 so that `npm run bench` stays short; 100,000 and 1,000,000 for the issue's
// figure) under 4 policies of 4 fingerprints, against loopback completions
// servers in their own processes. The run itself is a child process whose RSS
// is sampled every 500 ms; printed: the idle baseline, the peak, and the
// slope of RSS over the second half of the run (MB per 100,000 records), the
// figure that says whether memory grows with the log.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Scorer, ScoreRequest } from '../src/core/scoring/scorer';
import type { SpanResult } from '../src/core/span';

const RECORDS = Number(process.env.CJE_BENCH_RECORDS ?? 20_000);
const SERVERS = Number(process.env.CJE_BENCH_SERVERS ?? 1);
const POLICIES = ['base', 'alt', 'tuned', 'large'];
/** loopback (default): completions servers in their own processes; inprocess: a backend in the scoring process that answers at once (for 1,000,000 records in minutes, not hours). */
const BACKEND = process.env.CJE_BENCH_BACKEND === 'inprocess' ? 'inprocess' : 'loopback';

const WORDS = 'the a of to and in is it that for on with as was at by an be this which or from are have not had but what all were when we there can been one do will more if out so up said about into than them only'.split(' ');

/**
 * A record of about 1 KB, different for each i (a xorshift stream of words).
 * Most of its bytes are metadata the scorer reads but does not send: the toy
 * server's time grows with the prompt's tokens, and this benchmark is about
 * the client's memory over many records, not the server's speed.
 */
function record(i: number): string {
  let s = (i * 2654435761) >>> 0 || 1;
  const words = (n: number) => {
    const out: string[] = [];
    for (let k = 0; k < n; k++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      out.push(WORDS[(s >>> 0) % WORDS.length]);
    }
    return out.join(' ');
  };
  return JSON.stringify({ prompt_id: `r${i}`, prompt: `Question ${i}: ${words(30)}?`, response: `Answer ${i}: ${words(12)}.`, base_policy_logprob: -60, target_policy_logprobs: { alt: -61 }, metadata: { notes: words(110) } });
}

function writeLog(file: string): void {
  const fd = fs.openSync(file, 'w');
  const chunk: string[] = [];
  for (let i = 0; i < RECORDS; i++) {
    chunk.push(record(i));
    if (chunk.length === 10_000 || i === RECORDS - 1) {
      fs.writeSync(fd, chunk.join('\n') + '\n');
      chunk.length = 0;
    }
  }
  fs.closeSync(fd);
}

function startServer(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [path.join(__dirname, '../test/support/completions-server.js'), '--no-record', '--chosen-top-only', '--exit-on-stdin-end'], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d;
      const m = /listening (\S+)/.exec(buf);
      if (m) resolve({ url: m[1], child });
    });
    child.on('exit', () => reject(new Error('server exited')));
  });
}

/**
 * The in-process backend: a result per prompt at once, with the response's
 * pieces as tokens (so the scores lines are as long as the loopback ones) and
 * log-probs from a hash of the text (different per policy and record).
 */
function inProcessScorer(model: string): Scorer {
  return {
    batchSize: 16,
    async scoreBatch(reqs: ScoreRequest[]): Promise<SpanResult[]> {
      await new Promise((r) => setImmediate(r));
      return reqs.map(({ rendered }) => {
        const text = rendered.text.slice(rendered.responseStart, rendered.scoredEnd);
        const tokens = text.match(/.{1,4}/gs) ?? [];
        let h = 2166136261;
        for (let i = 0; i < model.length; i++) h = Math.imul(h ^ model.charCodeAt(i), 16777619);
        const token_logprobs = tokens.map((t) => {
          for (let i = 0; i < t.length; i++) h = Math.imul(h ^ t.charCodeAt(i), 16777619);
          return -((h >>> 0) / 2 ** 32) * 4;
        });
        const logprob = token_logprobs.reduce((a, b) => a + b, 0);
        return { ok: true as const, value: { logprob, tokens, token_logprobs, span: { method: 'text_offset' as const, approximate: false, firstToken: 0, endToken: tokens.length, endOfTurnScored: true, tokenization: 'joined' as const } } };
      });
    },
  };
}

/** The scoring process: reports its idle RSS, then a sample every 500 ms, then the summary's counts. */
async function child(log: string, out: string, urls: string[], backend: string): Promise<void> {
  const { runScoring } = await import('../src/core/score-run');
  const { CompletionsScorer } = await import('../src/scorers/completions');
  global.gc?.();
  await new Promise((r) => setTimeout(r, 200));
  const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
  say({ baseline: process.memoryUsage.rss() });
  let done = 0;
  const t0 = Date.now();
  const timer = setInterval(() => (process.env.CJE_BENCH_GC && global.gc?.(), say({ t: Date.now() - t0, rss: process.memoryUsage.rss(), heap: process.memoryUsage().heapUsed, done })), 500);
  const policies = Object.fromEntries(POLICIES.map((name, i) => [name, { provider: 'openai-compatible' as const, baseURL: urls[i % urls.length], model: `toy-${name}`, template: 'chatml', batchSize: 16, concurrency: 4 }]));
  const s = await runScoring({
    logFile: log,
    outFile: out,
    config: { behavior: 'base', policies },
    makeScorer: async (p) => (backend === 'inprocess' ? inProcessScorer(p.model) : new CompletionsScorer({ baseURL: p.baseURL!, model: p.model, batchSize: p.batchSize ?? 16 })),
    onProgress: (p) => (done = p.done),
  });
  clearInterval(timer);
  say({ t: Date.now() - t0, rss: process.memoryUsage.rss(), heap: process.memoryUsage().heapUsed, done: s.records, end: { records: s.records, scored: s.scored, failed: s.failed, seconds: s.seconds, ess: s.policies.map((p) => p.essFraction) } });
}

/** Least-squares slope of y on x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx ? sxy / sxx : NaN;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-mem-'));
  const servers: ChildProcess[] = [];
  try {
    const log = path.join(dir, 'log.jsonl');
    writeLog(log);
    const logBytes = fs.statSync(log).size;
    console.log(`score memory: ${RECORDS} records (${(logBytes / RECORDS).toFixed(0)} B each, ${(logBytes / 2 ** 20).toFixed(0)} MB), ${POLICIES.length} policies of ${POLICIES.length} fingerprints, ${BACKEND === 'loopback' ? `${SERVERS} loopback server process(es)` : 'in-process backend (no HTTP)'}`);
    const urls: string[] = [];
    for (let i = 0; i < (BACKEND === 'loopback' ? SERVERS : 0); i++) {
      const s = await startServer();
      servers.push(s.child);
      urls.push(s.url);
    }
    const out = path.join(dir, 'log.scores.jsonl');
    const c = spawn(process.execPath, ['--expose-gc', __filename, '--child', log, out, urls.join(',') || '-', BACKEND], { stdio: ['ignore', 'pipe', 'inherit'] });
    const samples: { t: number; rss: number; heap: number; done: number }[] = [];
    let baseline = 0;
    let end: { records: number; scored: number; failed: number; seconds: number; ess: (number | null)[] } | undefined;
    let buf = '';
    c.stdout!.on('data', (d: Buffer) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        const o = JSON.parse(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
        if (o.baseline) baseline = o.baseline;
        else samples.push(o);
        if (o.end) end = o.end;
      }
    });
    const code = await new Promise<number | null>((r) => c.on('exit', r));
    if (code !== 0 || !end) throw new Error(`the scoring process exited with ${code}`);
    const MB = 2 ** 20;
    const peak = Math.max(...samples.map((s) => s.rss));
    const atPeak = samples.find((s) => s.rss === peak)!;
    const half = samples.filter((s) => s.t >= samples[samples.length - 1].t / 2);
    const perRecord = slope(
      half.map((s) => s.done),
      half.map((s) => s.rss),
    );
    const outBytes = fs.statSync(out).size;
    console.log(`  scored ${end.scored} (record, policy) pairs in ${end.seconds.toFixed(1)} s (${(end.records / end.seconds).toFixed(0)} records/s), failed ${end.failed}`);
    console.log(`  RSS idle baseline      ${(baseline / MB).toFixed(1)} MB`);
    console.log(`  RSS peak               ${(peak / MB).toFixed(1)} MB at ${atPeak.done} records done, ${(atPeak.t / 1000).toFixed(1)} s in   (goal at 1,000,000 records: under 300 MB)`);
    console.log(`  RSS slope, second half ${((perRecord * 100_000) / MB).toFixed(2)} MB per 100,000 records (${half.length} samples)`);
    console.log(`  scores file            ${(outBytes / MB).toFixed(0)} MB, ${(outBytes / (RECORDS * POLICIES.length)).toFixed(0)} B per line (disk grows with the log; memory should not)`);
    const step = Math.max(1, Math.floor(samples.length / 10));
    console.log(`  curve (records done → RSS MB (V8 heap used MB)): ${samples.filter((_, i) => i % step === 0 || i === samples.length - 1).map((s) => `${s.done}→${(s.rss / MB).toFixed(0)}(${(s.heap / MB).toFixed(0)})`).join('  ')}`);
  } finally {
    for (const s of servers) s.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4], process.argv[5].split(','), process.argv[6]).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
