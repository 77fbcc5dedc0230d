// The report at scale, and what a score line costs on disk. No assertions; run
// with `npm run bench` (all benches) or `npm run build && node out/bench/run.js report`.
//   CJE_BENCH_RECORDS=1000000   records of the generated log (default 20,000)
//   CJE_BENCH_TOKENS=50-250     tokens per response (default 50-250, about 1 KB log lines)
//   CJE_BENCH_DIR=/tmp/x        keep the generated files there and reuse them on the next run
//   CJE_BENCH_HTML=page.html    only the frame times of that page
// 1. Score line forms for 300-token responses: bytes a line whole, packed with
//    token detail (base64 float32, and the shortest float32 decimal instead),
//    packed without; the log line of the same record beside them.
// 2. cje report's work (data, HTML, pages of all records) in a process of its
//    own: time, peak RSS and the RSS curve, against one streaming pass over the
//    same files with readLines (also its own process).
// 3. Frame times while the record table scrolls in headless Chromium (median,
//    p95), and a screenshot of the page (test-output/bench/report-N.png).
// The data is generated into a temporary folder and removed afterwards.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mulberry32 } from '../src/core/diagnostics/estimates';
import { float32Base64, packScoreLine, shortestFloat32 } from '../src/core/score-line-form';
import { packageRoot } from '../src/core/package-root';
import type { ScoreLine } from '../src/core/types';
import { writeSynthetic } from '../test/e2e/synthetic';

const N = Number(process.env.CJE_BENCH_RECORDS ?? 20_000);
const [MIN_T, MAX_T] = (process.env.CJE_BENCH_TOKENS ?? '50-250').split('-').map(Number);
const CHROMIUM = '/usr/bin/chromium';

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;
const int = (x: number) => Math.round(x).toLocaleString('en-US');

