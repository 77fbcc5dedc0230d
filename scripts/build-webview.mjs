// Bundles the report/panel UI (webview/) into out/webview/report.js + report.css:
// one IIFE for ES2020, loaded by the standalone HTML report and the VS Code webview.
// Usage: node scripts/build-webview.mjs [--watch] [--dev]
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const watch = process.argv.includes('--watch');
const dev = process.argv.includes('--dev');

const options = {
  absWorkingDir: root,
  entryPoints: { report: 'webview/main.ts' },
  outdir: 'out/webview',
  bundle: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  minify: !dev,
  sourcemap: dev ? 'inline' : false,
  legalComments: 'inline',
  tsconfig: 'webview/tsconfig.json',
  logLevel: 'warning',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log('watching webview/ …');
} else {
  const r = await esbuild.build({ ...options, metafile: true });
  const outs = Object.entries(r.metafile.outputs).map(([f, o]) => `${f} ${(o.bytes / 1024).toFixed(1)} KiB`);
  console.log(`webview bundle: ${outs.join(', ')}`);
}
