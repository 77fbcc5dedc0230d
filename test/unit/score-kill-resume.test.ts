import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mulberry32 } from '../../src/core/diagnostics/estimates';
import { startCompletionsServer, type CompletionsServer } from '../support/completions-server';

const CJE = path.resolve(__dirname, '../../../bin/cje.js');
const RECORDS = Number(process.env.CJE_KILL_RECORDS ?? 100_000);
const KILLS = 4;
const POLICIES = ['base', 'clone', 'other'];

/** Runs `cje score`; with killAfter, SIGKILLs it that many ms after its scores file first grows. */
function score(log: string, cfg: string, out: string, killAfter?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const start = fs.existsSync(out) ? fs.statSync(out).size : 0;
    const child = spawn(process.execPath, [CJE, 'score', log, '--config', cfg, '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    let poll: NodeJS.Timeout | undefined;
    if (killAfter !== undefined) {
      // Killed once it has written something this time, so that every run moves the file on.
      poll = setInterval(() => {
        if (fs.existsSync(out) && fs.statSync(out).size > start) {
          clearInterval(poll);
          setTimeout(() => child.kill('SIGKILL'), killAfter);
        }
      }, 10);
    }
    child.on('close', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stderr });
    });
  });
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe(`cje score killed with SIGKILL at random points, then resumed (${RECORDS} records × ${POLICIES.length} policies)`, function () {
  this.timeout(15 * 60_000);
  let server: CompletionsServer;
  let dir: string;

  before(async () => {
    // A fast server: no request list kept, no candidate ranking; the log's records are short.
    server = await startCompletionsServer({ record: false, chosenTopOnly: true });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-kill-'));
  });
  after(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing and duplicates nothing: every (record, policy) once, every line whole, each earlier file a prefix of the next', async () => {
    const log = path.join(dir, 'log.jsonl');
    const fd = fs.openSync(log, 'w');
    for (let i = 0; i < RECORDS; i += 10_000) {
      const chunk: string[] = [];
      for (let j = i; j < Math.min(RECORDS, i + 10_000); j++) chunk.push(JSON.stringify({ prompt_id: `k${j}`, prompt: `Q${j}?`, response: `A${j % 977}.` }));
      fs.writeSync(fd, chunk.join('\n') + '\n');
    }
    fs.closeSync(fd);
    const cfg = path.join(dir, 'cje.config.json');
    const pol = { provider: 'openai-compatible', baseURL: server.baseURL, model: 'toy', template: 'chatml', batchSize: 64, concurrency: 4 };
    fs.writeFileSync(cfg, JSON.stringify({ behavior: 'base', policies: { base: pol, clone: pol, other: { ...pol, model: 'toy-2' } } }));
    const out = path.join(dir, 'log.scores.jsonl');

    const random = mulberry32(0x6b111);
    const t0 = Date.now();
    const runs: string[] = [];
    for (let k = 0; k < KILLS; k++) {
      const killAfter = Math.floor(200 + random() * 2500);
      const r = await score(log, cfg, out, killAfter);
      const bytes = fs.existsSync(out) ? fs.readFileSync(out) : Buffer.alloc(0);
      runs.push(`kill ${k + 1} after ${killAfter} ms: ${r.signal ?? `exit ${r.code}`}, file ${bytes.length} bytes`);
      if (r.signal !== 'SIGKILL') break; // it finished first: the rest is checked below all the same
      // What was whole before the kill must still start the file after the next run.
      const whole = bytes.subarray(0, bytes.lastIndexOf(0x0a) + 1);
      const next = await score(log, cfg, out, Math.floor(200 + random() * 2500));
      runs.push(`  resumed: ${next.signal ?? `exit ${next.code}`}`);
      const after = fs.readFileSync(out);
      assert.equal(sha(after.subarray(0, whole.length)), sha(whole), `the lines written before kill ${k + 1} are unchanged`);
      if (next.signal !== 'SIGKILL') break;
    }
    const final = await score(log, cfg, out);
    assert.equal(final.code, 0, final.stderr);
    const seconds = (Date.now() - t0) / 1000;

    const text = fs.readFileSync(out, 'utf8');
    assert.ok(text.endsWith('\n'));
    const seen = new Map<string, number>();
    let scoreLines = 0;
    for (const l of text.split('\n')) {
      if (!l) continue;
      const o = JSON.parse(l) as { kind?: string; record?: string; policy?: string; error?: string | null };
      if (o.kind) continue;
      scoreLines++;
      assert.equal(o.error, null, `${o.record}/${o.policy}: ${o.error}`);
      const k = `${o.record}\u0000${o.policy}`;
      seen.set(k, (seen.get(k) ?? 0) + 1);
    }
    const dup = [...seen].filter(([, n]) => n > 1);
    assert.deepEqual(dup.slice(0, 5), [], `${dup.length} (record, policy) pairs written more than once`);
    assert.equal(scoreLines, RECORDS * POLICIES.length);
    for (let i = 0; i < RECORDS; i += 997) for (const p of POLICIES) assert.equal(seen.get(`k${i}\u0000${p}`), 1, `k${i} under ${p}`);
    console.log(`      ${runs.join('\n      ')}\n      ${RECORDS} records × ${POLICIES.length} policies, all runs together: ${seconds.toFixed(1)} s`);
  });
});