function child(args: string[]): Record<string, unknown> {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'report-child.js'), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`report-child ${args[0]} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** Forms of a 300-token score line, with realistic fields (64-hex key and fingerprint, a span). */
function forms(): void {
  const rnd = mulberry32(3);
  const words = ' the| model| answer|,| weight| token| of| data| because| London| is|.|\n| estimate| sample'.split('|');
  const hex = (k: number) => Array.from({ length: 64 }, (_, i) => '0123456789abcdef'[(i * 7 + k) % 16]).join('');
  const sizes = { whole: 0, all: 0, decimal: 0, none: 0, flagged: 0, log: 0 };
  const LINES = 2000;
  for (let i = 0; i < LINES; i++) {
    const tokens = Array.from({ length: 300 }, () => words[Math.floor(rnd() * words.length)]);
    // vLLM returns float32 log-probs; as JSON doubles they print with up to 17 digits.
    const lps = tokens.map(() => Math.fround(rnd() < 0.7 ? -rnd() * 0.05 : -rnd() * 8));
    const line: ScoreLine = {
      key: hex(i),
      record: `prompt-${i}`,
      line: 10_000 + i,
      policy: 'base',
      fingerprint: hex(99),
      logprob: lps.reduce((a, b) => a + b, 0),
      tokens,
      token_logprobs: lps,
      span: { method: 'text_offset', offsetUnit: 'utf16', approximate: false, firstToken: 812, endToken: 1112, endOfTurnScored: true, tokenization: 'joined' },
      error: null,
      checks: 3,
      seam_group: hex(5).slice(0, 16),
      model: 'meta-llama/Llama-3.1-8B-Instruct',
      template: 'llama3',
      provider: 'openai-compatible',
      scored_at: '2026-12-02T03:00:00.000Z',
    };
    const bytes = (x: unknown) => Buffer.byteLength(JSON.stringify(x)) + 1;
    sizes.whole += bytes(line);
    const all = packScoreLine(line, 'all');
    sizes.all += bytes(all);
    const td = all.td as Record<string, unknown>;
    sizes.decimal += bytes({ ...all, td: { ...td, lp: lps.map(shortestFloat32) } });
    sizes.none += bytes(packScoreLine(line, 'none'));
    sizes.flagged += bytes(packScoreLine(line, 'flagged'));
    sizes.log += bytes({ prompt: `Question ${i}: ${tokens.slice(0, 40).join('')}`, response: tokens.join(''), judge_score: 0.5, metadata: { prompt_id: `prompt-${i}` } });
  }
  const per = (k: keyof typeof sizes) => sizes[k] / LINES;
  console.log(`score line forms, 300-token responses (${LINES} lines; the log line of the record: ${int(per('log'))} B):`);
  console.log(`  whole (before packing)               ${int(per('whole')).padStart(6)} B a line`);
  console.log(`  packed, detail, base64 float32       ${int(per('all')).padStart(6)} B  (${(per('all') / per('log')).toFixed(2)} × the log line)  log-probs ${(float32Base64(new Array(300).fill(0)).length / 300).toFixed(2)} B a token`);
  console.log(`  packed, detail, shortest decimal     ${int(per('decimal')).padStart(6)} B  (log-probs ${((per('decimal') - per('all')) / 300 + 5.33).toFixed(2)} B a token)`);
  console.log(`  packed, no detail ("none")           ${int(per('none')).padStart(6)} B  (goal < 1,024)`);
  console.log(`  "flagged" (1 in 32 keeps detail)     ${int(per('flagged')).padStart(6)} B a line on average (${(per('flagged') / per('log')).toFixed(2)} × the log line)`);
}

interface FrameStats {
  readyMs: number;
  median: number;
  p95: number;
  max: number;
  frames: number;
  rowElements: number;
  /** Layout forced after the table's redraw, a frame (ms). */
  workMedian: number;
  workP95: number;
}

async function frames(html: string, png: string): Promise<FrameStats | string> {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is absent`;
  const pw: typeof import('playwright-core') = require('playwright-core');
  const browser = await pw.chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.route('**/*', (r) => (r.request().url().startsWith('file://') ? r.continue() : r.abort()));
    const t0 = Date.now();
    await page.goto('file://' + html);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    const readyMs = Date.now() - t0;
    await page.locator('#records').scrollIntoViewIfNeeded();
    // Sort by the first target's |log w|, then scroll the table 400 px a frame for 240 frames; the gaps between frames are the frame times.
    await page.locator('#records .th[data-col^="lw:"]').first().click();
    const deltas = await page.evaluate(
      () =>
        new Promise<number[]>((resolve) => {
          const g = globalThis as unknown as { document: { querySelector(s: string): { scrollTop: number; scrollHeight: number } }; requestAnimationFrame(f: (t: number) => void): void; performance: { now(): number } };
          const v = g.document.querySelector('#records .viewport') as unknown as { scrollTop: number; scrollHeight: number; addEventListener(t: string, f: () => void): void };
          const out: number[] = [];
          let last = -1;
          let y = 0;
          const step = (t: number) => {
            if (last >= 0) out.push(t - last);
            last = t;
            y = (y + 400) % Math.max(1, v.scrollHeight - 1000);
            v.scrollTop = y;
            if (out.length < 240) g.requestAnimationFrame(step);
            else resolve(out.concat(work));
          };
          // The page's own work a frame: the table's redraw for the new scroll position and the layout it forces.
          const work: number[] = [];
          const table = (g as unknown as { document: { querySelector(s: string): { offsetHeight: number } } }).document.querySelector('#records .rows');
          v.addEventListener('scroll', () =>
            g.requestAnimationFrame(() => {
              const a = g.performance.now();
              void table.offsetHeight;
              work.push(g.performance.now() - a);
            }),
          );
          g.requestAnimationFrame(step);
        }),
    );
    const rowElements = await page.locator('#records .tr').count();
    await page.screenshot({ path: png, fullPage: false });
    await page.locator('#records').screenshot({ path: png.replace(/\.png$/, '-table.png') });
    const s = deltas.slice(0, 240).sort((a, b) => a - b);
    const w = deltas.slice(240).sort((a, b) => a - b);
    const q = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
    return { readyMs, median: q(s, 0.5), p95: q(s, 0.95), max: s[s.length - 1], frames: s.length, rowElements, workMedian: q(w, 0.5), workP95: q(w, 0.95) };
  } finally {
    await browser.close();
  }
}

