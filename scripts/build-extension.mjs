// Bundles the VS Code extension (src/extension/extension.ts and the core it
// uses: openai, ajv, jsonc-parser) into one CommonJS file, out/dist/extension.js,
// so the .vsix ships no node_modules. `vscode` is provided by the host.
// Usage: node scripts/build-extension.mjs [--dev]
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dev = process.argv.includes('--dev');
const r = await esbuild.build({
  absWorkingDir: root,
  entryPoints: { extension: 'src/extension/extension.ts' },
  outdir: 'out/dist',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // jsonc-parser's UMD build hides its modules from bundlers; its ESM build does not.
  mainFields: ['module', 'main'],
  // Loaded only where present (tokenizer checks of the lint engine, the local worker): absent from the
  // .vsix, where those checks are skipped and the worker runs from the CLI package.
  external: ['vscode', '@huggingface/transformers', '@huggingface/tokenizers', 'onnxruntime-node', '@lenml/*'],
  minify: !dev,
  keepNames: true,
  sourcemap: dev ? 'inline' : false,
  legalComments: 'linked',
  logLevel: 'warning',
  metafile: true,
});
const outs = Object.entries(r.metafile.outputs).map(([f, o]) => `${f} ${(o.bytes / 1024).toFixed(1)} KiB`);
console.log(`extension bundle: ${outs.join(', ')}`);
