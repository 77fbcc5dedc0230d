// The package a user installs from a listing: package.json's Marketplace
// fields, the icon, the listing README's images, and what `npm run package`
// puts in the .vsix (read from the zip's central directory here, not by vsce).
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

const ROOT = path.resolve(__dirname, '..', '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const LISTING = path.join(ROOT, 'README.listing.md');

/** A zip's entries, from its end-of-central-directory record (PKWARE APPNOTE 4.3.16) and central headers (4.3.12). */
function zipEntries(file: string): Map<string, () => Buffer> {
  const b = fs.readFileSync(file);
  let eocd = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 65535); i--) {
    if (b.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  assert.ok(eocd >= 0, `${file} is a zip`);
  const count = b.readUInt16LE(eocd + 10);
  let at = b.readUInt32LE(eocd + 16);
  const entries = new Map<string, () => Buffer>();
  for (let k = 0; k < count; k++) {
    assert.equal(b.readUInt32LE(at), 0x02014b50, 'central directory header');
    const method = b.readUInt16LE(at + 10);
    const size = b.readUInt32LE(at + 20);
    const n = b.readUInt16LE(at + 28);
    const extra = b.readUInt16LE(at + 30);
    const comment = b.readUInt16LE(at + 32);
    const local = b.readUInt32LE(at + 42);
    entries.set(b.toString('utf8', at + 46, at + 46 + n), () => {
      // Local header (4.3.7): its own name and extra lengths, then the data; 8 = deflate, 0 = stored.
      const data = local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28);
      const raw = b.subarray(data, data + size);
      return method === 8 ? zlib.inflateRawSync(raw) : Buffer.from(raw);
    });
    at += 46 + n + extra + comment;
  }
  return entries;
}

/** Images of a markdown text: ![alt](url). */
const images = (md: string) => [...md.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]);

describe('the Marketplace package', () => {
  it('package.json has a PNG icon, repository/bugs/homepage, keywords, a gallery banner, and preview while 0.x', () => {
    assert.equal(path.extname(pkg.icon), '.png');
    const png = fs.readFileSync(path.join(ROOT, pkg.icon));
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
    // IHDR: width and height at bytes 16 and 20; the Marketplace asks for at least 128×128.
    assert.ok(png.readUInt32BE(16) >= 128 && png.readUInt32BE(20) === png.readUInt32BE(16), 'square, ≥ 128 px');
    for (const url of [pkg.repository.url, pkg.bugs.url, pkg.homepage]) assert.match(url, /^https:\/\//);
    assert.ok(Array.isArray(pkg.keywords) && pkg.keywords.length >= 5 && pkg.keywords.length <= 30, 'vsce allows 30 keywords');
    assert.match(pkg.galleryBanner.color, /^#[0-9a-f]{6}$/i);
    assert.ok(['dark', 'light'].includes(pkg.galleryBanner.theme));
    if (pkg.version.startsWith('0.')) assert.equal(pkg.preview, true);
    assert.ok(fs.existsSync(path.join(ROOT, 'CHANGELOG.md')));
  });

  it('the listing README shows the four screenshots, committed under media/, and names every setting and command', () => {
    const md = fs.readFileSync(LISTING, 'utf8');
    const imgs = images(md);
    assert.deepEqual(imgs.sort(), ['context-menu', 'lint-hover', 'panel', 'progress'].map((n) => `media/screenshots/${n}.png`));
    let tracked: string[] | undefined;
    try {
      tracked = execFileSync('git', ['ls-files', 'media'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n');
    } catch {
      tracked = undefined; // not a git checkout (an unpacked tarball): the files must at least be there
    }
    for (const i of imgs) assert.ok(tracked ? tracked.includes(i) : fs.existsSync(path.join(ROOT, i)), `${i} is committed (the listing links to it in the repository)`);
    for (const s of Object.keys(pkg.contributes.configuration.properties)) assert.ok(md.includes(`\`${s}\``), s);
    for (const c of pkg.contributes.commands) assert.ok(md.includes(`CJE: ${c.title}`), c.title);
  });

  it('.gitignore keeps out what the demo, the tests and hand runs on the example write', () => {
    const ignored = fs.readFileSync(path.join(ROOT, '.gitignore'), 'utf8').split('\n');
    for (const p of ['examples/*.scores.jsonl', 'demo-output/', 'test-output/']) assert.ok(ignored.includes(p), p);
  });

  it('npm run package: the .vsix carries the icon, the listing README (images as https links into the repository) and the changelog', function () {
    this.timeout(120000);
    if (!fs.existsSync(path.join(ROOT, 'out', 'dist', 'extension.js'))) assert.fail('out/dist/extension.js is missing: npm run build first');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-vsix-'));
    try {
      const out = path.join(dir, 'cje.vsix');
      execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package-vsix.mjs'), '--out', out], { cwd: ROOT, stdio: 'pipe' });
      const zip = zipEntries(out);
      const names = [...zip.keys()];
      for (const n of ['extension/media/icon.png', 'extension/readme.md', 'extension/changelog.md', 'extension/package.json']) assert.ok(names.includes(n), `${n} in\n${names.join('\n')}`);
      assert.ok(!names.some((n) => n.startsWith('extension/media/screenshots/')), 'the screenshots are links, not package content');
      assert.deepEqual(zip.get('extension/media/icon.png')!(), fs.readFileSync(path.join(ROOT, 'media', 'icon.png')));
      assert.equal(zip.get('extension/changelog.md')!().toString('utf8'), fs.readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8'));
      // The readme in the package is the listing one, with its relative images made absolute.
      const readme = zip.get('extension/readme.md')!().toString('utf8');
      const repo = pkg.repository.url.replace(/\.git$/, '');
      assert.ok(readme.startsWith('# CJE Inspector\n'));
      assert.deepEqual(images(readme).sort(), images(fs.readFileSync(LISTING, 'utf8')).map((i) => `${repo}/raw/HEAD/${i}`).sort());
      assert.equal(JSON.parse(zip.get('extension/package.json')!().toString('utf8')).icon, 'media/icon.png');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
