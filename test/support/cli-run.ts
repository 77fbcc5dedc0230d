// Runs the cje command line in this process, as the tests drive it: what it
// writes to stdout and stderr is collected in memory.
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main';

/** A stream that keeps what is written to it. */
export class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void) {
    this.text += chunk.toString();
    cb();
  }
}

/** `cje ARGV…`: its exit code and what it printed. */
export async function cje(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = new Sink();
  const err = new Sink();
  const code = await main(argv, { out, err });
  return { code, out: out.text, err: err.text };
}
