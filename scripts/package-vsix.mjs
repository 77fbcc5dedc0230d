// Packs the VS Code extension into a .vsix with @vscode/vsce.
// package.json's "files" (the npm package of the `cje` CLI) and .vscodeignore
// cannot be combined in one vsce run, so the extension is packed from a
// staging folder holding only what it runs from: the bundle
// (out/dist/extension.js), the panel's bundle (out/webview/report.{js,css}),
// templates/, schemas/, media/, the listing README (README.listing.md, for
// users: what the extension does, screenshots, settings, commands; README.md
// is the developers'), CHANGELOG.md, and a package.json without the npm-only
// fields. .vscodeignore is applied there as well. Relative links of the
// listing README become absolute URLs into package.json's repository
// (vsce --baseContentUrl/--baseImagesUrl): the Marketplace shows a README's
// images only from https URLs, and media/ is committed there.
//
// Without --target: cje-inspector.vsix, universal and small, with no local
// worker (a "local" policy then fails with one message naming the platform
// package to install: src/worker/runtime.ts).
// With --target T (linux-x64, linux-arm64, darwin-arm64, win32-x64,
// win32-arm64: the platforms onnxruntime-node ships a binary for):
// cje-inspector-T.vsix (`vsce package --target T`), which adds the local
// worker: the bundled CLI out/dist/cje.js (+ out/dist/forward-thread.js, the
// worker's model thread), src/worker/reduce.onnx (found as
// packageRoot()/src/worker/reduce.onnx, the same path as in a checkout) and,
// in out/dist/node_modules (where Node resolves them from out/dist/cje.js;
// vsce --no-dependencies skips only a top-level node_modules), what the
// worker loads at runtime in Node for text models:
//   @huggingface/transformers  package.json + dist/transformers.node.cjs (its
//                              Node build inlines @huggingface/tokenizers,
//                              @huggingface/jinja and onnxruntime-web's JS)
//   onnxruntime-common         package.json + dist/cjs/*.js (+ its package.json: type commonjs)
//   onnxruntime-node           package.json + dist/*.js + bin/napi-v*/<os>/<arch> of T only
//   sharp                      a stub: transformers.js requires sharp when it
//                              loads (for images) but text models never call
//                              it; the stub loads and throws if ever called.
// Usage: node scripts/package-vsix.mjs [--target T] [--out FILE]   (after npm run build)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const t0 = performance.now();
const argOf = (name) => {
  const i = process.argv.indexOf(name);
  if (i < 0) return undefined;
  const v = process.argv[i + 1];
  if (!v || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
};
const TARGETS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64', 'win32-arm64'];
const target = argOf('--target');
if (target && !TARGETS.includes(target)) {
  console.error(`package-vsix: --target must be one of ${TARGETS.join(', ')} (onnxruntime-node ${ortVersion()} ships binaries for these only), got ${target}`);
  process.exit(2);
}
const out = path.resolve(root, argOf('--out') ?? (target ? `cje-inspector-${target}.vsix` : 'cje-inspector.vsix'));
const stage = path.join(root, '.tmp', target ? `vsix-stage-${target}` : 'vsix-stage');
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });

const copy = (rel) => {
  const from = path.join(root, rel);
  if (!fs.existsSync(from)) throw new Error(`${rel} is missing: run npm run build first`);
  fs.cpSync(from, path.join(stage, rel), { recursive: true });
};
for (const rel of ['out/dist/extension.js', 'out/webview/report.js', 'out/webview/report.css', 'templates', 'schemas', 'media', 'README.listing.md', 'CHANGELOG.md', '.vscodeignore']) copy(rel);
for (const rel of ['LICENSE', 'LICENSE.md', 'LICENSE.txt']) if (fs.existsSync(path.join(root, rel))) copy(rel);

if (target) stageWorkerRuntime(target);

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
for (const k of ['files', 'scripts', 'dependencies', 'devDependencies', 'bin']) delete pkg[k];
fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');

