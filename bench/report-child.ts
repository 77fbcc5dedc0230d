// One measured step of bench/report.bench.ts, in a process of its own so that
// its peak RSS is its own (not the generator's): prints one JSON line.
//   node out/bench/report-child.js pass FILE...          one streaming pass (readLines) over the files
//   node out/bench/report-child.js parse FILE...         the same with JSON.parse of every line
//   node out/bench/report-child.js report SCORES LOG HTML   cje report's work: data, page, pages of all records
import * as fs from 'node:fs';
import { readLines } from '../src/core/jsonl-lines';
import { buildReport } from '../src/core/report-data';
import { loadWebviewBundle, reportHtml } from '../src/core/report-html';

const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
/** Peak RSS of this process so far, in MiB (getrusage's ru_maxrss). */
const peakMiB = () => process.resourceUsage().maxRSS / 1024;

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  // RSS sampled through the run: the curve's slope says whether memory grows with the records.
  const samples: { t: number; rss: number }[] = [];
  const t0 = process.hrtime.bigint();
  const timer = setInterval(() => samples.push({ t: ms(t0), rss: process.memoryUsage().rss / 1048576 }), 100);
  try {
    if (mode === 'pass' || mode === 'parse') {
      let lines = 0;
      let bytes = 0;
      const t = process.hrtime.bigint();
      for (const f of args) {
        for await (const l of readLines(f, { maxLineBytes: 256 * 1024 * 1024 })) {
          lines++;
          bytes += l.bytes + 1;
          // "parse": JSON.parse of every line as well, the floor of any reader that looks inside the lines.
          if (mode === 'parse' && l.text) JSON.parse(l.text);
        }
      }
      console.log(JSON.stringify({ ms: ms(t), lines, bytes, peakMiB: peakMiB() }));
      return;
    }
    if (mode === 'report') {
      const [scores, log, html] = args;
      const bundle = loadWebviewBundle();
      let t = process.hrtime.bigint();
      const { data, columns } = await buildReport({ input: scores, log, behavior: 'base' });
      const dataMs = ms(t);
      t = process.hrtime.bigint();
      const page = reportHtml(data, bundle);
      fs.writeFileSync(html, page);
      const htmlMs = ms(t);
      const afterReport = peakMiB();
      // The panel's pages: the first in log order, then the first by |log w| (a sort of every record), then a later one.
      t = process.hrtime.bigint();
      const p0 = columns.page({ page: 0, pageSize: 100, order: { by: 'line' }, filter: 'all' });
      const pageLineMs = ms(t);
      t = process.hrtime.bigint();
      columns.page({ page: 0, pageSize: 100, order: { by: 'abs_lw', target: 1 }, filter: 'all' });
      const pageSortMs = ms(t);
      t = process.hrtime.bigint();
      columns.page({ page: Math.floor(p0.pages / 2), pageSize: 100, order: { by: 'abs_lw', target: 1 }, filter: 'all' });
      const pageLaterMs = ms(t);
      const c = columns.c;
      const columnBytes = [c.line, c.judge, c.chars, c.ntok, c.blp, ...c.lw, c.sus, c.apx, c.tableRow, c.logOffset, c.logBytes, c.scoreOffset, c.scoreBytes].reduce((a, x) => a + x.byteLength, 0);
      const rss = samples.map((s) => s.rss);
      console.log(
        JSON.stringify({
          dataMs,
          htmlMs,
          htmlBytes: Buffer.byteLength(page),
          records: data.meta.n_records,
          tableRows: data.records.length,
          tokenRecords: data.tokens.included,
          tokenTotal: data.tokens.total,
          bootstrapB: data.policies[0]?.estimates?.bootstrap_b ?? 0,
          peakMiB: afterReport,
          peakWithPagesMiB: peakMiB(),
          columnMiB: columnBytes / 1048576,
          pageLineMs,
          pageSortMs,
          pageLaterMs,
          rssCurve: rss.filter((_, i) => i % Math.max(1, Math.floor(rss.length / 12)) === 0).map((x) => Math.round(x)),
          selection: data.record_table.selection,
        }),
      );
      return;
    }
    throw new Error(`unknown mode ${mode}`);
  } finally {
    clearInterval(timer);
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
