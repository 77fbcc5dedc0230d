// Checks and look-ups on the files a command is given, shared by cje score and
// cje report so that both find the same config for the same log.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE_NAME, discoverConfig } from '../core/config-discovery';
import { mergeFieldMaps, parseFieldFlags, type FieldMap } from '../core/field-map';
import { formatConfigProblem, loadConfig } from '../core/config';
import type { CjeConfig } from '../core/types';
import { UsageError, type Io } from './command';

/**
 * Throws a one-line UsageError unless `file` is a file this process can read:
 * done before anything starts (a worker) or is created (a scores file).
 */
export function assertReadableFile(file: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' || code === 'ENOTDIR' ? `${file}: no such file` : `${file}: cannot read it (${code ?? (e as Error).message})`);
  }
  if (st.isDirectory()) throw new UsageError(`${file}: is a folder, not a file`);
  try {
    fs.closeSync(fs.openSync(file, 'r'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: cannot read it (${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? (e as Error).message)})`);
  }
}

export type FoundConfig = { file: string; how: string };

/**
 * The config to use when none is named: as the extension finds it (beside the
 * log, then in folders above it up to the working folder), else the working folder's.
 */
export function findConfig(log: string): FoundConfig | undefined {
  const found = discoverConfig({ logFile: log, workspaceFolder: process.cwd(), exists: fs.existsSync });
  if (found.kind === 'found') return { file: found.file, how: found.reason === 'beside-log' ? 'beside the log' : 'in a folder above the log' };
  const here = path.join(process.cwd(), CONFIG_FILE_NAME);
  return fs.existsSync(here) ? { file: here, how: 'in the working folder' } : undefined;
}

export const SCORES_SUFFIX = '.scores.jsonl';

/** The log a scores file was written for (`X.scores.jsonl` → `X.jsonl`, `X.json`, `X.jsonl.gz`, `X.csv` or `X.csv.gz`), when it exists. */
export function logOfScores(scores: string): string | undefined {
  if (!scores.toLowerCase().endsWith(SCORES_SUFFIX)) return undefined;
  const stem = scores.slice(0, -SCORES_SUFFIX.length);
  return [stem + '.jsonl', stem + '.json', stem + '.jsonl.gz', stem + '.csv', stem + '.csv.gz'].find((f) => fs.existsSync(f) && fs.statSync(f).isFile());
}

/** `--field NAME=PATH` values as a mapping; a bad one is a usage error. */
export function fieldFlags(values: string[] | undefined): FieldMap | undefined {
  try {
    return mergeFieldMaps(parseFieldFlags(values));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** The config with the command line's --field values over its `fields`. */
export function withFieldFlags(config: CjeConfig, values: string[] | undefined): CjeConfig {
  const flags = fieldFlags(values);
  if (!flags) return config;
  return { ...config, fields: mergeFieldMaps(config.fields, flags) };
}

/**
 * The config of a run on `log`: --config, else the one found beside or above the
 * log. Its problems are printed, each with its place; undefined then (exit 2).
 */
export function configForLog(log: string, flag: string | undefined, io: Io): { file: string; config: CjeConfig } | undefined {
  const file = flag ?? findConfig(log)?.file;
  if (!file) throw new UsageError('no --config given and no cje.config.json beside the log, in a folder above it or in the working folder');
  const loaded = loadConfig(file);
  if (!loaded.config) {
    for (const p of loaded.problems) io.err.write(formatConfigProblem(file, p) + '\n');
    return undefined;
  }
  return { file, config: loaded.config };
}
