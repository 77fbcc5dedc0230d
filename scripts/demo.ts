// `npm run demo`: the main job on the bundled example, offline: lint the
// config, score the example log under every policy of
// examples/cje.config.json, and write the diagnostics report. The policies are
// "local" on the tiny Llama model in test/fixtures/tiny-llama: `cje score`
// starts a local worker (transformers.js on CPU) for that folder and stops it
// at the end. No network, no API key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../src/cli/main';
import { packageRoot } from '../src/core/package-root';

const CONFIG = 'examples/cje.config.json';
const LOG = 'examples/arena-mini.jsonl';

async function step(args: string[], okCodes: number[]): Promise<boolean> {
  console.log(`\n$ cje ${args.join(' ')}`);
  const code = await main(args);
  if (okCodes.includes(code)) return true;
  console.error(`demo: cje ${args[0]} exited ${code}`);
  return false;
}

async function demo(): Promise<number> {
  const root = packageRoot();
  process.chdir(root);
  const out = 'demo-output';
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  const scores = path.join(out, 'arena-mini.scores.jsonl');
  const report = path.join(out, 'report.html');
  if (!(await step(['lint', CONFIG], [0]))) return 2;
  // Exit code 1 is expected: the example has two bad lines on purpose.
  if (!(await step(['score', LOG, '--config', CONFIG, '--out', scores], [0, 1]))) return 2;
  // Exit code 1 is expected too: the log's own clone log-probs are not those of base on every record.
  if (!(await step(['report', scores, '--log', LOG, '--config', CONFIG, '--out', report, '--json', path.join(out, 'report.json')], [0, 1]))) return 2;
  console.log(`\ndemo done: scores in ${scores}; open ${report} in a browser`);
  return 0;
}

demo().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e);
    process.exit(2);
  },
);
