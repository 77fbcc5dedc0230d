import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE_NAME } from '../core/config-discovery';
import { formatConfigProblem, loadConfig } from '../core/config';
import { runDoctor } from '../doctor';
import { formatDoctor } from '../doctor/format';
import { workers } from '../worker/manager';
import { defineCommand, UsageError } from './command';

/** `cje doctor [CONFIG]`: asks each scoring endpoint what it really does. Exit 1 when one cannot teacher-force. */
export const DOCTOR_COMMAND = defineCommand({
  name: 'doctor',
  summary: 'Probe each scoring endpoint of the config (echo, max_tokens, offsets, BOS, determinism and noise floor, batch and prefix-cache effects, template sanity); exit 1 when one cannot teacher-force.',
  description: `Sends a few small requests to each distinct (provider, base URL, model) of the config and prints,
per probe, a verdict and its evidence; "?" (null in --json) means the probe could not tell, and the
reason is beside it. Local policies with a model folder get a worker for the check.
Exit 0: every endpoint can teacher-force; 1: at least one has a blocker; 2: bad usage or config.`,
  positionals: { name: 'CONFIG', min: 0, max: 1, summary: 'the policy config (default: cje.config.json in the working folder)' },
  options: {
    json: { type: 'boolean', summary: 'print {"endpoints": [...]} as JSON' },
    policy: { type: 'string', short: 'p', multiple: true, value: 'NAME', summary: "only these policies' endpoints" },
    quick: { type: 'boolean', summary: 'only the cheap probes cje score runs before scoring' },
  },
  run: async ({ values, positionals }, io) => {
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
          if (!values.json) io.err.write(`cje doctor: probing ${e.baseURL} (${e.model}) for ${e.policies.join(', ')}\n`);
        },
      });
      io.out.write(values.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctor(report.endpoints));
      return report.endpoints.some((e) => e.blockers.length) ? 1 : 0;
    } finally {
      await workers.stopAll();
    }
  },
});
