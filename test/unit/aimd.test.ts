import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AdaptiveLimit, type Permit } from '../../src/scorers/aimd';
import { CompletionsScorer } from '../../src/scorers/completions';
import { parseDurationMs, readRateLimitHints, retryAfterMs } from '../../src/scorers/rate-limit-headers';
import { startLoadServer, type LoadServer } from '../support/load-server';
import { drive } from '../support/drive-scorer';

const headers = (h: Record<string, string>) => (name: string) => h[name];

describe('rate-limit headers', () => {
  it('reads Go-style durations, plain seconds and epoch times', () => {
    const now = 1_700_000_000_000;
    assert.equal(parseDurationMs('6m0s', now), 360_000);
    assert.equal(parseDurationMs('20ms', now), 20);
    assert.equal(parseDurationMs('1h2m3.5s', now), 3_723_500);
    assert.equal(parseDurationMs('1.5', now), 1500);
    // 1,700,000,005 s since the epoch is 5 s after `now`.
    assert.equal(parseDurationMs('1700000005', now), 5000);
    assert.equal(parseDurationMs('soon', now), undefined);
    assert.equal(parseDurationMs('5x', now), undefined);
    assert.equal(parseDurationMs(undefined, now), undefined);
  });

  it('Retry-After: retry-after-ms first, then seconds, then an HTTP date', () => {
    const now = Date.parse('Wed, 02 Dec 2026 03:00:00 GMT');
    assert.equal(retryAfterMs(headers({ 'retry-after-ms': '1500', 'retry-after': '2' }), now), 1500);
    assert.equal(retryAfterMs(headers({ 'retry-after': '2' }), now), 2000);
    assert.equal(retryAfterMs(headers({ 'retry-after': 'Wed, 02 Dec 2026 03:00:30 GMT' }), now), 30_000);
    assert.equal(retryAfterMs(headers({ 'retry-after': 'later' }), now), undefined);
  });

  it('x-ratelimit-remaining-requests / -reset-requests and Fireworks\' x-ratelimit-over-limit', () => {
    assert.deepEqual(
      readRateLimitHints(headers({ 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': '250ms', 'x-ratelimit-over-limit': 'yes', 'x-ratelimit-limit-tokens-prompt': '60000' })),
      { remainingRequests: 0, resetRequestsMs: 250, overLimit: true },
    );
    assert.deepEqual(readRateLimitHints(headers({ 'x-ratelimit-remaining-requests': 'many' })), {});
  });
});

describe('adaptive limit (AIMD)', () => {
  const take = async (l: AdaptiveLimit, n: number) => {
    const out: Permit[] = [];
    for (let i = 0; i < n; i++) out.push(await l.acquire());
    return out;
  };
  const pending = async (p: Promise<unknown>) => {
    let settled = false;
    p.then(() => (settled = true), () => (settled = true));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    return !settled;
  };

  it('starts at the ceiling, halves once per window on 429s, grows back by one per window of answers', async () => {
    const l = new AdaptiveLimit({ ceiling: 8, now: () => 0 });
    assert.equal(l.limit, 8);
    const first = await take(l, 8);
    const ninth = l.acquire();
    assert.ok(await pending(ninth), 'the ninth waits for a slot');
    first[0].done({ kind: 'rate-limited' });
    assert.equal(l.limit, 4);
    // Sent before the halving: says nothing about the new limit.
    first[1].done({ kind: 'rate-limited' });
    assert.equal(l.limit, 4);
    assert.equal(l.stats.decreases, 1);
    assert.equal(l.stats.rateLimited, 2);
    for (const p of first.slice(2)) p.done({ kind: 'ok', latencyMs: 10 });
    assert.equal(l.stats.limit, 4);
    // The ninth was sent after the halving: its answer counts. By hand, each answer adds 1/limit:
    // 4 → 4.25 (the ninth) → 4.4853 → 4.7082 → 4.9206 → 5.1238 → 5.3190.
    (await ninth).done({ kind: 'ok', latencyMs: 10 });
    const grown: number[] = [];
    for (let i = 0; i < 5; i++) {
      (await l.acquire()).done({ kind: 'ok', latencyMs: 10 });
      grown.push(l.limit);
    }
    assert.deepEqual(grown, [4, 4, 4, 5, 5]);
    for (let i = 0; i < 100; i++) (await l.acquire()).done({ kind: 'ok', latencyMs: 10 });
    assert.equal(l.limit, 8, 'never above the ceiling');
  });

  it('halves when latency rises well above the best seen (requests queue in the server)', async () => {
    const l = new AdaptiveLimit({ ceiling: 16, now: () => 0 });
    for (let i = 0; i < 10; i++) (await l.acquire()).done({ kind: 'ok', latencyMs: 20 });
    assert.equal(l.limit, 16);
    // Halving needs the moving average (weight 0.1) above 3 × 20 ms and 50 ms above 20 ms.
    // Answers of 40 ms never get there (the average tends to 40); of 200 ms: 20 → 38 → 54.2 → 68.78
    // (over 60 but only 48.78 above 20) → 81.902, the fourth one.
    for (let i = 0; i < 30; i++) (await l.acquire()).done({ kind: 'ok', latencyMs: 40 });
    assert.equal(l.limit, 16);
    const l2 = new AdaptiveLimit({ ceiling: 16, now: () => 0 });
    for (let i = 0; i < 10; i++) (await l2.acquire()).done({ kind: 'ok', latencyMs: 20 });
    for (let i = 0; i < 3; i++) (await l2.acquire()).done({ kind: 'ok', latencyMs: 200 });
    assert.equal(l2.limit, 16);
    (await l2.acquire()).done({ kind: 'ok', latencyMs: 200 });
    assert.equal(l2.limit, 8);
    assert.equal(l2.stats.decreases, 1);
  });

  it('Retry-After and an exhausted request budget hold every new request; the wait ends at once on abort', async () => {
    const l = new AdaptiveLimit({ ceiling: 4 });
    l.observe({ retryAfterMs: 30_000 });
    const c = new AbortController();
    const waiting = l.acquire(c.signal);
    assert.ok(await pending(waiting), 'held by the Retry-After');
    c.abort(new Error('cancelled'));
    await assert.rejects(waiting, /cancelled/);

    const b = new AdaptiveLimit({ ceiling: 4 });
    b.observe({ remainingRequests: 2, resetRequestsMs: 30_000 });
    await take(b, 2);
    const c2 = new AbortController();
    const third = b.acquire(c2.signal);
    assert.ok(await pending(third), 'the server said two more; the third waits for the window');
    c2.abort(new Error('cancelled'));
    await assert.rejects(third, /cancelled/);
  });
});

describe('adaptive concurrency against a loopback server admitting N requests a second', function () {
  this.timeout(60_000);
  const servers: LoadServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  // 50 requests a second in windows of 200 ms (10 each), 10 ms per request: one in flight would almost do.
  const run = async (hints: 'none' | 'retry-after' | 'all') => {
    const s = await startLoadServer({ rate: 50, windowMs: 200, latencyMs: 10, hints });
    servers.push(s);
    const scorer = new CompletionsScorer({ baseURL: s.baseURL, model: 'toy', batchSize: 1, concurrency: 32, maxRetries: 20 });
    const res = await drive(scorer, 120);
    assert.ok(res.every((r) => r.ok), JSON.stringify(res.find((r) => !r.ok)));
    assert.equal(s.counters.served, 120);
    // The client counted every 429 the server sent.
    assert.equal(scorer.limit.rateLimited, s.counters.rateLimited);
    return { limit: scorer.limit, refused: s.counters.rateLimited };
  };

  it('without hints: 429s halve the limit from the ceiling of 32 to a few in flight', async () => {
    const { limit, refused } = await run('none');
    assert.ok(refused > 0);
    assert.ok(limit.decreases >= 2, `${limit.decreases} halvings`);
    assert.ok(limit.lowest <= 8 && limit.limit <= 16 && limit.limit >= 1, JSON.stringify(limit));
  });

  it('with x-ratelimit-remaining-requests / -reset-requests: the client waits for the window and is refused at most once per request in its first burst', async () => {
    const { refused } = await run('all');
    // The first 32 go out before any answer says what is left: 10 fit the window, 22 are refused. After that, none.
    assert.ok(refused <= 32, `${refused} 429s`);
    const none = await run('none');
    assert.ok(refused < none.refused, `with hints ${refused} 429s, without ${none.refused}`);
  });
});

describe('cje score under a rate limit (the command line, as a child process)', function () {
  this.timeout(60_000);
  it('scores everything and says how many 429s came and how far the concurrency went down (the same count the server sent)', async () => {
    const s = await startLoadServer({ rate: 20, windowMs: 500, latencyMs: 5, hints: 'none' });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-aimd-'));
    try {
      const log = path.join(dir, 'log.jsonl');
      fs.writeFileSync(log, Array.from({ length: 30 }, (_, i) => JSON.stringify({ prompt_id: `q${i}`, prompt: `Question ${i}?`, response: `Answer ${i}.` })).join('\n') + '\n');
      const cfg = path.join(dir, 'cje.config.json');
      fs.writeFileSync(cfg, JSON.stringify({ behavior: 'base', policies: { base: { provider: 'openai-compatible', baseURL: s.baseURL, model: 'toy', template: 'chatml', batchSize: 1, concurrency: 8, maxRetries: 20 } } }));
      const child = spawn(process.execPath, [path.resolve(__dirname, '../../../bin/cje.js'), 'score', log, '--config', cfg, '--no-probe'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((r) => child.once('close', r));
      assert.equal(code, 0, stderr);
      const m = /cje score: base: (\d+) × 429; requests in flight went down to (\d+) of 8 \((\d+) halvings\)/.exec(stderr);
      assert.ok(m, stderr);
      assert.equal(Number(m[1]), s.counters.rateLimited);
      assert.ok(s.counters.rateLimited > 0);
      assert.ok(Number(m[2]) < 8);
      assert.equal(s.counters.served, 30);
    } finally {
      await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
