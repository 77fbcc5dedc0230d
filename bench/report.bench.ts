// Report generation for 100,000 synthetic records: time and file size.
// No assertions; run with `npm run bench` (all benches) or `npm run build && node out/bench/run.js report`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildReportData } from '../src/core/report-data';
import { loadWebviewBundle, reportHtml } from '../src/core/report-html';
import { writeSynthetic } from '../test/e2e/synthetic';

const N = Number(process.env.CJE_BENCH_RECORDS ?? 100_000);

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

async function time<T>(f: () => Promise<T> | T): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const r = await f();
  return [r, Number(process.hrtime.bigint() - t) / 1e6];
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-report-bench-'));
  try {
    const bundle = loadWebviewBundle();
    console.log(`report generation, ${N.toLocaleString('en-US')} synthetic records, 2 targets (webview bundle ${mib(bundle.js.length + bundle.css.length)})`);
    for (const kind of ['log', 'scores'] as const) {
      const sub = path.join(dir, kind);
      const [files, genMs] = await time(() => writeSynthetic(sub, { n: N, withScores: kind === 'scores', seed: 11, minTokens: 4, maxTokens: 20 }));
      const input = kind === 'scores' ? files.scores! : files.log;
      const inBytes = fs.statSync(input).size;
      const [data, dataMs] = await time(() => buildReportData({ input, log: kind === 'scores' ? files.log : undefined, behavior: 'base' }));
      const [html, htmlMs] = await time(() => reportHtml(data, bundle));
      const [, writeMs] = await time(() => fs.writeFileSync(path.join(sub, 'report.html'), html));
      const json = JSON.stringify(data);
      const total = dataMs + htmlMs + writeMs;
      console.log(
        `  ${kind.padEnd(6)} input ${mib(inBytes).padStart(9)} (written in ${(genMs / 1000).toFixed(1)} s) → ` +
          `data ${(dataMs / 1000).toFixed(2)} s (incl. bootstrap B=${data.policies[0]?.estimates?.bootstrap_b ?? 0}), html ${(htmlMs / 1000).toFixed(2)} s, write ${(writeMs / 1000).toFixed(2)} s; ` +
          `total ${(total / 1000).toFixed(2)} s; HTML ${mib(Buffer.byteLength(html))}, JSON ${mib(Buffer.byteLength(json))}, ` +
          `token records ${data.tokens.included}/${data.tokens.total}`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
