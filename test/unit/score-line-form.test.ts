// The stored forms of a score line: packed lines read back to the ScoreLine
// they came from (token values at float32 precision), full lines as they are,
// "flagged" keeps exactly the lines its rule names, and the store writes and
// resumes from packed lines. Expected values come from a second decoder
// written here (DataView over the base64 bytes, BigInt FNV-1a).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  FLAGGED_ALL_UP_TO_LINE,
  FLAGGED_SAMPLE_EVERY,
  sampleHash,
  keepsTokenDetail,
  packScoreLine,
  shortestFloat32,
  tokenCount,
  unpackScoreLine,
} from '../../src/core/score-line-form';
import { ScoreStore } from '../../src/core/score-store';
import { parseConfig, tokenDetailOf } from '../../src/core/config';
import { ScoreIndex } from '../../src/core/score-index';
import type { ScoreLine } from '../../src/core/types';
import { mulberry32 } from '../../src/core/diagnostics/estimates';
import { fmix32Big } from '../support/fmix32-reference';

const WORDS = ' the| model| token|,| answer|\n| é|🙂| weight| of| data|'.split('|');

function line(n: number, over: Partial<ScoreLine> = {}, seed = 1): ScoreLine {
  const rnd = mulberry32(seed);
  const tokens = Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]);
  // vLLM-like values: float32 numbers printed as doubles, 17 digits.
  const lps = tokens.map(() => Math.fround(-Math.pow(rnd(), 3) * 12 - 1e-6));
  return {
    key: 'a'.repeat(64),
    record: 'rec-1',
    line: 7,
    policy: 'base',
    fingerprint: 'f'.repeat(64),
    logprob: lps.reduce((a, b) => a + b, 0),
    tokens,
    token_logprobs: lps,
    span: { method: 'text_offset', offsetUnit: 'utf16', approximate: false, firstToken: 40, endToken: 40 + n, endOfTurnScored: true, tokenization: 'joined' },
    error: null,
    checks: 3,
    seam_group: 'c'.repeat(16),
    model: 'meta-llama/Llama-3.1-8B-Instruct',
    template: 'llama3',
    provider: 'openai-compatible',
    scored_at: '2026-12-02T03:00:00.000Z',
    ...over,
  };
}

/** A second float32 decoder: DataView over atob's bytes, not Buffer.readFloatLE. */
function decodeF32(b64: string): number[] {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const dv = new DataView(bytes.buffer);
  return Array.from({ length: bytes.length / 4 }, (_, i) => dv.getFloat32(i * 4, true));
}

/** FNV-1a 32 then murmur3's fmix32, with BigInt arithmetic (the module uses Math.imul). */
function fnvBig(s: string): number {
  const M = 0xffffffffn;
  let h = 0x811c9dc5n;
  for (let i = 0; i < s.length; i++) {
    h ^= BigInt(s.charCodeAt(i));
    h = (h * 0x01000193n) & M;
  }
  return fmix32Big(h);
}