const hasLicense = ['LICENSE', 'LICENSE.md', 'LICENSE.txt'].some((f) => fs.existsSync(path.join(stage, f)));
const repo = String(pkg.repository?.url ?? pkg.repository ?? '').replace(/^git\+/, '').replace(/\.git$/, '');
if (!/^https:\/\//.test(repo)) throw new Error(`package.json "repository" must be an https URL (the listing's links point into it), got ${JSON.stringify(pkg.repository)}`);
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
execFileSync(
  process.execPath,
  [
    vsce, 'package', '--no-dependencies',
    '--readme-path', 'README.listing.md', '--baseContentUrl', `${repo}/blob/HEAD`, '--baseImagesUrl', `${repo}/raw/HEAD`,
    ...(target ? ['--target', target] : []), ...(hasLicense ? [] : ['--skip-license']), '-o', out,
  ],
  { cwd: stage, stdio: ['ignore', 'inherit', 'inherit'] },
);
const size = fs.statSync(out).size;
const human = size >= 1024 * 1024 ? `${(size / 1024 / 1024).toFixed(1)} MiB` : `${(size / 1024).toFixed(1)} KiB`;
console.log(`vsix: ${path.relative(root, out)} ${human}${target ? ` (${target})` : ' (universal)'}, packed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

function ortVersion() {
  try {
    return JSON.parse(fs.readFileSync(path.join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version;
  } catch {
    return '(not installed)';
  }
}

/** Copies the worker's bundle, the reduction graph and its runtime node_modules (only `t`'s binaries) into the stage. */
function stageWorkerRuntime(t) {
  const [os, arch] = t.split('-');
  for (const rel of ['out/dist/cje.js', 'src/worker/reduce.onnx']) copy(rel);
  if (fs.existsSync(path.join(root, 'out/dist/forward-thread.js'))) copy('out/dist/forward-thread.js');
  const nm = path.join(root, 'node_modules');
  const dest = path.join(stage, 'out', 'dist', 'node_modules');
  const take = (pkgName, files) => {
    const from = path.join(nm, pkgName);
    if (!fs.existsSync(path.join(from, 'package.json'))) throw new Error(`node_modules/${pkgName} is missing: run npm install first`);
    for (const f of ['package.json', 'LICENSE', 'LICENSE.md', 'README.md', ...files]) {
      const src = path.join(from, f);
      if (!fs.existsSync(src)) {
        if (f === 'LICENSE' || f === 'LICENSE.md' || f === 'README.md') continue;
        throw new Error(`node_modules/${pkgName}/${f} is missing`);
      }
      fs.cpSync(src, path.join(dest, pkgName, f), { recursive: true });
    }
  };
  const jsIn = (pkgName, dir) => fs.readdirSync(path.join(nm, pkgName, dir)).filter((f) => f.endsWith('.js')).map((f) => `${dir}/${f}`);
  take('@huggingface/transformers', ['dist/transformers.node.cjs']);
  take('onnxruntime-common', [...jsIn('onnxruntime-common', 'dist/cjs'), 'dist/cjs/package.json']);
  const napis = fs.readdirSync(path.join(nm, 'onnxruntime-node', 'bin')).filter((d) => /^napi-v\d+$/.test(d) && fs.existsSync(path.join(nm, 'onnxruntime-node', 'bin', d, os, arch)));
  if (!napis.length) throw new Error(`node_modules/onnxruntime-node has no bin/napi-v*/${os}/${arch}: onnxruntime-node ${ortVersion()} ships no binary for ${t}`);
  take('onnxruntime-node', [...jsIn('onnxruntime-node', 'dist'), ...napis.map((d) => `bin/${d}/${os}/${arch}`)]);
  const sharp = path.join(dest, 'sharp');
  fs.mkdirSync(sharp, { recursive: true });
  fs.writeFileSync(path.join(sharp, 'package.json'), JSON.stringify({ name: 'sharp', version: '0.0.0-cje-stub', description: 'Stub: CJE scores text; transformers.js loads sharp for images only', main: 'index.js', license: 'MIT' }, null, 2) + '\n');
  fs.writeFileSync(
    path.join(sharp, 'index.js'),
    "'use strict';\n// Stub (scripts/package-vsix.mjs): transformers.js requires sharp when it loads, for images only; CJE scores text.\n" +
      "module.exports = function sharp() {\n  throw new Error('sharp (image processing) is not part of the CJE Inspector package: it scores text models only');\n};\n",
  );
  // The worker bundle's own .vscodeignore exceptions: the stage's root .vscodeignore drops src/** and node_modules/** (top level only).
  fs.appendFileSync(path.join(stage, '.vscodeignore'), '\n# Platform package (--target): the local worker\n!out/dist/cje.js\n!out/dist/forward-thread.js\n!src/worker/reduce.onnx\n');
}
