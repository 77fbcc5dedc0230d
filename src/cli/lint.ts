// cje lint CONFIG... [--json] [--fix]: the template lint engine on config files.
// Exit 1 when any error remains, 0 otherwise (warnings and infos included), 2 on bad usage.

import * as fs from 'node:fs';
import { fixAll, lintConfig } from '../core/lint';
import type { LintResult } from '../core/lint';
import { defineCommand, runCommand, type Io } from './command';

export const LINT_COMMAND = defineCommand({
  name: 'lint',
  summary: "Check the config's templates, providers and policies (file:line:col: severity CODE message); exit 1 on errors.",
  description: `Checks each config file: its schema, templates against the models' families, special tokens
against the families' tokenizers, providers that cannot teacher-force, local model folders, and
more (codes CJE001 and up). Prints file:line:col: severity CODE message per problem.
Exit 0: no errors (warnings and infos allowed); 1: errors; 2: bad usage or a file that cannot be read.`,
  positionals: { name: 'CONFIG', min: 1, max: Infinity, summary: 'a config file, e.g. cje.config.json' },
  options: {
    json: { type: 'boolean', summary: 'print the diagnostics as JSON' },
    fix: { type: 'boolean', summary: 'apply the first quick fix of each problem that has one, keeping comments' },
    'no-tokenizers': { type: 'boolean', summary: 'skip the checks that load tokenizers (faster)' },
    log: { type: 'string', multiple: true, value: 'LOG', summary: 'check the config\'s "fields" paths against the first records of this log (default: the logs beside the config)' },
  },
  run: async ({ values, positionals }, io) => {
    const opts = { tokenizers: !values['no-tokenizers'], ...(values.log ? { logs: values.log } : {}) };
    const results: (LintResult & { fixed?: string[] })[] = [];
    let unreadable = false;
    for (const file of positionals) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (e) {
        io.err.write(`cje lint: cannot read ${file}: ${(e as Error).message}\n`);
        unreadable = true;
        continue;
      }
      let fixed: string[] | undefined;
      if (values.fix) {
        const bom = text.startsWith('\uFEFF') ? '\uFEFF' : '';
        const r = fixAll(text.slice(bom.length), file, opts);
        fixed = r.applied;
        if (r.applied.length) {
          text = bom + r.text;
          fs.writeFileSync(file, text);
        }
      }
      results.push({ ...lintConfig(text, file, opts), ...(fixed ? { fixed } : {}) });
    }
    if (values.json) {
      io.out.write(JSON.stringify(positionals.length === 1 && results.length === 1 ? results[0] : results, null, 2) + '\n');
    } else {
      for (const r of results) {
        for (const f of r.fixed ?? []) io.out.write(`${r.file}: fixed ${f}\n`);
        for (const d of r.diagnostics) io.out.write(`${r.file}:${d.line}:${d.column}: ${d.severity} ${d.code} ${d.message}\n`);
      }
      const sum = (k: 'errors' | 'warnings' | 'infos') => results.reduce((s, r) => s + r[k], 0);
      if (io.err.isTTY || results.length > 1) io.err.write(`${sum('errors')} error(s), ${sum('warnings')} warning(s), ${sum('infos')} info(s)\n`);
    }
    if (unreadable) return 2;
    return results.some((r) => r.errors > 0) ? 1 : 0;
  },
});

/** `cje lint ARGS...` (main() dispatches here through COMMANDS). */
export function lintCommand(argv: string[], io: Io): Promise<number> {
  return runCommand(LINT_COMMAND, argv, io);
}
