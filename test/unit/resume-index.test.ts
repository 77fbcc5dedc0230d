import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mulberry32 } from '../../src/core/diagnostics/estimates';
import { ResumeIndex, keyHash96, type KeyHash } from '../../src/core/resume-index';
import { ScoreStore } from '../../src/core/score-store';
import { ANSWER_CHECKS_VERSION } from '../../src/core/span';
import type { ScoreLine } from '../../src/core/types';

/** The plain reference: what the old index held, as Maps and Sets of strings. */
class Reference {
  readonly keys = new Map<string, { offset: number; logprob: number; suspect: boolean; cover: Set<string>; has: Set<string> }>();
  add(key: string, line: number, policy: string, offset: number, logprob: number, suspect: boolean) {
    let d = this.keys.get(key);
    if (!d) this.keys.set(key, (d = { offset, logprob, suspect, cover: new Set(), has: new Set() }));
    d.cover.add(`${line}|${policy}`);
    d.has.add(policy);
  }
}

function check(ix: ResumeIndex, ref: Reference, probes: { key: string; line: number; policy: string }[]) {
  for (const { key, line, policy } of probes) {
    const d = ref.keys.get(key);
    assert.equal(ix.covers(key, line, policy), d?.cover.has(`${line}|${policy}`) ?? false, `covers ${key} ${line} ${policy}`);
    assert.equal(ix.has(key, policy), d?.has.has(policy) ?? false, `has ${key} ${policy}`);
    const got = ix.get(key);
    assert.deepEqual(got, d ? { offset: d.offset, logprob: d.logprob, suspect: d.suspect } : undefined, `get ${key}`);
  }
  assert.equal(ix.size, ref.keys.size);
}

function randomRun(hash: KeyHash | undefined, seed: number, n: number) {
  const rnd = mulberry32(seed);
  const ix = new ResumeIndex(hash);
  const ref = new Reference();
  // 20 policies: the first 15 live in the bit masks, the rest in the exact set.
  const policies = Array.from({ length: 20 }, (_, i) => `p${i}`);
  const keyOf = (i: number) => (i % 3 === 0 ? createHash('sha256').update(`k${i}`).digest('hex') : `key-${i}`);
  const probes: { key: string; line: number; policy: string }[] = [];
  for (let t = 0; t < n; t++) {
    const k = keyOf(Math.floor(rnd() * n * 0.6));
    // Lines near each other, so that one key gets several (duplicate records) and masks and the exact set both fill.
    const line = 1 + Math.floor(rnd() * 40);
    const policy = policies[Math.floor(rnd() ** 2 * policies.length)];
    // Offsets past 4 GB too: the index keeps them in two words.
    const offset = Math.floor(rnd() * 2 ** 40);
    const lp = -rnd() * 100;
    const suspect = rnd() < 0.1;
    ix.add(k, line, policy, offset, lp, suspect);
    ref.add(k, line, policy, offset, lp, suspect);
    if (t % 7 === 0) probes.push({ key: k, line: 1 + Math.floor(rnd() * 40), policy: policies[Math.floor(rnd() * policies.length)] });
  }
  for (const [key] of ref.keys) probes.push({ key, line: 1 + Math.floor(rnd() * 40), policy: policies[Math.floor(rnd() * policies.length)] });
  for (let i = 0; i < 500; i++) probes.push({ key: `absent-${i}`, line: 1, policy: 'p0' });
  return { ix, ref, probes };
}

describe('ResumeIndex against a plain Map reference', () => {
  it('agrees on covers / has / get after 20,000 random inserts (table and sets grow several times)', () => {
    const { ix, ref, probes } = randomRun(undefined, 1, 20_000);
    check(ix, ref, probes);
  });

  it('agrees when every key starts probing at one of 4 slots (forced slot collisions, linear probing)', () => {
    // The first word picks the slot; the other two still tell the keys apart.
    const crowded: KeyHash = (key, out) => {
      keyHash96(key, out);
      out[0] &= 3;
    };
    const { ix, ref, probes } = randomRun(crowded, 2, 3_000);
    check(ix, ref, probes);
  });

  it('keeps the first result of a key: later adds only add coverage', () => {
    const ix = new ResumeIndex();
    ix.add('a', 1, 'base', 100, -1, false);
    ix.add('a', 2, 'base', 900, -9, true);
    assert.deepEqual(ix.get('a'), { offset: 100, logprob: -1, suspect: false });
    assert.ok(ix.covers('a', 1, 'base') && ix.covers('a', 2, 'base'));
    assert.equal(ix.covers('a', 3, 'base'), false);
  });
});

describe('ScoreStore.find checks the full key (keys known by 96 bits)', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-rix-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const line = (key: string, policy: string, lineNo: number, logprob: number): ScoreLine => ({
    key, record: `r${lineNo}`, line: lineNo, policy, fingerprint: 'f', logprob, tokens: ['x'], token_logprobs: [logprob], span: null, error: null, checks: ANSWER_CHECKS_VERSION, model: 'm', template: 'chatml', provider: 'openai-compatible', scored_at: '2026-12-02T00:00:00Z',
  });

  it('a key whose 96 bits equal a stored one is not taken for it: find() returns nothing rather than the other record', async () => {
    // Every key the same 96 bits: the worst case the index's bits make negligible.
    const same: KeyHash = (_key, out) => out.fill(7);
    const file = path.join(dir, 's.jsonl');
    const { store } = await ScoreStore.open(file, { keyHash: same });
    store.append([line('aaaa', 'base', 1, -2)]);
    assert.equal(store.find('aaaa')!.logprob, -2);
    assert.equal(store.find('bbbb'), undefined);
    store.close();
  });

  it('reads a line back whole whatever its length (the index keeps no lengths)', async () => {
    const file = path.join(dir, 's.jsonl');
    const { store } = await ScoreStore.open(file);
    const long = { ...line('k2', 'base', 2, -3), tokens: Array.from({ length: 3000 }, (_, i) => `t${i}`), token_logprobs: Array.from({ length: 3000 }, () => -0.5) };
    store.append([line('k1', 'base', 1, -1), long, line('k3', 'base', 3, -4)]);
    assert.deepEqual(store.find('k2'), long);
    assert.deepEqual(store.find('k3'), line('k3', 'base', 3, -4));
    store.close();
    const again = await ScoreStore.open(file);
    assert.deepEqual(again.store.find('k2'), long);
    again.store.close();
  });
});
