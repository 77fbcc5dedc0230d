// Reference positions of a real tokenizer's tokens in the text they encode,
// worked out from the vocabulary itself: each token's bytes (byte-level BPE
// pieces through GPT-2's byte map, SentencePiece pieces with ▁ as a space and
// <0xNN> as a byte, added tokens as their content), laid end to end over the
// UTF-8 of the text as the tokenizer's normalizer made it (NFC, the
// SentencePiece dummy-prefix ▁ that is in no text). Written apart from
// src/core/span.ts: it never looks at a server's token strings or offsets,
// only at token ids and the tokenizer's files, so it can judge them.

import type { HfTokenizer } from './real-tokenizer-server';

type JsonObject = Record<string, unknown>;

/** A tokenizer as this reference needs it: the vocabulary and the shape of tokenizer.json. */
export interface ReferenceTokenizer {
  hf: HfTokenizer;
  shape: { normalizer: JsonObject | null; decoder: JsonObject | null };
}

export interface PlacedToken {
  id: number;
  /** UTF-16 range in the text; a token that covers part of a character covers all of it. */
  start: number;
  end: number;
  /** 'added': put in front by the server, in no text; 'special': an added token written in the text. */
  kind: 'added' | 'special' | 'text';
}

let byteMap: Map<string, number> | undefined;

/** GPT-2's bytes_to_unicode, inverted: the character a byte-level piece writes for each byte. */
function unicodeToByte(): Map<string, number> {
  if (byteMap) return byteMap;
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  byteMap = new Map(bs.map((b, i) => [String.fromCodePoint(cs[i]), b]));
  return byteMap;
}

function types(node: JsonObject | null | undefined, key: 'normalizers' | 'decoders'): JsonObject[] {
  if (!node) return [];
  if (node.type === 'Sequence') return ((node[key] as JsonObject[]) ?? []).flatMap((n) => types(n, key));
  return [node];
}

/** The bytes a token stands for, by the vocabulary's own encoding. */
function tokenBytes(tk: ReferenceTokenizer, id: number, byteLevel: boolean): Buffer {
  const piece = tk.hf.id_to_token(id);
  if (piece === undefined) throw new Error(`token id ${id} is not in the vocabulary`);
  if (byteLevel) {
    const map = unicodeToByte();
    return Buffer.from([...piece].map((ch) => {
      const b = map.get(ch);
      if (b === undefined) throw new Error(`byte-level piece ${JSON.stringify(piece)} has a character outside the byte map`);
      return b;
    }));
  }
  const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  if (m) return Buffer.from([parseInt(m[1], 16)]);
  return Buffer.from(piece.replace(/\u2581/g, ' '), 'utf8');
}

/** The text as the normalizer makes it, each UTF-16 unit mapped back to a range of the original text. */
function normalize(text: string, nfc: boolean): { norm: string; from: number[]; to: number[] } {
  const from: number[] = [];
  const to: number[] = [];
  if (!nfc || text.normalize('NFC') === text) {
    for (let i = 0; i < text.length; i++) {
      from.push(i);
      to.push(i + 1);
    }
    return { norm: text, from, to };
  }
  // NFC works on a starter and the combining marks after it: normalize each such cluster on its own.
  let norm = '';
  for (const m of text.matchAll(/\P{M}\p{M}*|\p{M}+/gsu)) {
    const a = m.index!;
    const b = a + m[0].length;
    const n = m[0].normalize('NFC');
    for (let k = 0; k < n.length; k++) {
      from.push(n === m[0] ? a + k : a);
      to.push(n === m[0] ? a + k + 1 : b);
    }
    norm += n;
  }
  return { norm, from, to };
}

/**
 * Where each of `ids` lies in `text`. `ids` is what the server scored: the
 * first `addedPrefix` of them it put in front of the text itself (BOS), the
 * rest must encode `text` exactly (this throws where they do not).
 */
