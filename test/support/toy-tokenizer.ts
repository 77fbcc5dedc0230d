// A deterministic, pure toy tokenizer that behaves like the tokenizers behind
// real completions servers in the ways that matter to teacher-forced scoring:
//
//  * special tokens (`<|eot_id|>`, `<s>`, `[INST]`, `<｜begin▁of▁sentence｜>`, …)
//    are matched first and always become one token each;
//  * the rest is split by a GPT-2-style pre-tokenizer
//    (contractions | ` ?\p{L}+` | ` ?\p{N}+` | ` ?[^\s\p{L}\p{N}]+` | `\s+(?!\S)` | `\s+`);
//  * pieces longer than `maxChunk` (default 4) code points are cut into chunks,
//    so a word can straddle a token boundary as it does with real BPE;
//  * characters outside the BMP (emoji) are split into two byte-level pieces
//    (first two UTF-8 bytes, last two), as a byte-level BPE does when it has no
//    merge for the whole character. Their token string is either what a
//    `errors='replace'` decode of the bytes gives ("\ufffd"-based) or OpenAI's
//    `bytes:\xf0\x9f` form. Both pieces carry the start of the character.
//
// Ids are stable: a 31-bit hash of the token's bytes (special tokens are
// hashed with a prefix, so a special token and the same characters as plain
// text get different ids, as in real vocabularies).

import { fmix32 } from '../../src/core/fmix32';

// The test servers hash their token choices with the same finaliser.
export { fmix32 };

export type PartialBytesMode = 'replacement' | 'bytes';

export interface ToyToken {
  /** Stable id: hash of the token's bytes (special tokens in their own id space). */
  id: number;
  /** The token string a server reports in `logprobs.tokens`. */
  text: string;
  /** UTF-16 index of the token's start in the encoded text. */
  start: number;
  /** UTF-16 index just past the text this token covers (both byte pieces of a character cover all of it). */
  end: number;
  /** The UTF-8 bytes this token stands for. */
  bytes: number[];
  /** True for special tokens (matched as a whole before pre-tokenization). */
  special: boolean;
  /** True for a byte-level piece of a character outside the BMP. */
  partial: boolean;
}

export interface ToyTokenizerOptions {
  /** Special tokens: exact strings or regular expressions (no flags needed). */
  specialTokens?: Array<string | RegExp>;
  /** How a byte-level piece of a non-BMP character is written. Default 'replacement'. */
  partialBytes?: PartialBytesMode;
  /** Longest piece in code points. Default 4. */
  maxChunk?: number;
}

/** Default special tokens of the families the project knows. */
export const DEFAULT_SPECIAL_TOKENS: ReadonlyArray<string | RegExp> = Object.freeze([
  /<\|[^|<>\s]{1,64}\|>/, // <|begin_of_text|>, <|eot_id|>, <|im_start|>, <|endoftext|>, …
  /<｜[^｜<>\s]{1,64}｜>/, // DeepSeek full-width: <｜begin▁of▁sentence｜>, <｜User｜>, …
  '<s>',
  '</s>',
  '[INST]',
  '[/INST]',
  '<bos>',
  '<eos>',
  '<start_of_turn>',
  '<end_of_turn>',
]);

/** GPT-2 pre-tokenizer pattern (with the `u` flag so \p{…} works). */
export const PRETOKENIZE_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

const enc = new TextEncoder();
const replacementDecoder = new TextDecoder('utf-8', { fatal: false });

/** 32-bit FNV-1a followed by a murmur3 finalizer (good avalanche). */
export function hash32(input: string | ArrayLike<number>): number {
  const bytes = typeof input === 'string' ? enc.encode(input) : input;
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i] & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}


/** Stable id of a token given its bytes and whether it is special. */
export function tokenId(bytes: ArrayLike<number>, special: boolean): number {
  const prefixed = special ? [0xff, 0x00, ...Array.from(bytes)] : Array.from(bytes);
  return hash32(prefixed) & 0x7fffffff;
}

