import { rememberSecret } from './secrets';
import type { PolicyConfig } from './types';

export const FIREWORKS_BASE_URL = 'https://api.fireworks.ai/inference/v1';
export const FIREWORKS_KEY_ENV = 'FIREWORKS_API_KEY';

export interface Endpoint {
  /** The first replica: the one that names the endpoint in messages, profiles and the fingerprint. */
  baseURL: string;
  /** Every replica, the first included (one entry for a plain baseURL). */
  baseURLs: string[];
  apiKey?: string;
  /** Where the key came from, for messages (never the key). */
  keySource?: string;
}

/** A policy's replicas: a baseURL list as given, a single baseURL as a list of one, none as []. */
export function baseURLsOf(policy: Pick<PolicyConfig, 'baseURL'>): string[] {
  const b = policy.baseURL;
  return b === undefined ? [] : Array.isArray(b) ? [...b] : [b];
}

/**
 * The URL that stands for a policy's endpoint: the first of a baseURL list. It,
 * not the list, goes into the fingerprint, the endpoint's key and messages, so
 * that adding or removing a replica after it (a second vLLM server halfway
 * through a run) keeps the scores already written reusable: replicas serve the
 * same model, so which one answered must not change a score's identity.
 */
export function primaryBaseURL(policy: Pick<PolicyConfig, 'baseURL'>): string | undefined {
  return baseURLsOf(policy)[0];
}

/** Looks a secret up by name: the environment in the CLI, SecretStorage first in the editor. */
export type SecretLookup = (name: string) => string | undefined | Promise<string | undefined>;

export const envSecrets: SecretLookup = (name) => process.env[name] || undefined;

/** Whether `url` is Fireworks' own API over https, the one place FIREWORKS_API_KEY goes without being named. */
export function isFireworksHost(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && (u.hostname === 'fireworks.ai' || u.hostname.endsWith('.fireworks.ai'));
  } catch {
    return false;
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}

/**
 * Why a policy's key must not be sent where the policy points, or undefined when it may.
 * A config file is not trusted with a key (it may come with a cloned repository): a provider's
 * key goes only to that provider's own host unless the policy names the key itself
 * (`apiKeyEnv`), and no key travels over plain http except to this machine (loopback).
 * Pure: lint shows the same reason before any run.
 */
export function keyTrustProblem(policy: Pick<PolicyConfig, 'provider' | 'baseURL' | 'apiKeyEnv'>): { code: 'foreign-host' | 'plain-http'; message: string; index?: number } | undefined {
  // The key goes to every replica: each one must be trusted with it.
  if (Array.isArray(policy.baseURL)) {
    for (const [index, baseURL] of policy.baseURL.entries()) {
      const p = keyTrustProblem({ ...policy, baseURL });
      if (p) return { ...p, index };
    }
    return undefined;
  }
  const keyed = policy.provider === 'fireworks' || typeof policy.apiKeyEnv === 'string';
  if (!keyed) return undefined;
  const url = policy.provider === 'fireworks' ? (policy.baseURL ?? FIREWORKS_BASE_URL) : policy.baseURL;
  if (typeof url !== 'string') return undefined;
  const env = policy.apiKeyEnv ?? FIREWORKS_KEY_ENV;
  if (policy.provider === 'fireworks' && policy.apiKeyEnv === undefined && !isFireworksHost(url)) {
    return {
      code: 'foreign-host',
      message:
        `baseURL points at ${hostOf(url)}, which is not Fireworks' own API (https://api.fireworks.ai), so the Fireworks key (${FIREWORKS_KEY_ENV} or the key stored in VS Code) is not sent there: ` +
        `a config file does not decide where a key goes. If you mean to send it to this host, name the key in the policy ("apiKeyEnv": "${FIREWORKS_KEY_ENV}" or another variable); ` +
        `for a server that needs no key use "provider": "openai-compatible".`,
    };
  }
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol === 'http:' && !isLoopbackURL(url)) {
    return {
      code: 'plain-http',
      message:
        `baseURL ${u.protocol}//${u.host} is plain http and the request carries the key in ${env}: anyone on the way could read it. ` +
        `Use https (plain http is allowed only for this machine: localhost, 127.0.0.1, ::1).`,
    };
  }
  return undefined;
}

/** Where a policy is scored and with which key; throws an Error that says what to set. */
export async function resolveEndpoint(policy: PolicyConfig, secrets: SecretLookup = envSecrets): Promise<Endpoint> {
  // Checked before the key is looked up, so that a refused endpoint never holds one.
  const trust = keyTrustProblem(policy);
  if (trust) throw new Error(`policy with provider ${policy.provider}: ${trust.message}`);
  switch (policy.provider) {
    case 'fireworks': {
      const env = policy.apiKeyEnv ?? FIREWORKS_KEY_ENV;
      const apiKey = await secrets(env);
      rememberSecret(apiKey);
      if (!apiKey) throw new Error(`provider fireworks needs an API key: set ${env} (or run "CJE: Set Fireworks API Key" in VS Code)`);
      const urls = baseURLsOf(policy).length ? baseURLsOf(policy) : [FIREWORKS_BASE_URL];
      return { baseURL: urls[0], baseURLs: urls, apiKey, keySource: env };
    }
    case 'openai-compatible':
    case 'tgi':
    case 'local': {
      const urls = baseURLsOf(policy);
      if (!urls.length) throw new Error(`provider ${policy.provider} needs baseURL`);
      if (!policy.apiKeyEnv) return { baseURL: urls[0], baseURLs: urls };
      const apiKey = await secrets(policy.apiKeyEnv);
      rememberSecret(apiKey);
      if (!apiKey) throw new Error(`policy names apiKeyEnv ${policy.apiKeyEnv}, which is not set`);
      return { baseURL: urls[0], baseURLs: urls, apiKey, keySource: policy.apiKeyEnv };
    }
    default:
      throw new Error(`unknown provider ${JSON.stringify((policy as { provider: unknown }).provider)}`);
  }
}

/** Hosts a log may be sent to: used to refuse anything but loopback where that is required. */
export function isLoopbackURL(url: string): boolean {
  try {
    const h = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
  } catch {
    return false;
  }
}
