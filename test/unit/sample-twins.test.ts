// Two sampled responses of one record with the same text (M = 8 short samples
// often repeat) have the same score key and the same log line. Each must still
// get its own score line under every policy, whichever answer comes first, and
// a rerun must find them all done. The backend here answers the first request
// of each policy last (a slow replica), the order that once lost a sample.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { exportScores } from '../../src/core/export';
import { runScoring } from '../../src/core/score-run';
import type { Scorer, ScoreRequest } from '../../src/core/scoring/scorer';
import type { SpanResult } from '../../src/core/span';
import type { CjeConfig } from '../../src/core/types';
import { readScoresFile } from '../support/scores-file';

/** log p of a response as this backend gives it: −(its length) − 0.5 under b, −2 × length under t (computed here from the text). */
const expected = (policy: string, response: string) => (policy === 'b' ? -response.length - 0.5 : -2 * response.length);

function backend(policy: string, sent: string[]): Scorer {
  let calls = 0;
  return {
    batchSize: 1,
    maxInFlight: 4,
    async scoreBatch(reqs: ScoreRequest[]): Promise<SpanResult[]> {
      const first = calls++ === 0;
      if (first) await new Promise((r) => setTimeout(r, 150));
      return reqs.map(({ rendered: r }) => {
        const response = r.text.slice(r.responseStart, r.responseEnd);
        sent.push(`${policy}:${response}`);
        const lp = expected(policy, response);
        return { ok: true as const, value: { logprob: lp, tokens: [response], token_logprobs: [lp], span: { start: 0, end: 1, tokenization: 'joined' as const } } as never };
      });
    },
  };
}

describe('sampled responses that repeat within a record', function () {
  this.timeout(30_000);
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-twins-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('each sample keeps its own line under every policy, the summary counts it, a rerun sends nothing, export has no nulls', async () => {
    const responses = ['Yes', 'Yes', 'No', 'Yes'];
    const log = path.join(dir, 'log.jsonl');
    fs.writeFileSync(log, JSON.stringify({ prompt_id: 'r1', prompt: 'Q?', responses }) + '\n');
    const policy = (model: string) => ({ provider: 'openai-compatible' as const, baseURL: `http://127.0.0.1:9/${model}`, model, template: 'llama3', batchSize: 1, concurrency: 4 });
    const config: CjeConfig = { behavior: 'b', policies: { b: policy('m1'), t: policy('m2') } };
    const sent: string[] = [];
    const run = () => runScoring({ logFile: log, config, makeScorer: async (_p, name) => backend(name, sent) });

    const s = await run();
    const lines = readScoresFile(s.outFile).filter((l) => !l.kind);
    const got = lines.map((l) => `${l.policy} ${l.record}`).sort();
    const want = ['b', 't'].flatMap((p) => responses.map((_, i) => `${p} r1#${i}`)).sort();
    assert.deepEqual(got, want, 'one line per (sample, policy)');
    for (const l of lines) assert.equal(l.logprob, expected(l.policy, responses[Number(l.record.split('#')[1])]), `${l.policy} ${l.record}`);
    assert.ok(lines.every((l) => l.duplicate_of === undefined), 'a sample of the same record is no duplicate record');
    assert.ok(lines.every((l) => l.reused_from === undefined), 'a copy under its own policy names no policy it was reused from');
    assert.equal(s.duplicates.count, 0);
    for (const p of s.policies) assert.equal(p.scored, responses.length, `${p.name}: every sample counted in the summary`);
    // The mean log-prob over the samples, by hand: b: (−3.5 −3.5 −2.5 −3.5)/4; t: (−6 −6 −4 −6)/4.
    assert.equal(s.policies.find((p) => p.name === 'b')!.meanLogprob, (-3.5 - 3.5 - 2.5 - 3.5) / 4);
    assert.equal(s.policies.find((p) => p.name === 't')!.meanLogprob, (-6 - 6 - 4 - 6) / 4);

    const before = sent.length;
    const again = await run();
    assert.equal(sent.length, before, 'the rerun sends nothing');
    assert.equal(again.skipped, 2 * responses.length);

    const out = path.join(dir, 'export.jsonl');
    const ex = await exportScores({ log, scores: s.outFile, config, format: 'cje', out });
    assert.ok(ex.nulls.every((n) => n.failed + n.suspect + n.missing === 0), JSON.stringify(ex.nulls));
    const rows = fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    rows.forEach((r, i) => {
      assert.equal(r.base_policy_logprob, expected('b', responses[i]));
      assert.equal(r.target_policy_logprobs.t, expected('t', responses[i]));
    });
  });
});
