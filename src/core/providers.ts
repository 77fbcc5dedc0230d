import { rememberSecret } from './secrets';
import type { PolicyConfig } from './types';

export const FIREWORKS_BASE_URL = 'https://api.fireworks.ai/inference/v1';
export const FIREWORKS_KEY_ENV = 'FIREWORKS_API_KEY';

export interface Endpoint {
  baseURL: string;
  apiKey?: string;
  /** Where the key came from, for messages (never the key). */
  keySource?: string;
}

/** Looks a secret up by name: the environment in the CLI, SecretStorage first in the editor. */
export type SecretLookup = (name: string) => string | undefined | Promise<string | undefined>;

export const envSecrets: SecretLookup = (name) => process.env[name] || undefined;

/** Where a policy is scored and with which key; throws an Error that says what to set. */
export async function resolveEndpoint(policy: PolicyConfig, secrets: SecretLookup = envSecrets): Promise<Endpoint> {
  switch (policy.provider) {
    case 'fireworks': {
      const env = policy.apiKeyEnv ?? FIREWORKS_KEY_ENV;
      const apiKey = await secrets(env);
      rememberSecret(apiKey);
      if (!apiKey) throw new Error(`provider fireworks needs an API key: set ${env} (or run "CJE: Set Fireworks API Key" in VS Code)`);
      return { baseURL: policy.baseURL ?? FIREWORKS_BASE_URL, apiKey, keySource: env };
    }
    case 'openai-compatible':
    case 'tgi':
    case 'local': {
      if (!policy.baseURL) throw new Error(`provider ${policy.provider} needs baseURL`);
      if (!policy.apiKeyEnv) return { baseURL: policy.baseURL };
      const apiKey = await secrets(policy.apiKeyEnv);
      rememberSecret(apiKey);
      if (!apiKey) throw new Error(`policy names apiKeyEnv ${policy.apiKeyEnv}, which is not set`);
      return { baseURL: policy.baseURL, apiKey, keySource: policy.apiKeyEnv };
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
