// Which cje.config.json a log is scored with. Pure (no vscode): the extension
// passes paths and an `exists` check, and gets back a decision or the ordered
// candidates to offer in a quick pick.
import * as path from 'node:path';

// Which config a log uses is decided in the core, for the CLI as well.
export { CONFIG_FILE_NAME, discoverConfig, type ConfigDiscovery, type DiscoveryInput } from '../core/config-discovery';

/**
 * Candidates for the quick pick, best first: the remembered one, then by how
 * close each is to the log (fewest folders between them), then by path.
 * Duplicates are dropped.
 */
export function orderCandidates(candidates: string[], logFile: string, remembered?: string): string[] {
  const logDir = path.dirname(path.resolve(logFile));
  const distance = (f: string) => path.relative(logDir, path.dirname(path.resolve(f))).split(path.sep).filter(Boolean).length;
  const uniq = [...new Set(candidates.map((c) => path.resolve(c)))];
  uniq.sort((a, b) => {
    if (remembered && a === path.resolve(remembered)) return -1;
    if (remembered && b === path.resolve(remembered)) return 1;
    return distance(a) - distance(b) || a.localeCompare(b);
  });
  return uniq;
}

/** workspaceState key under which the config chosen for a log is remembered. */
export function rememberKey(logFile: string, workspaceFolder?: string): string {
  const rel = workspaceFolder ? path.relative(workspaceFolder, logFile) : logFile;
  return `cje.config.for:${rel.split(path.sep).join('/')}`;
}

/** What the diagnostics panel shows for a file: a scores file with its log, or a CJE-style log. */
export interface ReportInputs {
  input: string;
  log?: string;
}

export const SCORES_SUFFIX = '.scores.jsonl';

export function isScoresFile(file: string): boolean {
  return file.toLowerCase().endsWith(SCORES_SUFFIX);
}

/** The scores sidecar of a log (as src/core/score-store names it) or the log of a scores file. */
export function reportInputsFor(file: string, exists: (f: string) => boolean, scoresPathOf: (log: string) => string): ReportInputs {
  if (isScoresFile(file)) {
    const stem = file.slice(0, -SCORES_SUFFIX.length);
    const log = [stem + '.jsonl', stem + '.json'].find(exists);
    return log ? { input: file, log } : { input: file };
  }
  const scores = scoresPathOf(file);
  if (scores !== file && exists(scores)) return { input: scores, log: file };
  return { input: file };
}
