// Each stage of src/core/scoring/ alone, with a few records.
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mulberry32 } from '../../src/core/diagnostics/estimates';
import { ScoreStore } from '../../src/core/score-store';
import { Batcher } from '../../src/core/scoring/batch';
import { policyGroups, type RunGroup } from '../../src/core/scoring/groups';
import { OpenItems } from '../../src/core/scoring/items';
import { LookupStage } from '../../src/core/scoring/lookup';
import { Progress } from '../../src/core/scoring/progress';
import { BoundedQueue } from '../../src/core/scoring/queue';
import { readItems } from '../../src/core/scoring/read';
import { conversationFor, renderJob, type Job } from '../../src/core/scoring/render';
import { RepeatSample } from '../../src/core/scoring/repeat';
import type { Scorer, ScoreRequest } from '../../src/core/scoring/scorer';
import { sendGroup } from '../../src/core/scoring/send';
import { CappedCounts, EssSum, FirstBySeq, QuantileSketch } from '../../src/core/scoring/streaming-stats';
import { RunSummary } from '../../src/core/scoring/summary';
import type { ScoreProgress } from '../../src/core/scoring/types';
import { Writer } from '../../src/core/scoring/write';
import { ANSWER_CHECKS_VERSION, type SpanResult } from '../../src/core/span';
import type { CjeConfig, LogRecord, ScoreLine } from '../../src/core/types';

const tick = () => new Promise<void>((r) => setImmediate(r));

function rec(line: number, extra: Partial<LogRecord> = {}): LogRecord {
  return { line, id: `r${line}`, prompt: `Question ${line}?`, response: `Answer ${line}.`, raw: {}, ...extra };
}

function job(seq: number, key = `key-${seq}`, line = seq + 1): Job {
  return { seq, record: `r${line}`, line, key, rendered: { text: `t${seq}`, responseStart: 0, responseEnd: 2, scoredEnd: 2, template: 'chatml' } };
}

const CONFIG: CjeConfig = {
  behavior: 'base',
  policies: {
    base: { provider: 'openai-compatible', baseURL: 'http://127.0.0.1:1/v1', model: 'm', template: 'chatml' },
    clone: { provider: 'openai-compatible', baseURL: 'http://127.0.0.1:1/v1', model: 'm', template: 'chatml' },
    other: { provider: 'openai-compatible', baseURL: 'http://127.0.0.1:1/v1', model: 'm2', template: 'chatml', systemPrompt: 'Be brief.' },
  },
};

describe('scoring stage: queue (bounded)', () => {
  it('a slow consumer holds the producer: never more than `capacity` items wait', async () => {
    const q = new BoundedQueue<number>(3);
    let pushed = 0;
    let maxLength = 0;
    const producer = (async () => {
      for (let i = 0; i < 20; i++) {
        await q.push(i);
        pushed++;
        maxLength = Math.max(maxLength, q.length);
      }
      q.close();
    })();
    for (let i = 0; i < 5; i++) await tick();
    // Nobody has taken anything yet: the producer stopped at the bound and waits.
    assert.equal(pushed, 3);
    const got: number[] = [];
    for (let v = await q.shift(); v !== undefined; v = await q.shift()) {
      got.push(v);
      // The producer runs ahead of the consumer by at most the capacity (plus the one it is handing over).
      assert.ok(pushed - got.length <= 3 + 1, `pushed ${pushed}, taken ${got.length}`);
      await tick();
    }
    await producer;
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
    assert.ok(maxLength <= 3);
  });

  it('close: consumers drain what is left, then get undefined; pushes get false; abort drops what waits', async () => {
    const q = new BoundedQueue<string>(2);
    await q.push('a');
    await q.push('b');
    const blocked = q.push('c');
    q.close();
    assert.equal(await blocked, false, 'a producer waiting on a full queue is released with false');
    assert.equal(await q.push('d'), false);
    assert.deepEqual([await q.shift(), await q.shift(), await q.shift()], ['a', 'b', undefined]);
    const r = new BoundedQueue<string>(4);
    await r.push('x');
    r.abort();
    assert.equal(await r.shift(), undefined);
  });
});