async function main(): Promise<void> {
  if (process.env.CJE_BENCH_HTML) {
    // Frame times of a page already written (a report of your own).
    console.log(await frames(path.resolve(process.env.CJE_BENCH_HTML), path.join(packageRoot(), 'test-output', 'bench', 'report-page.png')));
    return;
  }
  forms();
  const keep = process.env.CJE_BENCH_DIR;
  const dir = keep ? path.join(keep, `${N}-${MIN_T}-${MAX_T}`) : fs.mkdtempSync(path.join(os.tmpdir(), 'cje-report-bench-'));
  try {
    let t = Date.now();
    const reuse = !!keep && fs.existsSync(path.join(dir, 'done'));
    const files = reuse
      ? { log: path.join(dir, 'log.jsonl'), scores: path.join(dir, 'scores.jsonl') }
      : writeSynthetic(dir, { n: N, withScores: true, seed: 11, minTokens: MIN_T, maxTokens: MAX_T, form: 'flagged' });
    if (keep) fs.writeFileSync(path.join(dir, 'done'), '');
    const genS = (Date.now() - t) / 1000;
    const logBytes = fs.statSync(files.log).size;
    const scBytes = fs.statSync(files.scores!).size;
    console.log(
      `\ncje report on ${int(N)} records (${MIN_T}-${MAX_T} tokens, 3 policies, scores "flagged"): log ${mib(logBytes)}, scores ${mib(scBytes)} ` +
        `(${(scBytes / logBytes).toFixed(2)} × the log; ${reuse ? 'reused' : `generated in ${genS.toFixed(0)} s`})`,
    );
    const pass = child(['pass', files.log, files.scores!]);
    const parse = child(['parse', files.log, files.scores!]);
    const html = path.join(dir, 'report.html');
    const rep = child(['report', files.scores!, files.log, html]);
    // The pass again after the report: on a shared machine the two differ, and the ratio is given against both.
    const pass2 = child(['pass', files.log, files.scores!]);
    const reportMs = (rep.dataMs as number) + (rep.htmlMs as number);
    const [p1, p2] = [pass.ms as number, pass2.ms as number];
    console.log(`  one streaming pass (readLines, log + scores): ${(p1 / 1000).toFixed(2)} s before the report, ${(p2 / 1000).toFixed(2)} s after; ${int(pass.lines as number)} lines, peak RSS ${int(pass.peakMiB as number)} MiB`);
    console.log(`  the same pass with JSON.parse of every line: ${((parse.ms as number) / 1000).toFixed(2)} s (${((parse.ms as number) / p1).toFixed(2)} × the pass: the floor of a reader that parses each line once)`);
    console.log(
      `  report: data ${((rep.dataMs as number) / 1000).toFixed(2)} s (bootstrap B=${rep.bootstrapB}) + HTML ${((rep.htmlMs as number) / 1000).toFixed(2)} s = ${(reportMs / 1000).toFixed(2)} s = ` +
        `${(reportMs / p1).toFixed(2)} × / ${(reportMs / p2).toFixed(2)} × the pass (goal ≤ 3); peak RSS ${int(rep.peakMiB as number)} MiB (goal < 600)`,
    );
    console.log(`  RSS during the report (MiB, every ~1/12 of the run): ${(rep.rssCurve as number[]).join(' ')}`);
    console.log(`  HTML ${mib(rep.htmlBytes as number)} (goal < ~20 MiB): ${int(rep.tableRows as number)} table rows of ${int(rep.records as number)}, tokens of ${rep.tokenRecords} of ${int(rep.tokenTotal as number)} records with detail`);
    console.log(`  ${rep.selection}`);
    console.log(
      `  panel pages of all records (100 a page): columns ${(rep.columnMiB as number).toFixed(1)} MiB; first page ${(rep.pageLineMs as number).toFixed(1)} ms, ` +
        `first by |log w| ${(rep.pageSortMs as number).toFixed(0)} ms (a sort of every record), a later one ${(rep.pageLaterMs as number).toFixed(1)} ms; peak RSS with pages ${int(rep.peakWithPagesMiB as number)} MiB`,
    );
    t = Date.now();
    const out = path.join(packageRoot(), 'test-output', 'bench');
    fs.mkdirSync(out, { recursive: true });
    const f = await frames(html, path.join(out, `report-${N}.png`));
    if (typeof f === 'string') console.log(`  frame times: skipped (${f})`);
    else {
      console.log(
        `  Chromium (headless, 1280×900): page ready in ${(f.readyMs / 1000).toFixed(1)} s; scrolling the table sorted by |log w|, 400 px a frame: ` +
          `frame time median ${f.median.toFixed(1)} ms, p95 ${f.p95.toFixed(1)} ms, max ${f.max.toFixed(1)} ms over ${f.frames} frames ` +
          `(style and layout after the redraw: median ${f.workMedian.toFixed(2)} ms, p95 ${f.workP95.toFixed(2)} ms); ${f.rowElements} row elements; screenshot ${path.relative(process.cwd(), path.join(out, `report-${N}.png`))}`,
      );
    }
  } finally {
    if (!keep) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
