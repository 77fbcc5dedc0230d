import { parseArgs } from 'node:util';
import { doctorCommand } from './doctor';
import { lintCommand } from './lint';
import { reportCommand } from './report';
import { scoreCommand } from './score';
import { workerCommand } from './worker';

const USAGE = `cje — teacher-forced log-probs and importance-weight diagnostics for off-policy evaluation

Usage:
  cje score LOG [--config CONFIG] [--out FILE] [--policy NAME ...] [--json] [--dry-run]
      Score every response of a JSONL log under each policy of the config,
      appending to LOG.scores.jsonl (resumes where a previous run stopped).
  cje report INPUT [--log LOG] [--config CONFIG] [--identical TARGET=BEHAVIOR ...] [--out report.html] [--json report.json]
      Weight diagnostics and a self-contained HTML report from a scores file or a log with log-probs.
  cje worker --model DIR [--port N] [--device auto|cpu|cuda] [--dtype fp32|fp16|q8] [--max-batch-tokens N]
      Serve a local model folder (transformers.js/ONNX) on 127.0.0.1 with the completions echo protocol.
  cje doctor [CONFIG] [--json] [--policy NAME ...] [--quick]
      Probe each scoring endpoint of the config: echo, max_tokens, offsets, BOS, determinism (noise floor),
      batch and prefix-cache effects, template sanity; exit 1 when one cannot teacher-force.
  cje lint CONFIG [--json] [--fix]
      Check the config's templates, providers and policies (file:line:col: severity CODE message); exit 1 on errors.

Exit codes: 0 all done, 1 some lines or records failed (or cancelled), 2 bad usage or config.
`;

export class UsageError extends Error {}

export type Io = { out: NodeJS.WritableStream & { isTTY?: boolean }; err: NodeJS.WritableStream & { isTTY?: boolean } };

export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'score':
        return await scoreCommand(rest, io);
      case 'report':
        return await reportCommand(rest, io);
      case 'worker':
        return await workerCommand(rest, io);
      case 'lint':
        return await lintCommand(rest, io);
      case 'doctor':
        return await doctorCommand(rest, io);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out.write(USAGE);
        return cmd === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${cmd}"`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err.write(`cje: ${(e as Error).message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

export { parseArgs };
