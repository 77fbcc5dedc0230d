// Which cje.config.json a log is scored with, for the CLI and the extension.
// Pure: the caller passes paths and an `exists` check.
import * as path from 'node:path';

export const CONFIG_FILE_NAME = 'cje.config.json';

export type ConfigDiscovery =
  | { kind: 'found'; file: string; reason: 'beside-log' | 'folder-above-log' | 'workspace-folder' | 'remembered' }
  | { kind: 'ask' };

export interface DiscoveryInput {
  /** Absolute path of the log to score. */
  logFile: string;
  /** Absolute path of the workspace folder holding the log, if any. */
  workspaceFolder?: string;
  /** The config the user picked for this log before (workspaceState). */
  remembered?: string;
  exists: (file: string) => boolean;
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * cje.config.json beside the log, then in each folder above it up to the
 * workspace folder, then the one remembered for this log; else ask.
 * A remembered file that is gone is ignored.
 */
export function discoverConfig(inp: DiscoveryInput): ConfigDiscovery {
  const logDir = path.dirname(path.resolve(inp.logFile));
  const beside = path.join(logDir, CONFIG_FILE_NAME);
  if (inp.exists(beside)) return { kind: 'found', file: beside, reason: 'beside-log' };
  const top = inp.workspaceFolder && isInside(logDir, path.resolve(inp.workspaceFolder)) ? path.resolve(inp.workspaceFolder) : undefined;
  if (top) {
    for (let dir = path.dirname(logDir); isInside(dir, top); dir = path.dirname(dir)) {
      const f = path.join(dir, CONFIG_FILE_NAME);
      if (inp.exists(f)) return { kind: 'found', file: f, reason: dir === top ? 'workspace-folder' : 'folder-above-log' };
      if (dir === top || path.dirname(dir) === dir) break;
    }
  }
  if (inp.remembered && inp.exists(inp.remembered)) return { kind: 'found', file: inp.remembered, reason: 'remembered' };
  return { kind: 'ask' };
}

