import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import { findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { dottedPath, duplicateKeys, lineCol, nodeValue } from './json-text';
import { packageRoot } from './package-root';
import type { CjeConfig, PolicyConfig } from './types';
import { DEFAULT_TOKEN_DETAIL, type TokenDetail } from './score-line-form';

export interface ConfigProblem {
  /** Dotted path of the field, e.g. policies.premium.template ('' for the whole file). */
  path: string;
  message: string;
  /** 1-based line and column of the offending value, when known. */
  line?: number;
  column?: number;
  /** Character offset and length in the file, for editors. */
  offset?: number;
  length?: number;
  /** Set for a key written twice in one object (lint gives it its own code). */
  kind?: 'duplicate-key';
}

export interface LoadedConfig {
  file: string;
  config: CjeConfig | null;
  problems: ConfigProblem[];
}

/** Providers that only offer a chat API: they cannot return log-probs of a given response. */
export const CHAT_ONLY_PROVIDERS: Readonly<Record<string, string>> = {
  openai: 'OpenAI',
  'openai-chat': 'OpenAI chat completions',
  'azure-openai': 'Azure OpenAI',
  anthropic: 'Anthropic',
  google: 'Google Gemini',
  gemini: 'Google Gemini',
  vertex: 'Google Vertex AI',
  bedrock: 'AWS Bedrock',
  cohere: 'Cohere',
};

export function chatOnlyProviderMessage(provider: string): string {
  const name = CHAT_ONLY_PROVIDERS[provider] ?? provider;
  return (
    `${name} is a chat API: it returns log-probs only for tokens it generates and applies its own formatting, ` +
    `so it cannot teacher-force a logged response (no echo of prompt log-probs). ` +
    `Score through a completions endpoint with echo instead: "fireworks", "openai-compatible" (e.g. vLLM: vllm serve MODEL) or "local".`
  );
}

export const SCHEMA_FILE = 'schemas/cje.config.schema.json';

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(value: unknown): ErrorObject[] {
  if (!validator) {
    const schema = JSON.parse(fs.readFileSync(path.join(packageRoot(), SCHEMA_FILE), 'utf8'));
    validator = new Ajv({ allErrors: true, strict: false }).compile(schema);
  }
  return validator(value) ? [] : [...(validator.errors ?? [])];
}

/** A JSON pointer as a path; a digit segment is an index only where `value` holds an array (a policy may be named "1"). */
function pointerToPath(pointer: string, value: unknown): (string | number)[] {
  if (!pointer) return [];
  let cur = value;
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => {
      const seg = Array.isArray(cur) && /^\d+$/.test(s) ? Number(s) : s;
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[seg] : undefined;
      return seg;
    });
}



/** Places a problem on the value at `p`, or on the nearest ancestor that exists. */
function locate(text: string, root: Node | undefined, p: (string | number)[], onKey = false): Partial<ConfigProblem> {
  if (!root) return {};
  for (let k = p.length; k >= 0; k--) {
    const node = findNodeAtLocation(root, p.slice(0, k));
    if (!node) continue;
    const target = onKey && k === p.length && node.parent?.type === 'property' ? node.parent.children![0] : node;
    return { offset: target.offset, length: target.length, ...lineCol(text, target.offset) };
  }
  return {};
}