describe('scoring stage: batch', () => {
  it('takes full batches while the queue is open, the rest at its close; put-back items go first', async () => {
    const q = new BoundedQueue<number>(100);
    for (let i = 0; i < 10; i++) await q.push(i);
    const b = new Batcher(q);
    assert.deepEqual(await b.take(4), [0, 1, 2, 3]);
    const second = await b.take(4);
    b.putBack(second.slice(2));
    assert.deepEqual(await b.take(3), [6, 7, 8]);
    const pending = b.take(5);
    q.close();
    assert.deepEqual(await pending, [9]);
    assert.deepEqual(await b.take(5), []);
  });
});

describe('scoring stage: read', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-stage-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('numbers the records in reading order (issues get no number) and keeps their lines', async () => {
    const file = path.join(dir, 'log.jsonl');
    fs.writeFileSync(file, ['{"prompt":"a","response":"A"}', '{"prompt":', '{"prompt":"c","response":"C"}'].join('\n') + '\n');
    const got: string[] = [];
    for await (const it of readItems(file)) got.push(it.kind === 'record' ? `#${it.seq}@${it.record.line}` : `issue@${it.issue.line}`);
    assert.deepEqual(got, ['#0@1', 'issue@2', '#1@3']);
  });
});

describe('scoring stage: render', () => {
  it('keys a record by its flat text, response span and fingerprint (sha256 written out here)', () => {
    const [g] = policyGroups(CONFIG);
    const r = renderJob(g, rec(4), 9);
    assert.equal(r.error, undefined);
    const { rendered } = r.job;
    const expected = createHash('sha256').update(JSON.stringify([rendered.text, rendered.responseStart, rendered.scoredEnd, g.fingerprint])).digest('hex');
    assert.deepEqual({ seq: r.job.seq, line: r.job.line, record: r.job.record, key: r.job.key }, { seq: 9, line: 4, record: 'r4', key: expected });
    assert.equal(rendered.text.slice(rendered.responseStart, rendered.responseEnd), 'Answer 4.');
  });

  it("the policy's system prompt replaces the logged one", () => {
    const r = rec(1, { prompt: undefined, messages: [{ role: 'system', content: 'logged' }, { role: 'user', content: 'hi' }] });
    assert.deepEqual(conversationFor(r, CONFIG.policies.other), [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi' }]);
    assert.deepEqual(conversationFor(r, CONFIG.policies.base), r.messages);
  });
});

function scoreLine(key: string, line: number, policy: string, logprob: number, extra: Partial<ScoreLine> = {}): ScoreLine {
  return { key, record: `r${line}`, line, policy, fingerprint: 'f', logprob, tokens: ['x'], token_logprobs: [logprob], span: null, error: null, checks: ANSWER_CHECKS_VERSION, model: 'm', template: 'chatml', provider: 'openai-compatible', scored_at: '2026-12-02T00:00:00Z', ...extra };
}

describe('scoring stage: look up', () => {
  let dir: string;
  let store: ScoreStore;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-stage-'));
    store = (await ScoreStore.open(path.join(dir, 's.jsonl'))).store;
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('resume: covered where every name has its line; copy where the key is known elsewhere; send otherwise', () => {
    store.append([scoreLine('K', 1, 'base', -2.5, { suspect: ['near zero'] })]);
    const lk = new LookupStage(store);
    assert.deepEqual(lk.look(['base'], job(0, 'K', 1)), { kind: 'covered', logprob: -2.5, suspect: true });
    // An identical-fingerprint name without its line: copied from the stored one, never rescored.
    const copy = lk.look(['base', 'clone'], job(0, 'K', 1));
    assert.equal(copy.kind, 'copy');
    assert.deepEqual(copy.kind === 'copy' && [copy.missing, copy.duplicateOf, copy.from.logprob], [['clone'], undefined, -2.5]);
    // A later record with the same prompt and response: its own line, as a duplicate of line 1.
    const dup = lk.look(['base'], job(5, 'K', 6));
    assert.deepEqual(dup.kind === 'copy' && [dup.missing, dup.duplicateOf], [['base'], 1]);
    assert.deepEqual(lk.look(['base'], job(1, 'N', 2)), { kind: 'send' });
  });

  it('in flight: a second record with a key already sent is sent again as its duplicate; settled clears the first', () => {
    const lk = new LookupStage(store);
    assert.deepEqual(lk.look(['base'], job(0, 'X', 1)), { kind: 'send' });
    assert.deepEqual(lk.look(['base'], job(3, 'X', 4)), { kind: 'send', duplicateOf: 1 });
    assert.equal(lk.pending, 1);
    lk.settled(job(3, 'X', 4)); // not the first: nothing changes
    assert.equal(lk.pending, 1);
    lk.settled(job(0, 'X', 1));
    assert.equal(lk.pending, 0);
  });
});

describe('scoring stage: write (with open items and the summary)', () => {
  let dir: string;
  let store: ScoreStore;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-stage-'));
    store = (await ScoreStore.open(path.join(dir, 's.jsonl'))).store;
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes one line per name, counts scored / reused / failed, and finishes items only when every group is done', () => {
    const groups: RunGroup[] = policyGroups(CONFIG);
    const names = groups.flatMap((g) => g.names);
    const summary = new RunSummary(
      groups.flatMap((g) => g.names.map((name) => ({ name, fingerprint: g.fingerprint, sameAs: g.names.filter((n) => n !== name) }))),
      'base',
      0.01,
      5,
    );
    const folded: number[] = [];
    const items = new OpenItems(names, 'base', (it) => {
      folded.push(it.seq);
      summary.fold(it);
    });
    const lookup = new LookupStage(store);
    let writes = 0;
    const w = new Writer(store, items, summary, lookup, () => writes++);
    items.open(0, rec(1), groups.length);
    items.open(1, rec(2), groups.length);
    const ok = (lp: number): SpanResult => ({ ok: true, value: { logprob: lp, tokens: ['A'], token_logprobs: [lp], span: { method: 'text_offset', approximate: false, firstToken: 0, endToken: 1, endOfTurnScored: false, tokenization: 'joined' } } });
    w.results(groups[0], [job(0, 'a', 1), job(1, 'b', 2)], [ok(-1), { ok: false, error: 'refused' }]);
    assert.equal(folded.length, 0, 'the other group is not done yet');
    w.results(groups[1], [job(0, 'c', 1), job(1, 'd', 2)], [ok(-3), ok(-4)]);
    assert.deepEqual(folded, [0, 1]);
    assert.equal(writes, 2);
    const lines = fs.readFileSync(store.file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ScoreLine);
    assert.deepEqual(lines.map((l) => `${l.record}/${l.policy}/${l.logprob}/${l.reused_from ?? ''}`), ['r1/base/-1/', 'r1/clone/-1/base', 'r2/base/null/', 'r2/clone/null/base', 'r1/other/-3/', 'r2/other/-4/']);
    assert.deepEqual([summary.scored, summary.reused, summary.failed, items.failed, items.done], [3, 1, 2, 1, 2]);
    assert.deepEqual(summary.errors.list(), [{ message: 'refused', count: 2 }]);
  });
});

