import * as fs from 'node:fs';
import * as path from 'node:path';
import { pidAlive } from './pid-alive';

/**
 * Writes a whole file so that anyone reading it (or a run killed halfway, even
 * by kill -9) finds either the old complete file or the new one: the text goes
 * to a temporary file in the same folder, is flushed, and is renamed over the
 * target. A device or FIFO (/dev/stdout, /dev/full) is written in place.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  const dir = path.dirname(path.resolve(file));
  fs.mkdirSync(dir, { recursive: true });
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    /* a new file */
  }
  if (st && !st.isFile()) {
    if (st.isDirectory()) throw new Error(`${file} is a folder, not a file to write`);
    fs.writeFileSync(file, data);
    return;
  }
  removeStaleTemps(dir, path.basename(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now().toString(36)}.tmp`);
  const fd = fs.openSync(tmp, 'w', st ? st.mode & 0o777 : 0o644);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let off = 0; off < buf.length; ) off += fs.writeSync(fd, buf, off);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.closeSync(fd);
    } catch {
      /* closed already */
    }
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Temporary files of earlier writes to the same target whose process is gone (killed before its rename). */
function removeStaleTemps(dir: string, base: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  const prefix = `.${base}.`;
  for (const n of names) {
    if (!n.startsWith(prefix) || !n.endsWith('.tmp')) continue;
    const m = /^(\d+)\.[0-9a-z]+\.tmp$/.exec(n.slice(prefix.length));
    if (m && !pidAlive(Number(m[1]))) fs.rmSync(path.join(dir, n), { force: true });
  }
}