/** OpenAI's `bytes:\xNN…` spelling of a byte sequence (lowercase hex). */
export function bytesTokenString(bytes: ArrayLike<number>): string {
  let s = 'bytes:';
  for (let i = 0; i < bytes.length; i++) s += '\\x' + (bytes[i] & 0xff).toString(16).padStart(2, '0');
  return s;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export class ToyTokenizer {
  readonly partialBytes: PartialBytesMode;
  readonly maxChunk: number;
  readonly specialTokens: ReadonlyArray<string | RegExp>;
  private readonly specialRe: RegExp | null;

  constructor(opts: ToyTokenizerOptions = {}) {
    this.partialBytes = opts.partialBytes ?? 'replacement';
    this.maxChunk = opts.maxChunk ?? 4;
    if (!(this.maxChunk >= 1)) throw new Error('maxChunk must be ≥ 1');
    this.specialTokens = opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
    // Exact strings first, longest first, so '[/INST]' wins over any shorter overlap.
    const strings = this.specialTokens
      .filter((t): t is string => typeof t === 'string')
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp);
    const regexes = this.specialTokens.filter((t): t is RegExp => t instanceof RegExp).map((r) => `(?:${r.source})`);
    const parts = [...strings, ...regexes];
    this.specialRe = parts.length ? new RegExp(parts.join('|'), 'gu') : null;
  }

  /** Whether `s` as a whole is one special token. */
  isSpecial(s: string): boolean {
    if (!this.specialRe) return false;
    const re = new RegExp(`^(?:${this.specialRe.source})$`, 'u');
    return re.test(s);
  }

  /** Token for a whole string as one piece (used for vocabulary entries and a server's BOS). */
  tokenOf(s: string, special = this.isSpecial(s)): ToyToken {
    const bytes = Array.from(enc.encode(s));
    return { id: tokenId(bytes, special), text: s, start: 0, end: s.length, bytes, special, partial: false };
  }

  encode(text: string): ToyToken[] {
    const out: ToyToken[] = [];
    let pos = 0;
    if (this.specialRe) {
      const re = new RegExp(this.specialRe.source, 'gu');
      let m: RegExpExecArray | null;
      while ((m = re.exec(text)) !== null) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        this.encodeOrdinary(text, pos, m.index, out);
        const bytes = Array.from(enc.encode(m[0]));
        out.push({ id: tokenId(bytes, true), text: m[0], start: m.index, end: m.index + m[0].length, bytes, special: true, partial: false });
        pos = m.index + m[0].length;
      }
    }
    this.encodeOrdinary(text, pos, text.length, out);
    return out;
  }

  /** Decode tokens back to text (byte pieces are joined at the byte level). */
  decode(tokens: ReadonlyArray<Pick<ToyToken, 'bytes'>>): string {
    const all: number[] = [];
    for (const t of tokens) all.push(...t.bytes);
    return replacementDecoder.decode(new Uint8Array(all));
  }

  private encodeOrdinary(text: string, from: number, to: number, out: ToyToken[]): void {
    if (to <= from) return;
    const segment = text.slice(from, to);
    const re = new RegExp(PRETOKENIZE_PATTERN.source, 'gu');
    let m: RegExpExecArray | null;
    while ((m = re.exec(segment)) !== null) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      this.chunkPiece(m[0], from + m.index, out);
    }
  }

  /** Cut a pre-token into chunks of ≤ maxChunk code points; non-BMP characters become two byte pieces. */
  private chunkPiece(piece: string, start: number, out: ToyToken[]): void {
    let run = '';
    let runStart = start;
    let runCp = 0;
    const flush = () => {
      if (!run) return;
      const bytes = Array.from(enc.encode(run));
      out.push({ id: tokenId(bytes, false), text: run, start: runStart, end: runStart + run.length, bytes, special: false, partial: false });
      run = '';
      runCp = 0;
    };
    let i = 0;
    for (const ch of piece) {
      const at = start + i;
      const cp = ch.codePointAt(0)!;
      if (cp > 0xffff) {
        flush();
        const b = Array.from(enc.encode(ch)); // 4 bytes
        for (const part of [b.slice(0, 2), b.slice(2)]) {
          const tokText =
            this.partialBytes === 'bytes' ? bytesTokenString(part) : replacementDecoder.decode(new Uint8Array(part));
          out.push({ id: tokenId(part, false), text: tokText, start: at, end: at + ch.length, bytes: part, special: false, partial: true });
        }
      } else {
        if (!run) runStart = at;
        run += ch;
        runCp++;
        if (runCp >= this.maxChunk) flush();
      }
      i += ch.length;
    }
    flush();
  }
}