describe('scoring stage: summary accumulators', () => {
  const policies = [
    { name: 'base', fingerprint: 'f1', sameAs: ['clone'] },
    { name: 'clone', fingerprint: 'f1', sameAs: ['base'] },
    { name: 'other', fingerprint: 'f2', sameAs: [] },
  ];

  function run(rows: { lp: [number, number, number]; logged?: [number?, number?, number?] }[], order: number[]) {
    const s = new RunSummary(policies, 'base', 0.01, 2);
    const items = new OpenItems(['base', 'clone', 'other'], 'base', (it) => s.fold(it));
    rows.forEach((r, seq) => {
      const [b, c, o] = r.logged ?? [];
      items.open(seq, rec(seq + 1, { baseLogprob: b ?? null, targetLogprobs: { clone: c ?? null, other: o ?? null } }), 1);
      ['base', 'clone', 'other'].forEach((n, i) => Number.isNaN(r.lp[i]) || items.setLogprob(seq, n, r.lp[i]));
    });
    for (const seq of order) items.finishGroup(seq);
    return s;
  }

  it('mean log-prob, Kish ESS fraction and the logged comparison match a calculation written out here, whatever order items finish in', () => {
    const rows: { lp: [number, number, number]; logged?: [number?, number?, number?] }[] = [
      { lp: [-2, -2, -1], logged: [-2.5, -2, undefined] },
      { lp: [-3, -3, -3.5], logged: [-3, -3.2, -3.5] },
      { lp: [-1, -1, NaN], logged: [-1.001, -1, undefined] },
      { lp: [-4, -4, -2], logged: [-4.3, -4, undefined] },
    ];
    const s = run(rows, [3, 1, 0, 2]).perPolicy(() => ({ nats: 0.25, source: 'probe' }));
    const other = s.find((p) => p.name === 'other')!;
    // other vs base: log-weights 1, -0.5, 2 (record 3 has no score under other).
    const w = [Math.exp(1), Math.exp(-0.5), Math.exp(2)];
    const ess = w.reduce((a, b) => a + b) ** 2 / w.reduce((a, b) => a + b * b, 0);
    assert.ok(Math.abs(other.essFraction! - ess / 3) < 1e-12);
    assert.equal(other.scored, 3);
    assert.ok(Math.abs(other.meanLogprob! - (-1 - 3.5 - 2) / 3) < 1e-12);
    const base = s.find((p) => p.name === 'base')!;
    assert.equal(base.essFraction, null);
    // |rescored − logged| for base: 0.5, 0, 0.001, 0.3 → median (0.001 + 0.3) / 2, over 0.01: lines 1 and 4, first two by line.
    assert.deepEqual({ n: base.logged!.n, over: base.logged!.over, max: base.logged!.maxAbs, ex: base.logged!.examples.map((e) => e.line) }, { n: 4, over: 2, max: 0.5, ex: [1, 4] });
    assert.ok(Math.abs(base.logged!.medianAbs - (0.001 + 0.3) / 2) < 1e-12);
    assert.equal(s.find((p) => p.name === 'clone')!.essFraction, 1);
    // clone's logged values vs base's logged ones (tolerance 1e-6): differ on lines 1 (0.5), 2 (0.2), 3 (0.001), 4 (0.3); within the 0.25 floor: two.
    const li = s.find((p) => p.name === 'clone')!.loggedIdentical!;
    assert.deepEqual({ n: li.n, differ: li.differ, within: li.withinFloor, ex: li.examples.map((e) => e.line) }, { n: 4, differ: 4, within: 2, ex: [1, 2] });
    assert.equal(other.logged?.n, 1);
  });

  it('ESS stays finite with log-weights whose exp() overflows (sums kept relative to a running max)', () => {
    const e = new EssSum();
    const lw = [700, 710, 705, 720, 0];
    for (const x of lw) e.add(x);
    // By hand, shifted by the max (720): exp(-20), exp(-10), exp(-15), 1, exp(-720) ≈ 0.
    const w = lw.map((x) => Math.exp(x - 720));
    const want = w.reduce((a, b) => a + b) ** 2 / w.reduce((a, b) => a + b * b, 0);
    assert.ok(Math.abs(e.ess - want) < 1e-12 * want);
    assert.ok(Number.isFinite(e.fraction!));
    const empty = new EssSum();
    assert.equal(empty.fraction, null);
    empty.add(NaN);
    assert.ok(Number.isNaN(empty.fraction!));
  });

  it('items still open when a run stops are counted too', () => {
    const s = new RunSummary(policies, 'base', 0.01, 2);
    const items = new OpenItems(['base', 'clone', 'other'], 'base', (it) => s.fold(it));
    items.open(0, rec(1), 2);
    items.setLogprob(0, 'base', -1);
    items.finishGroup(0);
    assert.equal(s.perPolicy(() => undefined)[0].scored, 0);
    items.foldOpen();
    assert.equal(s.perPolicy(() => undefined)[0].scored, 1);
    assert.equal(items.done, 0);
  });
});

