// Pages of all records for the panel (record-pages.ts): ids read back from
// the log (or the scores file) by offset, orders and filters checked against
// the records computed the long way, a changed file reported; and the
// messages that carry pages (webview/protocol.ts guards, the host's handler).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { buildReport } from '../../src/core/report-data';
import { checkPageRequest } from '../../src/core/record-page-request';
import type { RecordRow } from '../../src/core/report-types';
import { handleViewMessage } from '../../src/extension/panel-messages';
import { isHostToView, isViewToHost } from '../../webview/protocol';
import { writeSynthetic } from '../e2e/synthetic';

let dir: string;
before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-pages-'))));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The log's records as the test reads them: id = metadata.prompt_id. */
function logIds(file: string): string[] {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((t) => JSON.parse(t).metadata.prompt_id);
}

describe('record pages', () => {
  it('pages through every record in log order and by |log w|, ids read from the log, with the table row of each', async () => {
    const files = writeSynthetic(path.join(dir, 'a'), { n: 450, withScores: true, seed: 8, minTokens: 2, maxTokens: 5 });
    const small = { total: 120, topPerTarget: 30, violations: 20, suspect: 10, failed: 10 };
    const { data, columns } = await buildReport({ input: files.scores!, log: files.log, behavior: 'base', bootstrap: { b: 0 }, recordTable: small });
    // The full table (no selection) is the reference: every record, the same rows.
    const full = await buildReport({ input: files.scores!, log: files.log, behavior: 'base', bootstrap: { b: 0 } });
    const all = full.data.records;
    assert.equal(all.length, 450);
    const ids = logIds(files.log);
    const got: RecordRow[] = [];
    for (let p = 0; ; p++) {
      const page = columns.page({ page: p, pageSize: 100, order: { by: 'line' }, filter: 'all' });
      assert.equal(page.matching, 450);
      assert.equal(page.pages, 5);
      assert.equal(page.stale, undefined);
      got.push(...page.rows);
      page.rows.forEach((r, k) => {
        const t = page.tableRows[k];
        if (t >= 0) assert.deepEqual(data.records[t], r, 'a row in the table is the same row');
        else assert.ok(!data.records.some((x) => x.line === r.line), 'a row not in the table');
      });
      if (page.rows.length < 100) break;
    }
    assert.deepEqual(got, all);
    assert.deepEqual(got.map((r) => r.id), ids);
    // By |log w| of premium (target 1), largest first, missing last, ties by log order.
    // Exact weights from the scores file (the rows carry them rounded to 8 digits, which ties some).
    const lp = new Map<string, number>();
    for (const t of fs.readFileSync(files.scores!, 'utf8').trim().split('\n')) {
      const s = JSON.parse(t);
      lp.set(`${s.line}/${s.policy}`, s.logprob);
    }
    const abs = (r: RecordRow) => Math.abs(lp.get(`${r.line}/premium`)! - lp.get(`${r.line}/base`)!);
    const byPremium = all.map((r, i) => ({ r, i })).sort((a, b) => abs(b.r) - abs(a.r) || a.i - b.i).map((x) => x.r);
    const p2 = columns.page({ page: 2, pageSize: 50, order: { by: 'abs_lw', target: 1 }, filter: 'all' });
    assert.deepEqual(p2.rows, byPremium.slice(100, 150));
    // Clone's identity violations only.
    const tol = full.data.policies[0].identical.tolerance;
    const viol = all.filter((r) => !(Math.abs(r.lw[0] ?? NaN) <= tol));
    assert.ok(viol.length >= files.cloneViolations.size && viol.length > 0);
    const pv = columns.page({ page: 0, pageSize: 1000, order: { by: 'line' }, filter: 'violations' });
    assert.deepEqual(pv.rows, viol);
    // Past the end: an empty page, the counts still right.
    const past = columns.page({ page: 99, pageSize: 100, order: { by: 'line' }, filter: 'all' });
    assert.deepEqual([past.rows.length, past.matching, past.pages], [0, 450, 5]);
    // The log changes: the page says so.
    fs.appendFileSync(files.log, '{"prompt": "x", "response": "y"}\n');
    assert.match(columns.page({ page: 0, pageSize: 5, order: { by: 'line' }, filter: 'all' }).stale ?? '', /changed since the report was built/);
  });

  it('without a log, ids come from the scores file', async () => {
    const files = writeSynthetic(path.join(dir, 'b'), { n: 40, withScores: true, seed: 9, minTokens: 2, maxTokens: 4 });
    const { columns } = await buildReport({ input: files.scores!, behavior: 'base', bootstrap: { b: 0 } });
    const page = columns.page({ page: 1, pageSize: 10, order: { by: 'line' }, filter: 'all' });
    assert.deepEqual(page.rows.map((r) => r.id), logIds(files.log).slice(10, 20));
  });

  it('with a .jsonl.gz log beside the scores (read without offsets), ids come from the scores file', async () => {
    const files = writeSynthetic(path.join(dir, 'gz'), { n: 40, withScores: true, seed: 11, minTokens: 2, maxTokens: 4 });
    const gz = files.log + '.gz';
    fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(files.log)));
    const { columns } = await buildReport({ input: files.scores!, log: gz, behavior: 'base', bootstrap: { b: 0 } });
    const page = columns.page({ page: 2, pageSize: 10, order: { by: 'line' }, filter: 'all' });
    assert.deepEqual(page.rows.map((r) => r.id), logIds(files.log).slice(20, 30));
  });

  it('messages: guards on both ends, and the host answers a page request with inReplyTo', async () => {
    const files = writeSynthetic(path.join(dir, 'c'), { n: 30, withScores: true, seed: 10, minTokens: 2, maxTokens: 4 });
    const { data, columns } = await buildReport({ input: files.scores!, log: files.log, behavior: 'base', bootstrap: { b: 0 } });
    const request = { page: 0, pageSize: 10, order: { by: 'line' }, filter: 'all' };
    assert.ok(isViewToHost({ type: 'recordPage', messageId: 7, request }));
    for (const bad of [
      { type: 'recordPage', messageId: -1, request },
      { type: 'recordPage', messageId: 1.5, request },
      { type: 'recordPage', request },
      { type: 'recordPage', messageId: 1, request: { ...request, pageSize: 0 } },
      { type: 'recordPage', messageId: 1, request: { ...request, pageSize: 1001 } },
      { type: 'recordPage', messageId: 1, request: { ...request, order: { by: 'abs_lw' } } },
      { type: 'recordPage', messageId: 1, request: { ...request, filter: 'some' } },
    ]) {
      assert.equal(isViewToHost(bad), false, JSON.stringify(bad));
    }
    assert.equal(typeof checkPageRequest({ ...request, order: { by: 'abs_lw', target: 2 } }, 2), 'string', 'a target past the report’s');
    const a = handleViewMessage({ type: 'recordPage', messageId: 7, request }, data, undefined, columns);
    assert.equal(a.kind, 'post');
    const msg = (a as { message: unknown }).message as { type: string; inReplyTo: number; page: { rows: RecordRow[] } };
    assert.equal(msg.type, 'recordPage');
    assert.equal(msg.inReplyTo, 7);
    assert.deepEqual(msg.page.rows, data.records.slice(0, 10));
    assert.ok(isHostToView(msg));
    assert.equal(isHostToView({ ...msg, inReplyTo: undefined }), false);
    // A target the report does not have, or no report yet: an error reply to the same message.
    const e = handleViewMessage({ type: 'recordPage', messageId: 8, request: { ...request, order: { by: 'abs_lw', target: 5 } } }, data, undefined, columns);
    assert.deepEqual(e.kind === 'post' && e.message.type === 'recordPageError' && [e.message.inReplyTo, /order must be/.test(e.message.message)], [8, true]);
    const none = handleViewMessage({ type: 'recordPage', messageId: 9, request }, null, undefined, null);
    assert.deepEqual(none, { kind: 'post', message: { type: 'recordPageError', inReplyTo: 9, message: 'no report shown yet' } });
    assert.ok(isHostToView((none as { message: unknown }).message));
  });
});