function ajvMessage(e: ErrorObject, value: unknown): { path: (string | number)[]; message: string; onKey?: boolean } {
  const p = pointerToPath(e.instancePath, value);
  switch (e.keyword) {
    case 'required':
      return { path: p, message: `is missing the required field "${(e.params as { missingProperty: string }).missingProperty}"` };
    case 'additionalProperties': {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      return { path: [...p, extra], message: 'is not a known field', onKey: true };
    }
    case 'enum':
      return { path: p, message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
    default:
      return { path: p, message: e.message ?? 'is invalid' };
  }
}

/** Parses and validates config text; never throws on bad input, returns problems instead. */
export function parseConfig(text: string, file = 'cje.config.json'): LoadedConfig {
  const parseErrors: ParseError[] = [];
  const root = parseTree(text, parseErrors, { allowTrailingComma: true, disallowComments: false });
  const problems: ConfigProblem[] = parseErrors.map((e) => ({
    path: '',
    message: `JSON syntax: ${printParseErrorCode(e.error)}`,
    offset: e.offset,
    length: e.length,
    ...lineCol(text, e.offset),
  }));
  if (!root || problems.length) {
    if (!root && !problems.length) problems.push({ path: '', message: 'the file is empty' });
    return { file, config: null, problems };
  }
  // A key written twice is refused, not resolved: JSON readers disagree on which one counts (JSON.parse
  // and jsonc-parser keep the last, others the first), so the file does not say which policy is meant,
  // and a second "baseURL" or "policies" entry further down is easy to miss in review.
  for (const d of duplicateKeys(root)) {
    const key = d.again.children![0];
    problems.push({
      path: dottedPath(d.path),
      message: `is written twice in the same object (lines ${lineCol(text, d.first.offset).line} and ${lineCol(text, key.offset).line}): keep one; JSON readers disagree on which one counts, so cje uses neither`,
      offset: key.offset,
      length: key.length,
      kind: 'duplicate-key',
      ...lineCol(text, key.offset),
    });
  }
  if (problems.length) return { file, config: null, problems };
  const value = nodeValue(root);
  const add = (p: (string | number)[], message: string, onKey = false) =>
    problems.push({ path: dottedPath(p), message, ...locate(text, root, p, onKey) });

  // Checked before the schema, whose enum error would not say why or what to use instead.
  const policies = (value as { policies?: unknown })?.policies;
  if (policies && typeof policies === 'object') {
    for (const [name, pol] of Object.entries(policies as Record<string, unknown>)) {
      const prov = (pol as { provider?: unknown })?.provider;
      if (typeof prov === 'string' && Object.hasOwn(CHAT_ONLY_PROVIDERS, prov)) add(['policies', name, 'provider'], chatOnlyProviderMessage(prov));
    }
  }
  // baseURL is a string or a list: the schema's anyOf would say "must match a schema in anyOf" three times.
  const baseURLPaths: string[] = [];
  if (policies && typeof policies === 'object') {
    for (const [name, pol] of Object.entries(policies as Record<string, unknown>)) {
      if (!pol || typeof pol !== 'object' || !Object.hasOwn(pol, 'baseURL')) continue;
      const at = ['policies', name, 'baseURL'];
      baseURLPaths.push(dottedPath(at));
      for (const p of baseURLProblems((pol as { baseURL: unknown }).baseURL)) add([...at, ...p.at], p.message);
    }
  }
  const chatOnlyPaths = new Set(problems.map((p) => p.path));
  for (const e of validate(value)) {
    const m = ajvMessage(e, value);
    if (chatOnlyPaths.has(dottedPath(m.path))) continue;
    const dotted = dottedPath(m.path);
    if (baseURLPaths.some((b) => dotted === b || dotted.startsWith(b + '.') || dotted.startsWith(b + '['))) continue;
    add(m.path, m.message, m.onKey);
  }
  if (problems.length) return { file, config: null, problems };

  const config = value as CjeConfig;
  if (!Object.hasOwn(config.policies, config.behavior)) {
    add(['behavior'], `names "${config.behavior}", which is not among the policies (${Object.keys(config.policies).join(', ')})`);
  }
  for (const [name, pol] of Object.entries(config.policies)) {
    // A "local" policy either names a running worker (baseURL) or a model folder in `model`, for which a worker is started.
    if (pol.provider === 'openai-compatible' && !pol.baseURL) {
      add(['policies', name], 'provider "openai-compatible" needs baseURL, e.g. "http://127.0.0.1:8000/v1" for vLLM');
    }
    if (pol.provider === 'tgi' && !pol.baseURL) add(['policies', name], 'provider "tgi" needs baseURL, the server\'s root, e.g. "http://127.0.0.1:8080"');
  }
  return { file, config: problems.length ? null : config, problems };
}


/** What is wrong with a policy's baseURL value (a URL, or a non-empty list of distinct URLs), by position in it. */
export function baseURLProblems(v: unknown): { at: number[]; message: string }[] {
  const url = /^https?:\/\//;
  if (typeof v === 'string') return url.test(v) ? [] : [{ at: [], message: `must start with http:// or https:// (e.g. "http://127.0.0.1:8000/v1"), got ${JSON.stringify(v.slice(0, 80))}` }];
  if (!Array.isArray(v)) return [{ at: [], message: 'must be a URL (a string) or a non-empty list of URLs of replicas serving the same model' }];
  if (v.length === 0) return [{ at: [], message: 'is an empty list: give at least one URL (or a string)' }];
  if (v.length > 256) return [{ at: [], message: `lists ${v.length} replicas; at most 256` }];
  const out: { at: number[]; message: string }[] = [];
  const seen = new Map<string, number>();
  v.forEach((u, i) => {
    if (typeof u !== 'string') out.push({ at: [i], message: `must be a URL string, got ${u === null ? 'null' : typeof u}` });
    else if (!url.test(u)) out.push({ at: [i], message: `must start with http:// or https://, got ${JSON.stringify(u.slice(0, 80))}` });
    else if (seen.has(u.replace(/\/+$/, ''))) out.push({ at: [i], message: `repeats entry ${seen.get(u.replace(/\/+$/, ''))} (${u}): list each replica once` });
    else seen.set(u.replace(/\/+$/, ''), i);
  });
  return out;
}

export function loadConfig(file: string): LoadedConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { file, config: null, problems: [{ path: '', message: `cannot read the config: ${(e as Error).message}` }] };
  }
  return parseConfig(text.replace(/^\uFEFF/, ''), file);
}

export function formatConfigProblem(file: string, p: ConfigProblem): string {
  const where = p.line ? `${file}:${p.line}:${p.column}` : file;
  return p.path ? `${where}: ${p.path} ${p.message}` : `${where}: ${p.message}`;
}

/** The run's token detail mode (config `tokens`, default "flagged": see score-line-form.ts for why). */
export function tokenDetailOf(config: Pick<CjeConfig, 'tokens'>): TokenDetail {
  return config.tokens ?? DEFAULT_TOKEN_DETAIL;
}

/** Effective per-policy settings with the defaults filled in. */
export function policyDefaults(p: PolicyConfig): Required<Pick<PolicyConfig, 'concurrency' | 'batchSize' | 'scoreEndOfTurn' | 'maxRetries' | 'timeoutMs'>> {
  return {
    concurrency: p.concurrency ?? 4,
    batchSize: p.batchSize ?? 8,
    scoreEndOfTurn: p.scoreEndOfTurn ?? true,
    maxRetries: p.maxRetries ?? 5,
    timeoutMs: p.timeoutMs ?? 60000,
  };
}
