// Packs the VS Code extension into cje-inspector.vsix with @vscode/vsce.
// package.json's "files" (the npm package of the `cje` CLI) and .vscodeignore
// cannot be combined in one vsce run, so the extension is packed from a
// staging folder holding only what it runs from: the bundle
// (out/dist/extension.js), the panel's bundle (out/webview/report.{js,css}),
// templates/, schemas/, media/, README.md, and a package.json without the
// npm-only fields. .vscodeignore is applied there as well.
// Usage: node scripts/package-vsix.mjs [--out FILE]   (after npm run build)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const outArg = process.argv.indexOf('--out');
const out = path.resolve(root, outArg > 0 ? process.argv[outArg + 1] : 'cje-inspector.vsix');
const stage = path.join(root, '.tmp', 'vsix-stage');
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });

const copy = (rel) => {
  const from = path.join(root, rel);
  if (!fs.existsSync(from)) throw new Error(`${rel} is missing: run npm run build first`);
  fs.cpSync(from, path.join(stage, rel), { recursive: true });
};
for (const rel of ['out/dist/extension.js', 'out/webview/report.js', 'out/webview/report.css', 'templates', 'schemas', 'media', 'README.md', '.vscodeignore']) copy(rel);
for (const rel of ['LICENSE', 'LICENSE.md', 'LICENSE.txt', 'CHANGELOG.md']) if (fs.existsSync(path.join(root, rel))) copy(rel);

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
for (const k of ['files', 'scripts', 'dependencies', 'devDependencies', 'bin']) delete pkg[k];
fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(pkg, null, 2) + '\n');

const hasLicense = ['LICENSE', 'LICENSE.md', 'LICENSE.txt'].some((f) => fs.existsSync(path.join(stage, f)));
const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
execFileSync(
  process.execPath,
  [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', ...(hasLicense ? [] : ['--skip-license']), '-o', out],
  { cwd: stage, stdio: ['ignore', 'inherit', 'inherit'] },
);
console.log(`vsix: ${path.relative(root, out)} ${(fs.statSync(out).size / 1024).toFixed(1)} KiB`);
