// The stored forms of a score line (one line of a scores file) and the way
// back to the in-memory ScoreLine. The in-memory form keeps every token and
// its log-prob as JSON arrays; written that way a 300-token response takes
// about 8 KB per policy, several times the log line it scores. So a line is
// written packed:
//
//   - every packed line carries `n_tokens` (the scored span's token count) and,
//     where the server gave entropies, `mean_entropy`: what the report shows for
//     a record without its tokens;
//   - token detail, where kept, sits in `td`: the token strings joined into one
//     string `text` with their UTF-16 lengths `len` (a response's tokens spell its
//     text, so this is the text once plus a small number per token, not a quoted
//     string per token), the log-probs `lp` and entropies `ent` as base64 of
//     little-endian float32 (NaN for a missing entropy), and the top
//     alternatives `top` as they were;
//   - without `td` the line keeps no token detail.
//
// A line written before these forms (arrays `tokens` / `token_logprobs`) is
// read as it is. Every reader of a scores file goes through unpackScoreLine.
//
// Why float32: servers compute log-probs in float32 or lower (vLLM, TGI and
// llama.cpp return float32 values), so the 17 digits a JSON double prints carry
// no information past the 7th. The total `logprob` (a sum in float64) is kept
// exactly: identity checks at 1e-6 nats use it, never the token values.
// Base64 float32 takes 5.33 bytes a token; the shortest decimal that reads back
// as the same float32 took 12.2 bytes a token on vLLM-like values (measured in
// bench/report.bench.ts: a 300-token line 4.3 KB against 6.4 KB), so base64 it is.

import type { ScoreLine } from './types';
import { fmix32 } from './fmix32';

/** Which lines keep their token detail: every line, the lines a diagnostic may show ("flagged"), or none. */
export type TokenDetail = 'all' | 'flagged' | 'none';

export const TOKEN_DETAIL_MODES: readonly TokenDetail[] = ['all', 'flagged', 'none'];

/**
 * The default of a run: "flagged". The report shows the tokens of at most
 * 1,000 records (200 by default), so keeping every token of a million records
 * writes gigabytes no page ever shows; "flagged" keeps what the report and the
 * editor may point at (see keepsTokenDetail) at a few percent of the size.
 */
export const DEFAULT_TOKEN_DETAIL: TokenDetail = 'flagged';

/** Log lines up to this one keep their detail under "flagged": a small log keeps everything, as before. */
export const FLAGGED_ALL_UP_TO_LINE = 5000;
/** Beyond it, one record in this many keeps its detail (a deterministic sample, the same for every policy). */
export const FLAGGED_SAMPLE_EVERY = 32;

/**
 * A score line as read back from a file: a ScoreLine whose tokens and
 * log-probs may be absent (the stored line kept no token detail).
 */
export type StoredScoreLine = Omit<ScoreLine, 'tokens' | 'token_logprobs'> & { tokens?: string[]; token_logprobs?: number[] };

/** The token detail of a packed line. */
export interface PackedTokenDetail {
  /** The token strings joined. */
  text: string;
  /** Each token's length in UTF-16 code units, in order; they add up to text.length. */
  len: number[];
  /** Per-token log-probs: base64 of little-endian float32. */
  lp: string;
  /** Per-token entropies, the same way (NaN where the server gave none). */
  ent?: string;
  top_logprobs?: ScoreLine['top_logprobs'];
}

/**
 * A cheap, stable 32-bit hash of a string for the sample: FNV-1a over its
 * UTF-16 code units, then murmur3's finaliser. FNV-1a alone has weak low bits
 * (ids and lines that share their last digits, "prompt-7" on line 10007, land
 * in the same residue mod 32: none of 2,000 such records was sampled).
 */
export function sampleHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/**
 * Whether a line keeps its token detail under "flagged". Decided from the line
 * alone, at write time:
 * - an error (whatever tokens came back explain it), a suspect reason, an
 *   approximate span or tokens straddling the prompt/response boundary: the
 *   report and the editor point at these records;
 * - top alternatives kept (the policy asked for topLogprobs > 1 to see them);
 * - the first FLAGGED_ALL_UP_TO_LINE log lines, then 1 in FLAGGED_SAMPLE_EVERY
 *   records by a hash of the record id and line, so that every policy keeps
 *   the same records and the report can draw their heatmaps side by side.
 * What cannot be known at write time (the largest |log w|, identity
 * violations: they need the other policy's number) is not a reason; use
 * "all" to keep every record's tokens.
 */
export function keepsTokenDetail(line: ScoreLine | StoredScoreLine): boolean {
  if (line.error !== null && line.error !== undefined) return true;
  if (line.suspect?.length) return true;
  if (line.span?.approximate) return true;
  if (line.span?.straddle?.length) return true;
  if (line.top_logprobs?.some((t) => t !== null)) return true;
  if (line.line <= FLAGGED_ALL_UP_TO_LINE) return true;
  return sampleHash(`${line.record}\u0000${line.line}`) % FLAGGED_SAMPLE_EVERY === 0;
}

/** Base64 of the values as little-endian float32 (null and non-numbers as NaN). */
export function float32Base64(xs: readonly (number | null | undefined)[]): string {
  const buf = Buffer.allocUnsafe(xs.length * 4);
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    buf.writeFloatLE(typeof v === 'number' ? v : NaN, i * 4);
  }
  return buf.toString('base64');
}

