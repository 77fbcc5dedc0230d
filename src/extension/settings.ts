// The extension's settings (contributes.configuration, prefix `cje.`) and how
// they apply to a config. Pure: no vscode.
import type { CjeConfig } from '../core/types';

export interface CjeSettings {
  /** Glob of config files that get lint diagnostics, hovers and completions. */
  configGlob: string;
  /** Model folder for the local worker (provider "local"). */
  localWorkerModelPath: string;
  /** Requests in flight per policy when the config does not say. */
  concurrency: number;
  /** |log w| above which a policy with an identical fingerprint is flagged. */
  identicalTolerance: number;
  /** Whether the end-of-turn token is scored when the config does not say. */
  scoreEndOfTurn: boolean;
}

export const DEFAULT_SETTINGS: CjeSettings = {
  configGlob: '**/cje.config.json',
  localWorkerModelPath: '',
  concurrency: 4,
  identicalTolerance: 1e-6,
  scoreEndOfTurn: true,
};

/** Reads settings through a getter (vscode's WorkspaceConfiguration.get), falling back to defaults on missing or wrong types. */
export function readSettings(get: (key: string) => unknown): CjeSettings {
  const num = (k: keyof CjeSettings, min: number) => {
    const v = get(k);
    return typeof v === 'number' && Number.isFinite(v) && v >= min ? v : (DEFAULT_SETTINGS[k] as number);
  };
  const str = (k: keyof CjeSettings) => {
    const v = get(k);
    return typeof v === 'string' && v.trim() ? v : (DEFAULT_SETTINGS[k] as string);
  };
  const eot = get('scoreEndOfTurn');
  return {
    configGlob: str('configGlob'),
    localWorkerModelPath: typeof get('localWorkerModelPath') === 'string' ? (get('localWorkerModelPath') as string) : '',
    concurrency: Math.floor(num('concurrency', 1)),
    identicalTolerance: num('identicalTolerance', 0),
    scoreEndOfTurn: typeof eot === 'boolean' ? eot : DEFAULT_SETTINGS.scoreEndOfTurn,
  };
}

/**
 * The config with the settings filled in where a policy leaves them open
 * (concurrency, scoreEndOfTurn). What the config file says always wins. A
 * copy: the parsed config is not changed.
 */
export function applySettings(config: CjeConfig, s: Pick<CjeSettings, 'concurrency' | 'scoreEndOfTurn'>): CjeConfig {
  const policies: CjeConfig['policies'] = {};
  for (const [name, p] of Object.entries(config.policies)) {
    policies[name] = {
      ...p,
      ...(p.concurrency === undefined ? { concurrency: s.concurrency } : {}),
      ...(p.scoreEndOfTurn === undefined ? { scoreEndOfTurn: s.scoreEndOfTurn } : {}),
    };
  }
  return { ...config, policies };
}
