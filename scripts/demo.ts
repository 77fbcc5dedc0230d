// `npm run demo`: the main job on the bundled example, offline. Scores the
// example log under every policy of examples/cje.config.json, whose policies
// are "local" on the tiny Llama model in test/fixtures/tiny-llama: `cje score`
// starts a local worker (transformers.js on CPU) for that folder and stops it
// at the end. No network, no API key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../src/cli/main';
import { packageRoot } from '../src/core/package-root';

async function demo(): Promise<number> {
  const root = packageRoot();
  process.chdir(root);
  const outDir = path.join(root, 'demo-output');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  const log = 'examples/arena-mini.jsonl';
  const scores = path.join('demo-output', 'arena-mini.scores.jsonl');
  console.log(`$ cje score ${log} --config examples/cje.config.json --out ${scores}`);
  const code = await main(['score', log, '--config', 'examples/cje.config.json', '--out', scores]);
  // Exit code 1 is expected here: the example has two bad lines on purpose.
  if (code > 1) return code;
  console.log(`\ndemo done: scores in ${scores}`);
  return 0;
}

demo().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
