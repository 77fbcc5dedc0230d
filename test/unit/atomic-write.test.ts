// Whole-file writes (the report's HTML and JSON): the target is always old or
// new, and temporary files left by a write killed before its rename (kill -9)
// are cleared by the next write to the same target.
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeFileAtomic } from '../../src/core/atomic-write';

describe('writeFileAtomic', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-atomic-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('replaces the file whole and leaves no temporary file', () => {
    const f = path.join(dir, 'report.html');
    fs.writeFileSync(f, 'old');
    writeFileAtomic(f, 'new text');
    assert.equal(fs.readFileSync(f, 'utf8'), 'new text');
    assert.deepEqual(fs.readdirSync(dir), ['report.html']);
  });

  it("removes a killed write's temporary file, keeps a live process's and other files", () => {
    // A pid that certainly ended: a child that has exited and been reaped.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const f = path.join(dir, 'report.html');
    const stale = `.report.html.${dead}.abc123.tmp`;
    const live = `.report.html.${process.ppid}.abc124.tmp`;
    const other = `.other.html.${dead}.abc125.tmp`;
    for (const n of [stale, live, other]) fs.writeFileSync(path.join(dir, n), 'half');
    writeFileAtomic(f, 'x');
    assert.deepEqual(fs.readdirSync(dir).sort(), [live, other, 'report.html'].sort());
  });
});
