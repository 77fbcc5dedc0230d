// `npm run demo`: the main job on the bundled example, offline. Starts the
// loopback toy completions server (the stand-in for Fireworks/vLLM that the
// example config points at), scores the example log under every policy, and
// stops the server. No network, no API key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { main } from '../src/cli/main';
import { packageRoot } from '../src/core/package-root';

const PORT = 18437;

async function demo(): Promise<number> {
  const root = packageRoot();
  process.chdir(root);
  const outDir = path.join(root, 'demo-output');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  // Its own process, as a real server would be: client and server each get a core.
  const server = spawn(process.execPath, [path.join(root, 'out/test/support/completions-server.js'), '--port', String(PORT)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await listening(server);
  if (!url) {
    console.error(`demo: the toy server could not listen on 127.0.0.1:${PORT}; is another demo running?`);
    return 2;
  }
  console.log(`toy completions server on ${url}\n`);
  try {
    const log = 'examples/arena-mini.jsonl';
    const scores = path.join('demo-output', 'arena-mini.scores.jsonl');
    console.log(`$ cje score ${log} --config examples/cje.config.json --out ${scores}`);
    const code = await main(['score', log, '--config', 'examples/cje.config.json', '--out', scores]);
    // Exit code 1 is expected here: the example has two bad lines on purpose.
    if (code > 1) return code;
    console.log(`\ndemo done: scores in ${scores}`);
    return 0;
  } finally {
    server.kill('SIGTERM');
  }
}

function listening(child: ChildProcess): Promise<string | undefined> {
  return new Promise((resolve) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /listening (\S+)/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.on('exit', () => resolve(undefined));
  });
}

demo().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