describe('score line forms', () => {
  it('packs token detail (strings once, float32 base64) and reads it back', () => {
    const l = line(300, { entropy: Array.from({ length: 300 }, (_, i) => (i % 7 === 0 ? null : i / 100)) });
    const packed = packScoreLine(l, 'all');
    const td = packed.td as { text: string; len: number[]; lp: string; ent: string };
    assert.equal(td.text, l.tokens.join(''));
    assert.deepEqual(td.len, l.tokens.map((t) => t.length));
    assert.deepEqual(decodeF32(td.lp), l.token_logprobs.map((x) => Math.fround(x)));
    assert.equal(packed.tokens, undefined);
    assert.equal(packed.n_tokens, 300);
    const back = unpackScoreLine(JSON.parse(JSON.stringify(packed)));
    assert.deepEqual(back.tokens, l.tokens);
    // float32 values read back exactly (the test's values are float32 already).
    assert.deepEqual(back.token_logprobs, l.token_logprobs);
    assert.deepEqual(back.entropy, l.entropy!.map((x) => (x === null ? null : Math.fround(x))));
    // Everything else as it was, the total exactly.
    for (const k of ['key', 'record', 'line', 'policy', 'fingerprint', 'logprob', 'span', 'error', 'checks', 'seam_group', 'model', 'template', 'provider', 'scored_at'] as const) {
      assert.deepEqual(back[k], l[k], k);
    }
    // Without entropies, 17-digit log-probs take 19-20 bytes a token whole, 5.33 packed.
    const plain = line(300);
    const whole = Buffer.byteLength(JSON.stringify(plain));
    const small = Buffer.byteLength(JSON.stringify(packScoreLine(plain, 'all')));
    assert.ok(small * 2 < whole, `packed ${small} B vs whole ${whole} B`);
  });

  it('rounds values that are not float32 to float32', () => {
    const l = line(3);
    l.token_logprobs = [-0.1, -1 / 3, -12.345678901234];
    const back = unpackScoreLine(JSON.parse(JSON.stringify(packScoreLine(l, 'all'))));
    assert.deepEqual(back.token_logprobs, [Math.fround(-0.1), Math.fround(-1 / 3), Math.fround(-12.345678901234)]);
    assert.equal(back.logprob, l.logprob);
  });

  it('"none": under 1 KB for a 300-token response, with its token count and mean entropy', () => {
    const ent = Array.from({ length: 300 }, (_, i) => (i % 2 ? 1 : 3));
    const l = line(300, { entropy: ent, suspect: undefined, line: 123456 });
    const packed = packScoreLine(l, 'none');
    const text = JSON.stringify(packed);
    assert.ok(Buffer.byteLength(text) < 1024, `${Buffer.byteLength(text)} bytes`);
    const back = unpackScoreLine(JSON.parse(text));
    assert.equal(back.tokens, undefined);
    assert.equal(back.token_logprobs, undefined);
    assert.equal(back.entropy, undefined);
    assert.equal(back.n_tokens, 300);
    assert.equal(back.mean_entropy, 2);
    assert.equal(back.logprob, l.logprob);
  });

  it('reads a whole line (written before packing) as it is', () => {
    const l = line(5);
    const back = unpackScoreLine(JSON.parse(JSON.stringify(l)));
    assert.deepEqual(back.tokens, l.tokens);
    assert.deepEqual(back, l);
    assert.equal(tokenCount(back), 5);
  });

  it('a packed detail that does not add up is dropped, not misread', () => {
    const packed = packScoreLine(line(4), 'all') as { td: { len: number[] } };
    packed.td.len[0] += 1;
    const back = unpackScoreLine(JSON.parse(JSON.stringify(packed)));
    assert.equal(back.tokens, undefined);
    assert.equal(back.n_tokens, 4);
  });

  it('"flagged" keeps errors, suspects, approximate and straddling spans, alternatives, small logs and a 1-in-32 sample', () => {
    assert.equal(sampleHash('rec-9\u00009'), fnvBig('rec-9\u00009'));
    const far = FLAGGED_ALL_UP_TO_LINE + 1;
    const base = (i: number, over: Partial<ScoreLine> = {}) => line(2, { record: `r${i}`, line: far + i, ...over });
    // Written out: the reasons that keep a line regardless of the sample.
    const unsampled = [...Array(200).keys()].find((i) => fnvBig(`r${i}\u0000${far + i}`) % FLAGGED_SAMPLE_EVERY !== 0)!;
    assert.equal(keepsTokenDetail(base(unsampled)), false);
    assert.equal(keepsTokenDetail(base(unsampled, { error: 'HTTP 500' })), true);
    assert.equal(keepsTokenDetail(base(unsampled, { suspect: ['approximate: …'] })), true);
    assert.equal(keepsTokenDetail(base(unsampled, { span: { ...base(0).span!, approximate: true } })), true);
    assert.equal(keepsTokenDetail(base(unsampled, { span: { ...base(0).span!, straddle: [{ index: 3, token: ' x', side: 'start', included: true }] } })), true);
    assert.equal(keepsTokenDetail(base(unsampled, { top_logprobs: [null, { a: -1 }] })), true);
    assert.equal(keepsTokenDetail(base(unsampled, { line: FLAGGED_ALL_UP_TO_LINE })), true);
    // The sample over 20,000 records: exactly those whose hash is 0 mod 32, about 1 in 32, whatever the policy.
    let kept = 0;
    for (let i = 0; i < 20000; i++) {
      const want = fnvBig(`r${i}\u0000${far + i}`) % FLAGGED_SAMPLE_EVERY === 0;
      const a = keepsTokenDetail(base(i, { policy: 'base', key: 'k1' }));
      const b = keepsTokenDetail(base(i, { policy: 'other', key: 'k2' }));
      assert.equal(a, want, `record ${i}`);
      assert.equal(b, a, 'the same records for every policy');
      if (a) kept++;
    }
    assert.ok(kept > 20000 / FLAGGED_SAMPLE_EVERY * 0.85 && kept < 20000 / FLAGGED_SAMPLE_EVERY * 1.15, `${kept} kept`);
    // Ids and lines that share their last digits (prompt-7 on line 10007) are sampled as often.
    let shared = 0;
    for (let i = 0; i < 20000; i++) if (keepsTokenDetail(line(1, { record: `prompt-${i}`, line: 10000 + i }))) shared++;
    assert.ok(shared > 20000 / FLAGGED_SAMPLE_EVERY * 0.85 && shared < 20000 / FLAGGED_SAMPLE_EVERY * 1.15, `${shared} kept`);
    // The detail of an unsampled line is dropped by pack, a kept one stays.
    assert.equal(packScoreLine(base(unsampled), 'flagged').td, undefined);
    assert.ok(packScoreLine(base(unsampled, { suspect: ['x'] }), 'flagged').td);
  });

  it('shortestFloat32: the shortest decimal that reads back as the same float32', () => {
    for (const x of [-0.1, -1 / 3, -2.3841855067985307e-7, -12.5, -0.0001]) {
      const y = shortestFloat32(x);
      assert.equal(Math.fround(y), Math.fround(x));
      // One digit fewer does not read back (or y has a single digit).
      const digits = y.toPrecision(9).replace(/^-/, '').replace('.', '').replace(/e.*$/, '').replace(/0+$/, '').replace(/^0+/, '').length;
      if (digits > 1) assert.notEqual(Math.fround(Number(Math.fround(x).toPrecision(digits - 1))), Math.fround(x));
    }
  });

  it('the store writes packed lines and resumes from them; find() reads them back', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-form-'));
    try {
      const f = path.join(dir, 's.jsonl');
      const a = line(50, { key: 'k'.repeat(64), line: 1 });
      const b = line(50, { key: 'm'.repeat(64), line: FLAGGED_ALL_UP_TO_LINE + 3, record: 'rr' }, 2);
      {
        const { store } = await ScoreStore.open(f, { tokens: 'none' });
        store.append([a, b]);
        store.close();
      }
      const stored = fs.readFileSync(f, 'utf8').trim().split('\n').map((t) => JSON.parse(t));
      assert.ok(stored.every((s) => s.tokens === undefined && s.td === undefined && s.n_tokens === 50));
      const { store, report } = await ScoreStore.open(f, { tokens: 'all' });
      try {
        assert.equal(report.results, 2);
        assert.equal(report.rechecked, undefined);
        assert.ok(store.has(a.key, 'base') && store.has(b.key, 'base'));
        assert.equal(store.logprobOf(a.key), a.logprob);
        assert.equal(store.find(a.key)?.n_tokens, 50);
        store.append([line(3, { key: 'z'.repeat(64), line: 2 })]);
        const last = JSON.parse(fs.readFileSync(f, 'utf8').trim().split('\n').pop()!);
        assert.ok(last.td && !last.tokens);
        assert.deepEqual(store.find('z'.repeat(64))?.tokens, line(3).tokens);
      } finally {
        store.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('config "tokens": one of all, flagged, none; flagged when absent', () => {
    const cfg = (extra: string) => `{"behavior": "b", "policies": {"b": {"provider": "fireworks", "model": "m", "template": "llama3"}}${extra}}`;
    assert.equal(tokenDetailOf(parseConfig(cfg('')).config!), 'flagged');
    assert.equal(tokenDetailOf(parseConfig(cfg(', "tokens": "none"')).config!), 'none');
    const bad = parseConfig(cfg(', "tokens": "some"'));
    assert.equal(bad.config, null);
    assert.match(bad.problems.map((p) => `${p.path} ${p.message}`).join('\n'), /tokens must be one of "all", "flagged", "none"/);
  });

  it('the editor\'s score index reads packed lines as it reads whole ones', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-form-ix-'));
    try {
      const lines = [line(4, { line: 1, suspect: ['approximate: x'] }), line(4, { line: 2, policy: 'other', key: 'b'.repeat(64) }), line(0, { line: 3, error: 'HTTP 500', logprob: null })];
      const write = (f: string, form?: 'all' | 'none') => fs.writeFileSync(f, lines.map((l) => JSON.stringify(form ? packScoreLine(l, form) : l) + '\n').join(''));
      const at = async (form?: 'all' | 'none') => {
        const f = path.join(dir, `${form ?? 'whole'}.jsonl`);
        write(f, form);
        const ix = await ScoreIndex.load(f);
        return [1, 2, 3].map((n) => ix.at(n));
      };
      const whole = await at();
      assert.deepEqual(whole[0], [{ policy: 'base', record: 'rec-1', logprob: lines[0].logprob, suspect: ['approximate: x'] }]);
      assert.deepEqual(await at('all'), whole);
      assert.deepEqual(await at('none'), whole);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