/** The values of float32Base64, as float64 numbers; undefined when the text is not a whole number of float32s. */
export function float32FromBase64(s: string): number[] | undefined {
  if (typeof s !== 'string') return undefined;
  const buf = Buffer.from(s, 'base64');
  if (buf.length % 4 !== 0) return undefined;
  const out = new Array<number>(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

/** The shortest decimal that reads back as the same float32 (the alternative to base64, measured in the benchmark). */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.fround(x);
  for (let p = 1; p < 9; p++) {
    const y = Number(f.toPrecision(p));
    if (Math.fround(y) === f) return y;
  }
  return Number(f.toPrecision(9));
}

function meanOf(xs: readonly (number | null)[]): number | null {
  let s = 0;
  let n = 0;
  for (const x of xs) {
    if (typeof x === 'number' && Number.isFinite(x)) {
      s += x;
      n++;
    }
  }
  return n ? s / n : null;
}

const DETAIL_FIELDS = new Set(['tokens', 'token_logprobs', 'entropy', 'top_logprobs', 'n_tokens', 'mean_entropy', 'td']);

/**
 * The stored form of a line under a mode. Everything but the token detail is
 * written as it is (key, numbers, span, reasons), so the store's resume index
 * and every check read a packed line as they read a full one.
 */
export function packScoreLine(line: ScoreLine | StoredScoreLine, mode: TokenDetail): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(line)) if (!DETAIL_FIELDS.has(k)) out[k] = v;
  const tokens = Array.isArray(line.tokens) ? line.tokens : undefined;
  const lps = Array.isArray(line.token_logprobs) ? line.token_logprobs : undefined;
  const n = lps?.length ?? tokens?.length ?? line.n_tokens ?? 0;
  out.n_tokens = n;
  const ent = Array.isArray(line.entropy) ? line.entropy : undefined;
  const meanEnt = ent ? meanOf(ent) : line.mean_entropy;
  if (meanEnt !== undefined) out.mean_entropy = meanEnt;
  const keep = mode === 'all' || (mode === 'flagged' && keepsTokenDetail(line));
  if (!keep || !tokens || !lps || tokens.length !== lps.length || !tokens.every((t) => typeof t === 'string')) {
    // Kept detail that does not fit the packed shape (tokens that are not strings) stays as it came.
    if (keep && (tokens || lps)) {
      if (tokens) out.tokens = tokens;
      if (lps) out.token_logprobs = lps;
      if (ent) out.entropy = ent;
      if (line.top_logprobs) out.top_logprobs = line.top_logprobs;
    }
    return out;
  }
  const td: PackedTokenDetail = { text: tokens.join(''), len: tokens.map((t) => t.length), lp: float32Base64(lps) };
  if (ent && ent.length === n) td.ent = float32Base64(ent);
  if (line.top_logprobs) td.top_logprobs = line.top_logprobs;
  out.td = td;
  return out;
}

/** The token strings of a packed detail, or undefined when its lengths do not add up to its text. */
function splitTokens(text: unknown, len: unknown): string[] | undefined {
  if (typeof text !== 'string' || !Array.isArray(len)) return undefined;
  const out = new Array<string>(len.length);
  let at = 0;
  for (let i = 0; i < len.length; i++) {
    const l = len[i];
    if (typeof l !== 'number' || !Number.isInteger(l) || l < 0 || at + l > text.length) return undefined;
    out[i] = text.slice(at, at + l);
    at += l;
  }
  return at === text.length ? out : undefined;
}

/**
 * Any stored form back to a ScoreLine: a full line (written before packing, or
 * kept whole) as it is, a packed one with its detail decoded. Without token
 * detail (or with detail that does not decode) `tokens` and `token_logprobs`
 * are absent and `n_tokens` / `mean_entropy` say what is known (tokenCount
 * reads the count of any form). The caller
 * checks the other fields as before (this does not validate a line). With
 * `tokens: false` the detail is left out, not decoded.
 */
export function unpackScoreLine(obj: Record<string, unknown>, opts: { tokens?: boolean } = {}): StoredScoreLine {
  const td = obj.td;
  // A whole line (or a packed one without detail) is already a ScoreLine: returned as it is.
  if (td === undefined) return obj as unknown as StoredScoreLine;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (k !== 'td') out[k] = v;
  const s = out as unknown as StoredScoreLine;
  // A reader that needs only the numbers (the editor's index, the report's first pass) skips the decoding.
  if (opts.tokens === false || !td || typeof td !== 'object' || Array.isArray(td)) return s;
  const d = td as Record<string, unknown>;
  const tokens = splitTokens(d.text, d.len);
  const lps = typeof d.lp === 'string' ? float32FromBase64(d.lp) : undefined;
  if (!tokens || !lps || lps.length !== tokens.length) return s;
  s.tokens = tokens;
  // A NaN stands for a null the full form would have written.
  s.token_logprobs = lps.map((x) => (Number.isNaN(x) ? (null as unknown as number) : x));
  s.n_tokens = tokens.length;
  const ent = typeof d.ent === 'string' ? float32FromBase64(d.ent) : undefined;
  if (ent && ent.length === tokens.length) s.entropy = ent.map((x) => (Number.isNaN(x) ? null : x));
  if (Array.isArray(d.top_logprobs)) s.top_logprobs = d.top_logprobs as ScoreLine['top_logprobs'];
  return s;
}

/** The span's token count of a line read back (any form); undefined when the line says nothing. */
export function tokenCount(s: StoredScoreLine): number | undefined {
  if (Array.isArray(s.token_logprobs)) return s.token_logprobs.length;
  return typeof s.n_tokens === 'number' && Number.isInteger(s.n_tokens) && s.n_tokens >= 0 ? s.n_tokens : undefined;
}

/** Whether a stored line (any form) keeps token detail. */
export function hasTokenDetail(obj: Record<string, unknown>): boolean {
  return (obj.td !== undefined && obj.td !== null) || (Array.isArray(obj.token_logprobs) && obj.token_logprobs.length > 0);
}
