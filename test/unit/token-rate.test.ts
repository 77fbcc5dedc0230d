import * as assert from 'node:assert/strict';
import { OffThreadTokenRate, estimateTokens } from '../../src/core/token-estimate';

describe('OffThreadTokenRate (a scoring run counts its token rate in a worker thread)', function () {
  this.timeout(30000);
  const texts = Array.from({ length: 100 }, (_, i) => `Prompt ${i}: ${'explain the weights of record '.repeat(1 + (i % 7))}${i}.`);

  it('counts the sample in the worker and adds the prompts seen meanwhile once the rate is known', async () => {
    let late = 0;
    const rate = new OffThreadTokenRate((n) => (late += n), 10);
    let now = 0;
    for (const t of texts) now += rate.add(t);
    await rate.close();
    // The same rate counted here: tokens of the first 10 over their characters, applied to every prompt's length.
    const sample = texts.slice(0, 10);
    const r = sample.reduce((a, t) => a + estimateTokens(t), 0) / sample.reduce((a, t) => a + t.length, 0);
    const chars = texts.reduce((a, t) => a + t.length, 0);
    assert.equal(now, 0, 'nothing is counted before the worker answers');
    assert.equal(late, Math.round(chars * r));
    // After the answer, prompts are counted at once by their length.
    assert.equal(rate.add('x'.repeat(1000)), Math.round(1000 * r));
  });

  it('a run with fewer prompts than the sample counts them in this thread at close', async () => {
    let late = 0;
    const rate = new OffThreadTokenRate((n) => (late += n), 64);
    for (const t of texts.slice(0, 3)) rate.add(t);
    await rate.close();
    assert.equal(late, texts.slice(0, 3).reduce((a, t) => a + estimateTokens(t), 0));
  });
});