describe('scoring: streaming statistics', () => {
  it('QuantileSketch: exact median while small; within α of the true median beyond', () => {
    const small = new QuantileSketch();
    for (const x of [5, 1, 4, 2]) small.add(x);
    assert.equal(small.median(), 3);
    const rnd = mulberry32(7);
    const xs: number[] = [];
    const sk = new QuantileSketch(16, 0.005);
    for (let i = 0; i < 20001; i++) {
      // log-normal spreads with some exact zeros, as |Δ| of log-probs are
      const x = rnd() < 0.05 ? 0 : Math.exp(4 * (rnd() - 0.5) + 2 * (rnd() - 0.5));
      xs.push(x);
      sk.add(x);
    }
    assert.equal(sk.isExact, false);
    const sorted = [...xs].sort((a, b) => a - b);
    const trueMedian = sorted[10000];
    assert.ok(Math.abs(sk.median() - trueMedian) <= 0.005 * trueMedian + 1e-15, `${sk.median()} vs ${trueMedian}`);
    for (const x of [0.5, 1, 3]) {
      const exact = xs.filter((v) => v <= x).length;
      const near = xs.filter((v) => v >= x / 1.011 && v <= x * 1.011).length;
      assert.ok(Math.abs(sk.countAtMost(x) - exact) <= near, `countAtMost(${x})`);
    }
  });

  it('FirstBySeq keeps the lowest sequence numbers; CappedCounts caps distinct messages', () => {
    const f = new FirstBySeq<string>(3);
    for (const s of [9, 4, 7, 1, 8, 2]) f.offer(s, `#${s}`);
    assert.deepEqual(f.items, ['#1', '#2', '#4']);
    const c = new CappedCounts(2);
    for (const m of ['a', 'b', 'a', 'c', 'd', 'a']) c.add(m);
    assert.deepEqual(
      c.list().map((e) => [e.message.startsWith('(') ? 'other' : e.message, e.count]),
      [['a', 3], ['b', 1], ['other', 2]],
    );
  });

  it('RepeatSample keeps at most `size` jobs a group, each offered record with the same chance', () => {
    const g = policyGroups(CONFIG)[0];
    const counts = new Array(10).fill(0);
    for (let trial = 0; trial < 2000; trial++) {
      const r = new RepeatSample(1, 3, (trial + 1) * 2654435761);
      for (let i = 0; i < 10; i++) r.offer(g, job(i), i + 1);
      const kept = r.sampleOf(g);
      assert.equal(kept.length, 3);
      for (const j of kept) counts[j.seq]++;
    }
    // Each of the 10 is kept with probability 3/10: 600 of 2000 expected, sd ≈ 20.5.
    for (const c of counts) assert.ok(Math.abs(c - 600) < 100, String(counts));
  });
});

