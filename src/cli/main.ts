import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../core/package-root';
import { redact } from '../core/secrets';
import { commandHelp, runCommand, synopsis, UsageError, wrap, type Command, type Io } from './command';
import { closest } from './did-you-mean';
import { DOCTOR_COMMAND } from './doctor';
import { EXPORT_COMMAND } from './export';
import { LINT_COMMAND } from './lint';
import { REPORT_COMMAND } from './report';
import { SCORE_COMMAND } from './score';
import { WORKER_COMMAND } from './worker';

export { UsageError, type Io } from './command';

/** Every command, in the order the usage lists them. A new command is one entry here (the cast: each run() takes its own typed values). */
export const COMMANDS: readonly Command[] = [SCORE_COMMAND, REPORT_COMMAND, EXPORT_COMMAND, DOCTOR_COMMAND, LINT_COMMAND, WORKER_COMMAND] as unknown as Command[];

export function version(): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version;
}

/** The global usage, written from COMMANDS: every option of every command, what is optional in [ ]. */
export function usage(): string {
  let s = 'cje — teacher-forced log-probs and importance-weight diagnostics for off-policy evaluation\n\n';
  s += 'Usage (what is in [ ] is optional):\n';
  for (const c of COMMANDS) {
    s += `${synopsis(c, '  ')}\n`;
    for (const line of wrap(c.summary, 94)) s += `      ${line}\n`;
  }
  s += '  cje COMMAND --help\n      That command\'s usage, each option explained.\n';
  s += '  cje --version\n      The version of cje.\n';
  s += '\nExit codes: 0 all done, 1 some lines or records failed (or cancelled), 2 bad usage or config.\n';
  return s;
}

/** An error's message without the `cje:` / `cje worker:` it may already carry, so each line has one prefix. */
function bare(message: string): string {
  return message.replace(/^(?:cje(?: [a-z-]+)?: )+/, '');
}

export async function main(argv: string[], io: Io = { out: process.stdout, err: process.stderr }): Promise<number> {
  const [name, ...rest] = argv;
  const command = COMMANDS.find((c) => c.name === name);
  const prefix = command ? `cje ${command.name}` : 'cje';
  try {
    if (command) return await runCommand(command, rest, io);
    switch (name) {
      case undefined:
        io.err.write(usage());
        return 2;
      case '-h':
      case '--help':
        io.out.write(usage());
        return 0;
      case 'help': {
        if (rest[0] === undefined) {
          io.out.write(usage());
          return 0;
        }
        const c = COMMANDS.find((x) => x.name === rest[0]);
        if (!c) throw new UsageError(unknownCommand(rest[0]));
        io.out.write(commandHelp(c));
        return 0;
      }
      case '--version':
        io.out.write(`${version()}\n`);
        return 0;
    }
    if (name.startsWith('-')) {
      const guess = closest(name.replace(/^-+/, ''), ['help', 'version']);
      throw new UsageError(`unknown option ${name}${guess ? `; did you mean --${guess}?` : ''} (options go after the command: cje COMMAND --help lists them)`);
    }
    throw new UsageError(unknownCommand(name));
  } catch (e) {
    if (e instanceof UsageError) {
      io.err.write(`${prefix}: ${e.message}\n`);
      return 2;
    }
    // Anything else that stops a command (a worker that cannot start, a file that cannot be
    // written) is one line too; CJE_DEBUG=1 adds the stack for a bug report.
    const err = e as Error;
    // Keys looked up by the run are never printed, whatever a server put in its error.
    io.err.write(`${prefix}: ${redact(bare(err?.message ?? String(e)))}\n`);
    if (process.env.CJE_DEBUG && err?.stack) io.err.write(`${err.stack}\n`);
    return 2;
  }
}

function unknownCommand(name: string): string {
  const guess = closest(name, COMMANDS.map((c) => c.name));
  return `unknown command "${name}"; ${guess ? `did you mean ${guess}?` : `the commands are ${COMMANDS.map((c) => c.name).join(', ')}`} (cje --help lists them)`;
}
