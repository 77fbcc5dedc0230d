// CJE090: a path of the config's `fields` mapping that none of the first
// records of the log holds. The reader would then fail every record on that
// field (or, for an optional one such as judge_score, read none): said here,
// while the config is edited, with the paths the records do hold.
// The logs checked are LintOptions.logs, else the logs beside the config.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { FIELD_NAMES, missingMappedPaths, type FieldMap } from '../../field-map';
import { sampleLogRecords } from '../../log-sample';
import type { LintContext } from '../context';
import type { LintRule } from './rule';

const LOG_NAME = /\.(?:jsonl|jsonl\.gz|csv|csv\.gz)$/i;
const SAMPLE = 20;

/** The logs beside the config (scores files and reports aside), first 3 by name. */
function logsBeside(dir: string): string[] {
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => LOG_NAME.test(f) && !/\.scores\.jsonl$/i.test(f))
      .sort()
      .slice(0, 3)
      .map((f) => path.join(dir, f));
  } catch {
    return [];
  }
}

/** Dotted paths of a record's leaves and lists, for the message (at most `limit`). */
function pathsOf(v: unknown, limit = 12): string[] {
  const out: string[] = [];
  const walk = (x: unknown, p: string, depth: number) => {
    if (out.length >= limit) return;
    if (x !== null && typeof x === 'object' && !Array.isArray(x) && depth < 3) {
      for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], p ? `${p}.${k}` : k, depth + 1);
    } else if (p) out.push(p);
  };
  walk(v, '', 0);
  return out;
}

export const fieldsInLogRule: LintRule = {
  name: 'fields-in-log',
  codes: { CJE090: { severity: 'warning', summary: "a path of the `fields` mapping is in none of the log's first records" } },
  check(ctx: LintContext) {
    const fv = ctx.value.fields;
    if (!fv || typeof fv !== 'object' || Array.isArray(fv)) return;
    const fields: FieldMap = {};
    for (const name of FIELD_NAMES) {
      const p = (fv as Record<string, unknown>)[name];
      if (typeof p === 'string') fields[name] = p;
    }
    const logs = ctx.opts.logs ?? logsBeside(ctx.baseDir);
    for (const log of logs) {
      const records = sampleLogRecords(log, SAMPLE);
      for (const m of missingMappedPaths(fields, records)) {
        const has = pathsOf(records[0]);
        ctx.report({
          code: 'CJE090',
          severity: 'warning',
          message:
            `fields.${m.field}: "${m.path}" is in none of the first ${m.looked} record(s) of ${path.basename(log)}, so ${m.field} is read from its default path(s) instead, where a record has one` +
            (has.length ? ` (the first record holds ${has.join(', ')}${has.length >= 12 ? ', …' : ''})` : '') +
            '. Fix the path, or remove the entry to read the default.',
          path: ['fields', m.field],
        });
      }
    }
  },
};
