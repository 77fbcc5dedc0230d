// Loopback load servers (test/support/load-server.ts) in processes of their
// own, for the scale-out benchmarks: the client's CPU is then the client's alone.
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { LoadServerCounters } from '../test/support/load-server';

export interface ServerProcess {
  url: string;
  /** Stops the server and returns its counters (busy time, CPU, 429s). */
  stop(): Promise<LoadServerCounters & { cpuMs: number }>;
}

export async function startServerProcess(args: Record<string, string | number>): Promise<ServerProcess> {
  const argv = Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, '../test/support/load-server.js'), ...argv], { stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => (buf += d));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /listening (\S+)\n/.exec(buf);
      if (m) resolve(m[1]);
    };
    child.stdout!.on('data', check);
    child.once('exit', () => reject(new Error('load server exited before listening')));
  });
  return {
    url,
    stop: () =>
      new Promise((resolve, reject) => {
        child.once('exit', () => {
          const line = buf.split('\n').find((l) => l.startsWith('{'));
          if (line) resolve(JSON.parse(line));
          else reject(new Error('load server gave no counters'));
        });
        child.stdin!.end();
      }),
  };
}

export const fmt = (x: number, d = 1) => x.toFixed(d);
