import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { CONFIG_FILE_NAME } from '../core/config-discovery';
import { formatConfigProblem, loadConfig } from '../core/config';
import { runDoctor } from '../doctor';
import { formatDoctor } from '../doctor/format';
import { workers } from '../worker/manager';
import type { Io } from './main';
import { UsageError } from './main';

/** `cje doctor [CONFIG]`: asks each scoring endpoint what it really does. Exit 1 when one cannot teacher-force. */
export async function doctorCommand(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, policy: { type: 'string', short: 'p', multiple: true }, quick: { type: 'boolean' } },
  });
  if (positionals.length > 1) throw new UsageError('doctor takes at most one CONFIG file');
  const configFile = positionals[0] ?? path.join(process.cwd(), CONFIG_FILE_NAME);
  if (!fs.existsSync(configFile)) throw new UsageError(`no config: ${configFile} does not exist`);
  const loaded = loadConfig(configFile);
  if (!loaded.config) {
    for (const p of loaded.problems) io.err.write(formatConfigProblem(configFile, p) + '\n');
    return 2;
  }
  const baseDir = path.dirname(path.resolve(configFile));
  try {
    const report = await runDoctor(loaded.config, {
      policies: values.policy,
      full: !values.quick,
      localBaseURL: async (policy) => (await workers.get({ model: path.resolve(baseDir, policy.model) })).baseURL,
      onEndpoint: (e) => {
        if (!values.json) io.err.write(`cje: probing ${e.baseURL} (${e.model}) for ${e.policies.join(', ')}\n`);
      },
    });
    io.out.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctor(report.endpoints));
    return report.endpoints.some((e) => e.blockers.length) ? 1 : 0;
  } finally {
    await workers.stopAll();
  }
}
