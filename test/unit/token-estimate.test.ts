import * as assert from 'node:assert/strict';
import { Tiktoken, type TiktokenBPE } from 'js-tiktoken/lite';
import { estimateTokens } from '../../src/core/token-estimate';

// The exact count, straight from the library: the reference the chunked and sampled estimates are held to.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ranks = require('js-tiktoken/ranks/o200k_base') as TiktokenBPE & { default?: TiktokenBPE };
const exact = (t: string) => new Tiktoken(ranks.default ?? ranks).encode(t, [], []).length;

describe('token estimate (planning only): bounded cost on huge records', () => {
  const sentence = 'Off-policy evaluation weights each logged response by the ratio of two probabilities. ';

  it('short texts are counted exactly; chunked ones within 1% of the exact count', () => {
    assert.equal(estimateTokens(sentence), exact(sentence));
    const mid = sentence.repeat(1500); // ~130 KB: chunked at 4 KiB
    const e = exact(mid);
    assert.ok(Math.abs(estimateTokens(mid) - e) / e < 0.01, `${estimateTokens(mid)} vs ${e}`);
  });

  it('a multi-megabyte record is estimated from samples at both ends, within 1% on uniform text', () => {
    const big = sentence.repeat(40000); // ~3.5 MB
    const perSentence = exact(sentence.repeat(10)) / 10;
    const expected = perSentence * 40000;
    const got = estimateTokens(big);
    assert.ok(Math.abs(got - expected) / expected < 0.01, `${got} vs ${expected}`);
  });
});
