// src/core/score-index.ts: from a log line to its scores, and the log-weights
// of a line. Expected values are written out by hand from the lines below.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { lineWeights, ScoreIndex } from '../../src/core/score-index';

function scoreLine(o: { line: number; record: string; policy: string; logprob?: number | null; error?: string | null; suspect?: string[]; reused_from?: string }): string {
  // The fields cje score writes, tokens included: the index must not keep them.
  return JSON.stringify({ key: `k${o.line}${o.policy}`, record: o.record, line: o.line, policy: o.policy, fingerprint: 'fp', logprob: o.logprob ?? null, tokens: ['a', 'b'], token_logprobs: [-1, -2], span: null, error: o.error ?? null, ...(o.suspect ? { suspect: o.suspect } : {}), ...(o.reused_from ? { reused_from: o.reused_from } : {}), model: 'm', template: 't', provider: 'local', scored_at: '2025-01-01T00:00:00Z' });
}

describe('core: score index (log line → scores)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-score-index-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps per line and policy the last success; a failure never hides a success; bad lines are counted', async () => {
    const f = path.join(dir, 'a.scores.jsonl');
    fs.writeFileSync(
      f,
      [
        scoreLine({ line: 1, record: 'r1', policy: 'base', logprob: -10.5 }),
        scoreLine({ line: 1, record: 'r1', policy: 'other', error: 'HTTP 500: boom' }),
        scoreLine({ line: 1, record: 'r1', policy: 'other', logprob: -12.25, suspect: ['near-zero single token'] }),
        scoreLine({ line: 1, record: 'r1', policy: 'clone', logprob: -10.5, reused_from: 'base' }),
        'not json',
        '{"policy":"base"}',
        '',
        scoreLine({ line: 3, record: 'r3', policy: 'base', logprob: -4 }),
        scoreLine({ line: 3, record: 'r3', policy: 'base', error: 'timeout' }),
        scoreLine({ line: 3, record: 'r3', policy: 'other', error: 'timeout' }),
      ].join('\n') + '\n',
    );
    const ix = await ScoreIndex.load(f);
    assert.deepEqual(ix.policies, ['base', 'other', 'clone']);
    assert.equal(ix.lines, 7);
    assert.equal(ix.bad, 2);
    assert.equal(ix.size, 2);
    assert.deepEqual(ix.at(1), [
      { policy: 'base', record: 'r1', logprob: -10.5 },
      { policy: 'other', record: 'r1', logprob: -12.25, suspect: ['near-zero single token'] },
      { policy: 'clone', record: 'r1', logprob: -10.5, reusedFrom: 'base' },
    ]);
    assert.deepEqual(ix.at(3), [
      { policy: 'base', record: 'r3', logprob: -4 },
      { policy: 'other', record: 'r3', logprob: null, error: 'timeout' },
    ]);
    assert.deepEqual(ix.at(2), []);
  });

  it('keeps each sampled response of a line (RECORD#i) under each policy, and their log-weights apart', async () => {
    const f = path.join(dir, 's.scores.jsonl');
    fs.writeFileSync(
      f,
      [
        scoreLine({ line: 2, record: 'q#1', policy: 'base', logprob: -3 }),
        scoreLine({ line: 2, record: 'q#0', policy: 'base', logprob: -5 }),
        scoreLine({ line: 2, record: 'q#0', policy: 'other', logprob: -4 }),
        scoreLine({ line: 2, record: 'q#1', policy: 'other', logprob: -3.5 }),
      ].join('\n') + '\n',
    );
    const ix = await ScoreIndex.load(f);
    const at = ix.at(2);
    assert.equal(at.length, 4, 'two samples × two policies');
    // log w per sample, by hand: q#0: −4 − (−5) = 1; q#1: −3.5 − (−3) = −0.5.
    const w0 = lineWeights(at.filter((s) => s.record === 'q#0'), 'base', 'q#0');
    const w1 = lineWeights(at.filter((s) => s.record === 'q#1'), 'base', 'q#1');
    assert.equal(w0.rows.find((r) => r.policy === 'other')!.logWeight, 1);
    assert.equal(w1.rows.find((r) => r.policy === 'other')!.logWeight, -0.5);
  });

  it('reads on from where it stopped when the file grows, leaves a half-written last line for later, and reloads when it shrinks', async () => {
    const f = path.join(dir, 'b.scores.jsonl');
    const half = scoreLine({ line: 2, record: 'r2', policy: 'base', logprob: -7 });
    fs.writeFileSync(f, scoreLine({ line: 1, record: 'r1', policy: 'base', logprob: -1 }) + '\n' + half.slice(0, 20));
    const ix = await ScoreIndex.load(f);
    assert.equal(ix.lines, 1);
    assert.deepEqual(ix.at(2), []);
    fs.appendFileSync(f, half.slice(20) + '\n' + scoreLine({ line: 3, record: 'r3', policy: 'base', logprob: -3 }) + '\n');
    assert.equal(await ix.refresh(f, fs.statSync(f).size), true);
    assert.equal(ix.lines, 3);
    assert.equal(ix.bad, 0);
    assert.deepEqual(ix.at(2), [{ policy: 'base', record: 'r2', logprob: -7 }]);
    assert.deepEqual(ix.at(3), [{ policy: 'base', record: 'r3', logprob: -3 }]);
    assert.equal(await ix.refresh(f, 10), false, 'a shorter file was rewritten');
  });

  it('stops keeping new lines past maxEntries but still updates the ones it keeps', async () => {
    const f = path.join(dir, 'c.scores.jsonl');
    const lines = [];
    for (let i = 1; i <= 5; i++) lines.push(scoreLine({ line: i, record: `r${i}`, policy: 'base', logprob: -i }));
    lines.push(scoreLine({ line: 1, record: 'r1', policy: 'base', logprob: -100 }));
    fs.writeFileSync(f, lines.join('\n') + '\n');
    const ix = await ScoreIndex.load(f, { maxEntries: 3 });
    assert.equal(ix.size, 3);
    assert.equal(ix.dropped, 2);
    assert.deepEqual(ix.at(1), [{ policy: 'base', record: 'r1', logprob: -100 }]);
    assert.deepEqual(ix.at(4), []);
  });

  it('log-weights: log π_target − log π_behavior, by hand', () => {
    const w = lineWeights(
      [
        { policy: 'other', record: 'r1', logprob: -12.25 },
        { policy: 'base', record: 'r1', logprob: -10.5 },
        { policy: 'clone', record: 'r1', logprob: -10.5 },
        { policy: 'broken', record: 'r1', logprob: null, error: 'x' },
      ],
      'base',
      'r1',
    );
    // -12.25 - (-10.5) = -1.75; -10.5 - (-10.5) = 0
    assert.deepEqual(
      w.rows.map((r) => [r.policy, r.isBehavior, r.logWeight]),
      [
        ['base', true, undefined],
        ['other', false, -1.75],
        ['clone', false, 0],
        ['broken', false, undefined],
      ],
    );
    assert.equal(w.behaviorLogprob, -10.5);
    assert.deepEqual(w.stale, []);
  });

  it('leaves out scores of another record at the same line (the log changed), and has no weights without the behavior', () => {
    const w = lineWeights(
      [
        { policy: 'base', record: 'old', logprob: -1 },
        { policy: 'other', record: 'new', logprob: -2 },
      ],
      'base',
      'new',
    );
    assert.deepEqual(w.stale.map((s) => s.policy), ['base']);
    assert.deepEqual(w.rows.map((r) => [r.policy, r.logWeight]), [['other', undefined]]);
    const none = lineWeights([{ policy: 'other', record: 'r', logprob: -2 }], undefined, 'r');
    assert.equal(none.rows[0].logWeight, undefined);
  });
});
