// CJE080: a "local" policy without baseURL names a model folder for which
// cje score (and the extension) start a worker; a folder that is missing, is a
// file, or lacks what the worker loads makes every record of the run fail, so
// lint says so first. The folder is resolved as the worker manager resolves it
// (src/worker/manager.ts: against the config's folder, or the extension's
// cje.localWorkerModelPath, passed in as LintOptions.baseDir), and the files
// are those the worker checks at startup (src/worker/model.ts checkModelFolder)
// for the fp32 model that cje score starts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LintContext } from '../context';
import type { LintRule } from './rule';

const NEEDED = ['config.json', 'tokenizer.json', 'tokenizer_config.json', path.join('onnx', 'model.onnx')];

export const localModelFolderRule: LintRule = {
  name: 'local-model-folder',
  codes: { CJE080: { severity: 'error', summary: 'a "local" policy\'s model folder does not exist, is not a folder, or lacks the files the worker loads' } },
  check(ctx: LintContext) {
    for (const { name, policy, path: at } of ctx.policies) {
      if (policy.provider !== 'local' || policy.baseURL !== undefined || typeof policy.model !== 'string' || !policy.model) continue;
      const dir = path.resolve(ctx.baseDir, policy.model);
      const where = `model folder ${JSON.stringify(policy.model)} (${dir})`;
      let problem: string | undefined;
      if (!fs.existsSync(dir)) problem = 'does not exist';
      else if (!fs.statSync(dir).isDirectory()) problem = 'is a file, not a folder';
      else {
        const missing = NEEDED.filter((f) => !fs.existsSync(path.join(dir, f)));
        if (missing.length) problem = `lacks ${missing.join(', ')}`;
      }
      if (!problem) continue;
      ctx.report({
        code: 'CJE080',
        severity: 'error',
        message:
          `policy "${name}": ${where} ${problem}, so its local worker cannot start and scoring fails. ` +
          `Give the folder of an exported model (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx), relative to ${ctx.baseDir}, ` +
          `or the "baseURL" of a worker that is already running.`,
        path: [...at, 'model'],
      });
    }
  },
};
