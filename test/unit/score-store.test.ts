import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ScoreStore, defaultScoresPath } from '../../src/core/score-store';
import type { ScoreLine } from '../../src/core/types';

let dir: string;
let n = 0;
const fresh = () => path.join(dir, `scores-${++n}.jsonl`);

function line(key: string, policy: string, over: Partial<ScoreLine> = {}): ScoreLine {
  return {
    key,
    record: `rec-${key}`,
    line: 1,
    policy,
    fingerprint: `fp-${policy}`,
    logprob: -12.5,
    tokens: ['Hello', ' world'],
    token_logprobs: [-10, -2.5],
    span: null,
    error: null,
    model: 'accounts/fireworks/models/llama-v3p1-8b-instruct',
    template: 'llama3',
    provider: 'fireworks',
    scored_at: '2025-01-01T00:00:00.000Z',
    checks: 1,
    ...over,
  };
}

/** Every line of the file must be a complete JSON line ending in \n. */
function assertValidFile(file: string): unknown[] {
  const text = fs.readFileSync(file, 'utf8');
  if (text.length) assert.ok(text.endsWith('\n'), 'file ends with a newline');
  const parts = text.split('\n').slice(0, -1);
  return parts.map((p, i) => {
    try {
      return JSON.parse(p);
    } catch (e) {
      assert.fail(`line ${i + 1} does not parse: ${JSON.stringify(p)}: ${(e as Error).message}`);
    }
  });
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-score-store-'));
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ScoreStore', () => {
  it('creates a missing file and reports nothing', async () => {
    const f = fresh();
    const { store, report } = await ScoreStore.open(f);
    try {
      assert.deepEqual(report, { results: 0, corrupt: [] });
      assert.ok(fs.existsSync(f));
      assert.equal(store.has('k', 'p'), false);
      assert.equal(store.find('k'), undefined);
    } finally {
      store.close();
    }
  });

  it('keeps a line written before the answer checks that kept no token detail (it cannot be re-checked), and re-checks one that did', async () => {
    const file = fresh();
    // As an older run wrote them: no `checks`; both with a positive token log-prob the checks now refuse.
    const { checks: _c, ...old } = line('kept', 'base', { token_logprobs: [0.5, -13], logprob: -12.5 });
    const bare = { ...old, tokens: undefined, token_logprobs: undefined, n_tokens: 2 };
    const { checks: _d, ...withDetail } = line('rechecked', 'base', { token_logprobs: [0.5, -13], logprob: -12.5 });
    fs.writeFileSync(file, [JSON.stringify(bare), JSON.stringify(withDetail)].join('\n') + '\n');
    const { store, report } = await ScoreStore.open(file);
    try {
      assert.ok(store.has('kept', 'base'), 'no tokens to re-check: kept, not rescored');
      assert.equal(store.has('rechecked', 'base'), false, 'its tokens fail the checks now: scored again');
      assert.equal(report.rechecked?.failed, 1);
    } finally {
      store.close();
    }
  });

  it('append then reopen: has and find give the appended lines', async () => {
    const f = fresh();
    const a = line('ka', 'base');
    const a2 = line('ka', 'clone', { reused_from: 'base' });
    const b = line('kb', 'premium', { logprob: -3.25, tokens: ['x'], token_logprobs: [-3.25] });
    const c = line('kc', 'base', { entropy: [0.5, null] });
    {
      const { store } = await ScoreStore.open(f);
      store.append([a, a2]);
      store.append([b]);
      store.append([]);
      store.append([c]);
      // In the same session.
      assert.ok(store.has('ka', 'base'));
      assert.ok(store.has('ka', 'clone'));
      assert.equal(store.has('ka', 'premium'), false);
      assert.ok(store.has('kb', 'premium'));
      assert.deepEqual(store.find('kb'), b);
      assert.deepEqual(store.find('kc'), c);
      store.close();
    }
    const lines = assertValidFile(f);
    assert.deepEqual(lines, [a, a2, b, c]);
    const { store, report } = await ScoreStore.open(f);
    try {
      assert.equal(report.results, 4);
      assert.equal(report.truncated, undefined);
      assert.deepEqual(report.corrupt, []);
      assert.ok(store.has('ka', 'base'));
      assert.ok(store.has('ka', 'clone'));
      assert.ok(store.has('kb', 'premium'));
      assert.ok(store.has('kc', 'base'));
      assert.equal(store.has('kb', 'base'), false);
      assert.equal(store.has('kz', 'base'), false);
      // find gives the first successful line of the key.
      assert.deepEqual(store.find('ka'), a);
      assert.deepEqual(store.find('kb'), b);
      assert.deepEqual(store.find('kc'), c);
      assert.equal(store.find('kz'), undefined);
      // Appending after a reopen: offsets continue from the end of the file.
      const d = line('kd', 'base', { logprob: -1 });
      store.append([d]);
      assert.deepEqual(store.find('kd'), d);
      assert.deepEqual(store.find('ka'), a);
    } finally {
      store.close();
    }
    assert.equal(assertValidFile(f).length, 5);
  });

  it('cuts off a half-written last line (kill -9 mid-write), then appends to a valid file', async () => {
    const f = fresh();
    const a = line('k1', 'base');
    const b = line('k2', 'base');
    {
      const { store } = await ScoreStore.open(f);
      store.append([a, b]);
      store.close();
    }
    const good = fs.readFileSync(f);
    const partial = JSON.stringify(line('k3', 'base')).slice(0, 57);
    fs.appendFileSync(f, partial);

    const { store, report } = await ScoreStore.open(f);
    try {
      assert.deepEqual(report.truncated, { line: 3, bytes: Buffer.byteLength(partial) });
      assert.equal(report.results, 2);
      assert.deepEqual(report.corrupt, []);
      // Truncated to exactly the last full line.
      assert.deepEqual(fs.readFileSync(f), good);
      assert.equal(store.has('k3', 'base'), false);
      assert.ok(store.has('k1', 'base') && store.has('k2', 'base'));
      const c = line('k3', 'base', { logprob: -7 });
      store.append([c]);
      assert.deepEqual(store.find('k3'), c);
      assert.deepEqual(store.find('k2'), b);
    } finally {
      store.close();
    }
    assert.deepEqual(assertValidFile(f), [a, b, line('k3', 'base', { logprob: -7 })]);
    const again = await ScoreStore.open(f);
    try {
      assert.equal(again.report.truncated, undefined);
      assert.equal(again.report.results, 3);
      assert.ok(again.store.has('k3', 'base'));
      assert.deepEqual(again.store.find('k3'), line('k3', 'base', { logprob: -7 }));
    } finally {
      again.store.close();
    }
  });

  it('cuts off a complete-looking last line without newline (the newline is written in the same write)', async () => {
    const f = fresh();
    const a = line('k1', 'base');
    fs.writeFileSync(f, JSON.stringify(a) + '\n');
    const tail = JSON.stringify(line('k2', 'base'));
    fs.appendFileSync(f, tail);
    const { store, report } = await ScoreStore.open(f);
    try {
      assert.deepEqual(report.truncated, { line: 2, bytes: Buffer.byteLength(tail) });
      assert.equal(fs.readFileSync(f, 'utf8'), JSON.stringify(a) + '\n');
      assert.equal(store.has('k2', 'base'), false);
      assert.ok(store.has('k1', 'base'));
      store.append([line('k2', 'base')]);
    } finally {
      store.close();
    }
    assert.deepEqual(assertValidFile(f), [a, line('k2', 'base')]);
  });

  it('a file whose only line is half-written is truncated to empty', async () => {
    const f = fresh();
    fs.writeFileSync(f, '{"key":"k1","pol');
    const { store, report } = await ScoreStore.open(f);
    try {
      assert.deepEqual(report.truncated, { line: 1, bytes: 16 });
      assert.equal(fs.statSync(f).size, 0);
      const a = line('k1', 'base');
      store.append([a]);
      assert.deepEqual(store.find('k1'), a);
    } finally {
      store.close();
    }
    assert.equal(assertValidFile(f).length, 1);
  });

  it('reports and skips corrupt lines in the middle, leaving the file as it is', async () => {
    const f = fresh();
    const a = line('k1', 'base');
    const b = line('k2', 'base');
    const content = [JSON.stringify(a), 'garbage{', JSON.stringify({ foo: 1 }), '', JSON.stringify(b), '[1,2]', ''].join('\n');
    fs.writeFileSync(f, content);
    const { store, report } = await ScoreStore.open(f);
    try {
      assert.equal(report.truncated, undefined);
      assert.equal(report.results, 2);
      // The blank line 4 is not corrupt.
      assert.deepEqual(report.corrupt.map((c) => [c.file, c.line]), [[f, 2], [f, 3], [f, 6]]);
      assert.equal(fs.readFileSync(f, 'utf8'), content);
      assert.ok(store.has('k1', 'base'));
      assert.ok(store.has('k2', 'base'));
      assert.deepEqual(store.find('k2'), b);
      const c = line('k3', 'base');
      store.append([c]);
      assert.deepEqual(store.find('k3'), c);
    } finally {
      store.close();
    }
    assert.equal(fs.readFileSync(f, 'utf8'), content + JSON.stringify(line('k3', 'base')) + '\n');
  });

  it('error lines do not count as done, in the file or in the session', async () => {
    const f = fresh();
    const err = line('k1', 'base', { logprob: null, tokens: [], token_logprobs: [], error: 'HTTP 500: boom' });
    // An error with a logprob (e.g. a span problem after scoring) is not done either.
    const errWithLp = line('k2', 'base', { error: 'span not found' });
    fs.writeFileSync(f, JSON.stringify(err) + '\n' + JSON.stringify(errWithLp) + '\n');
    const { store, report } = await ScoreStore.open(f);
    try {
      assert.equal(report.results, 2);
      assert.equal(store.has('k1', 'base'), false);
      assert.equal(store.has('k2', 'base'), false);
      assert.equal(store.find('k1'), undefined);
      store.append([line('k3', 'base', { logprob: null, error: 'timeout' })]);
      assert.equal(store.has('k3', 'base'), false);
      assert.equal(store.find('k3'), undefined);
      // A later success for the same key does count, and find returns it, not the error line.
      const okLine = line('k1', 'base', { logprob: -4 });
      store.append([okLine]);
      assert.ok(store.has('k1', 'base'));
      assert.deepEqual(store.find('k1'), okLine);
    } finally {
      store.close();
    }
    const { store: s2 } = await ScoreStore.open(f);
    try {
      assert.ok(s2.has('k1', 'base'));
      assert.deepEqual(s2.find('k1'), line('k1', 'base', { logprob: -4 }));
      assert.equal(s2.has('k2', 'base'), false);
      assert.equal(s2.has('k3', 'base'), false);
    } finally {
      s2.close();
    }
  });

  it('find reads the exact line back after multibyte UTF-8 in earlier lines', async () => {
    const f = fresh();
    const multi = (k: string) =>
      line(k, 'base', { tokens: ['é', '😀', '日本語', '\u2028'], token_logprobs: [-1, -2, -3, -4], record: `réc-${k}-🙂` });
    const first = [multi('m1'), multi('m2'), line('a1', 'base')];
    const second = [multi('m3'), line('a2', 'premium', { tokens: ['ü'] })];
    {
      const { store } = await ScoreStore.open(f);
      store.append(first);
      store.append(second);
      for (const l of [...first, ...second]) assert.deepEqual(store.find(l.key), l, l.key);
      store.close();
    }
    // Independent check: the file is exactly these lines, so multibyte bytes were not miscounted.
    assert.deepEqual(assertValidFile(f), [...first, ...second]);
    const { store } = await ScoreStore.open(f);
    try {
      for (const l of [...first, ...second]) assert.deepEqual(store.find(l.key), l, l.key);
      const after = line('a3', 'base', { tokens: ['ß'] });
      store.append([multi('m4'), after]);
      assert.deepEqual(store.find('a3'), after);
      assert.deepEqual(store.find('m4'), multi('m4'));
    } finally {
      store.close();
    }
  });

  it('after a truncation with multibyte content, offsets of later appends stay right', async () => {
    const f = fresh();
    const a = line('k1', 'base', { tokens: ['😀😀😀'] });
    fs.writeFileSync(f, JSON.stringify(a) + '\n' + '{"key":"k2","tokens":["é');
    const { store, report } = await ScoreStore.open(f);
    try {
      assert.equal(report.truncated?.line, 2);
      const b = line('k2', 'base', { tokens: ['日本'] });
      store.append([b]);
      assert.deepEqual(store.find('k2'), b);
      assert.deepEqual(store.find('k1'), a);
    } finally {
      store.close();
    }
  });

  it('a sidecar saved with a UTF-8 BOM (edited by hand) still reads back with find', async () => {
    const f = fresh();
    const a = line('k1', 'base');
    const b = line('k2', 'base');
    fs.writeFileSync(f, '\uFEFF' + JSON.stringify(a) + '\n' + JSON.stringify(b) + '\n');
    const { store, report } = await ScoreStore.open(f);
    try {
      assert.equal(report.results, 2);
      assert.deepEqual(report.corrupt, []);
      assert.ok(store.has('k1', 'base'));
      assert.deepEqual(store.find('k1'), a);
      assert.deepEqual(store.find('k2'), b);
    } finally {
      store.close();
    }
  });

  it('append after close throws', async () => {
    const { store } = await ScoreStore.open(fresh());
    store.close();
    assert.throws(() => store.append([line('k', 'p')]), /closed/);
    store.close(); // closing twice is harmless
  });
});

describe('defaultScoresPath', () => {
  it('puts the sidecar beside the log', () => {
    assert.equal(defaultScoresPath('/a/b/log.jsonl'), '/a/b/log.scores.jsonl');
    assert.equal(defaultScoresPath('/a/b/log.JSON'), '/a/b/log.scores.jsonl');
    assert.equal(defaultScoresPath('/a/b/log.txt'), '/a/b/log.txt.scores.jsonl');
  });
});
