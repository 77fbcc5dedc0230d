import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

/** Counts the lines of a file by streaming it (a last line without newline counts); a .gz file's lines are those of its decompressed text. */
export async function countLines(file: string): Promise<number> {
  let n = 0;
  let last = 0x0a;
  try {
    // A device or pipe may never end (/dev/zero); readLog refuses those with a message of its own.
    if (!(await fs.promises.stat(file)).isFile()) return 0;
    const raw = fs.createReadStream(file, { highWaterMark: 1 << 20 });
    const stream = /\.gz$/i.test(file) ? raw.pipe(zlib.createGunzip()) : raw;
    if (stream !== raw) raw.on('error', (e) => stream.destroy(e));
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) n++;
      if (chunk.length) last = chunk[chunk.length - 1];
    }
  } catch {
    return 0;
  }
  return last === 0x0a ? n : n + 1;
}