describe('scoring stage: send', () => {
  it("keeps at most the scorer's maxInFlight batches in flight, in the scorer's batch size, and writes every job once", async () => {
    let active = 0;
    let peak = 0;
    const sizes: number[] = [];
    // A backend that answers after a few turns of the event loop: a stand-in for a server, behind the Scorer interface.
    const backend: Scorer = {
      batchSize: 3,
      maxInFlight: 2,
      async scoreBatch(reqs: ScoreRequest[]): Promise<SpanResult[]> {
        active++;
        peak = Math.max(peak, active);
        sizes.push(reqs.length);
        for (let i = 0; i < 3; i++) await tick();
        active--;
        return reqs.map(() => ({ ok: false, error: 'n/a' }));
      },
    };
    const g: RunGroup = { ...policyGroups(CONFIG)[0] };
    const q = new BoundedQueue<Job>(4);
    const written: number[] = [];
    const done = sendGroup(g, new Batcher(q), {
      ready: async (x) => void (x.scorer ??= backend),
      stopping: () => false,
      inflight: new Set(),
      write: (_g, jobs) => written.push(...jobs.map((j) => j.seq)),
    });
    for (let i = 0; i < 10; i++) await q.push(job(i));
    q.close();
    await done;
    assert.equal(peak, 2);
    assert.deepEqual(sizes, [3, 3, 3, 1]);
    assert.deepEqual([...written].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('scoring stage: progress', () => {
  it('counts whole items against the line count less bad lines, and the records at the end', () => {
    const seen: ScoreProgress[] = [];
    const p = new Progress((x) => seen.push(x), 10);
    p.approxTokens = 42;
    p.emit({ done: 3, failed: 1, records: 5, badLines: 2 });
    p.emit({ done: 7, failed: 1, records: 7, badLines: 3 }, true);
    assert.deepEqual(seen.map((s) => [s.done, s.total, s.failed, s.approxTokens]), [[3, 8, 1, 42], [7, 7, 1, 42]]);
  });
});