export function placeTokens(tk: ReferenceTokenizer, text: string, ids: number[], addedPrefix: number): PlacedToken[] {
  const decoders = types(tk.shape.decoder, 'decoders').map((d) => d.type);
  const byteLevel = decoders.includes('ByteLevel');
  const norms = types(tk.shape.normalizer, 'normalizers');
  const nfc = norms.some((n) => n.type === 'NFC');
  const dummyPrefix = norms.some((n) => n.type === 'Prepend');
  const added = tk.hf.get_added_tokens_decoder();

  const { norm, from, to } = normalize(text, nfc);
  const bytes = Buffer.from(norm, 'utf8');
  // For every byte of the normalized text, the original UTF-16 range of its character.
  const byteStart: number[] = [];
  const byteEnd: number[] = [];
  for (let i = 0; i < norm.length; ) {
    const cp = norm.codePointAt(i)!;
    const units = cp > 0xffff ? 2 : 1;
    const width = Buffer.byteLength(String.fromCodePoint(cp), 'utf8');
    for (let k = 0; k < width; k++) {
      byteStart.push(from[i]);
      byteEnd.push(to[i + units - 1]);
    }
    i += units;
  }
  const at = (bp: number) => (bp < byteStart.length ? byteStart[bp] : text.length);

  const out: PlacedToken[] = [];
  let bp = 0;
  let segmentStart = true;
  ids.forEach((id, i) => {
    if (i < addedPrefix) {
      out.push({ id, start: 0, end: 0, kind: 'added' });
      return;
    }
    const addedToken = added.get(id);
    // Special tokens split the text before normalization; other added tokens (gemma's ▁ runs) are plain vocabulary.
    const special = addedToken?.special ? addedToken : undefined;
    let b: Buffer;
    if (special) b = Buffer.from(special.content, 'utf8');
    else if (addedToken) b = Buffer.from(byteLevel ? addedToken.content : addedToken.content.replace(/\u2581/g, ' '), 'utf8');
    else {
      b = tokenBytes(tk, id, byteLevel);
      // SentencePiece's dummy prefix: every stretch of text between added tokens gets a ▁ in front that is in no text.
      if (dummyPrefix && segmentStart) {
        if (b[0] !== 0x20) throw new Error(`token ${i} (${JSON.stringify(tk.hf.id_to_token(id))}) opens a stretch of text without the dummy-prefix ▁`);
        b = b.subarray(1);
      }
    }
    segmentStart = !!special;
    if (!bytes.subarray(bp, bp + b.length).equals(b)) {
      throw new Error(`token ${i} (id ${id}, ${JSON.stringify(tk.hf.id_to_token(id))}) does not match the text at byte ${bp}: ${JSON.stringify(bytes.subarray(bp, bp + b.length + 4).toString('utf8'))}`);
    }
    const start = at(bp);
    const end = b.length ? byteEnd[bp + b.length - 1] : start;
    out.push({ id, start, end, kind: special ? 'special' : 'text' });
    bp += b.length;
  });
  if (bp !== bytes.length) throw new Error(`the tokens spell ${bp} of the text's ${bytes.length} bytes`);
  return out;
}

export interface CoveringTokens {
  /** Index of the first token of the span and one past the last. */
  first: number;
  end: number;
  /** Tokens of the span that reach outside [from, to). */
  straddle: { index: number; side: 'start' | 'end' }[];
}

/** The tokens that cover any of the text [from, to): a zero-width token counts when it sits in [from, to). */
export function coveringTokens(placed: PlacedToken[], from: number, to: number): CoveringTokens {
  const hit: number[] = [];
  placed.forEach((t, i) => {
    if (t.kind === 'added') return;
    const overlaps = t.end > t.start ? t.start < to && t.end > from : t.start >= from && t.start < to;
    if (overlaps) hit.push(i);
  });
  if (hit.length === 0) return { first: placed.length, end: placed.length, straddle: [] };
  const first = hit[0];
  const end = hit[hit.length - 1] + 1;
  if (hit.length !== end - first) throw new Error(`the tokens covering [${from}, ${to}) are not contiguous: ${hit.join(',')}`);
  const straddle: CoveringTokens['straddle'] = [];
  if (placed[first].start < from) straddle.push({ index: first, side: 'start' });
  if (placed[end - 1].end > to) straddle.push({ index: end - 1, side: 'end' });
  return { first, end, straddle };
}
