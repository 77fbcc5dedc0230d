import type { RenderedPrompt, SpanInfo } from './types';

/** What a completions server echoed for one prompt. */
export interface EchoedTokens {
  tokens: string[];
  token_logprobs: (number | null)[];
  text_offset?: number[] | null;
  entropy?: (number | null)[] | null;
  /** Top alternatives per token, as the server wrote them (null for the first). */
  top_logprobs?: (Record<string, number> | null)[] | null;
}

export interface ScoredSpan {
  span: SpanInfo;
  logprob: number;
  tokens: string[];
  token_logprobs: number[];
  entropy?: (number | null)[];
  /** The server's top alternatives per scored token, when more than one was asked for. */
  top_logprobs?: (Record<string, number> | null)[];
  /** Why the number is usable but doubtful; absent when every check passed. */
  suspect?: string[];
}

/**
 * `spelling`: the echoed tokens do not spell the text that was sent (a batch
 * answer mapped to the wrong prompt looks like this, so it is worth sending
 * that prompt again alone). `unreadable`: the token strings are in a form we
 * cannot match, so only a prefix count can place the response.
 */
export type SpanFailure = 'spelling' | 'unreadable' | 'values' | 'shape' | 'span';

export type SpanResult = { ok: true; value: ScoredSpan } | { ok: false; error: string; failure?: SpanFailure; needPrefixCount?: boolean };

type Unit = 'utf16' | 'codepoint' | 'utf8';

/** A token's place in the text as UTF-16 indices; `added` tokens are not in the text at all. */
interface Placed {
  start: number;
  end: number;
  kind: 'text' | 'partial' | 'added';
}

/** vLLM writes -9999.0 for a log-prob of -inf (a token the model gives probability 0). */
export const VLLM_NEG_INF_CLAMP = -9999;
/** No real vocabulary makes one token this unlikely in float arithmetic; below it a value is a sentinel. */
export const MIN_PLAUSIBLE_LOGPROB = -1000;
/** A span whose every log-prob is within this of 0 carries no information: the server sent zeros. */
export const ZERO_SPAN_EPS = 1e-9;

/** Partial UTF-8 sequences come back as U+FFFD or as OpenAI's "bytes:\xNN" form: they can't be matched as text. */
function isPartial(tok: string): boolean {
  return tok.includes('\ufffd') || pieceBytes(tok) !== undefined;
}

/**
 * A Latin-1 letter such as "î" is also a raw byte-level string (the byte 0xEE):
 * where the token is the text at the cursor, it is text, not a byte piece.
 */
function isPartialAt(text: string, tok: string, at: number): boolean {
  if (!isRawBytePiece(tok)) return isPartial(tok);
  return !text.startsWith(tok, at);
}

/** A byte piece written in GPT-2's byte-level alphabet (not U+FFFD, "bytes:" or "<0xNN>"). */
function isRawBytePiece(tok: string): boolean {
  return !tok.includes('\ufffd') && !tok.startsWith('bytes:') && !/^(<0x[0-9A-Fa-f]{2}>)+$/.test(tok) && pieceBytes(tok) !== undefined;
}

/**
 * GPT-2's byte-level alphabet, inverted: servers that return raw vocabulary
 * strings (convert_ids_to_tokens) write each byte as one of these characters.
 */
const BYTE_OF_CHAR: Map<string, number> = (() => {
  const direct: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) direct.push(b);
  for (let b = 0xa1; b <= 0xac; b++) direct.push(b);
  for (let b = 0xae; b <= 0xff; b++) direct.push(b);
  const m = new Map<string, number>();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (direct.includes(b)) m.set(String.fromCharCode(b), b);
    else m.set(String.fromCharCode(256 + n++), b);
  }
  return m;
})();

function byteLevelBytes(tok: string): number[] | undefined {
  if (!tok) return undefined;
  const out: number[] = [];
  for (const ch of tok) {
    const b = BYTE_OF_CHAR.get(ch);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return out;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
function utf8Text(bytes: number[]): string | undefined {
  try {
    return UTF8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/**
 * The exact bytes of a token that stands for part of a character: OpenAI's
 * "bytes:\xf0\x9f", SentencePiece's byte fallback "<0xF0>", or a raw
 * byte-level string (GPT-2 alphabet) that is not whole UTF-8 text.
 */
function pieceBytes(tok: string): number[] | undefined {
  if (tok.startsWith('bytes:')) {
    const m = tok.slice(6).match(/\\x[0-9a-fA-F]{2}/g);
    return m ? m.map((x) => parseInt(x.slice(2), 16)) : undefined;
  }
  if (/^(<0x[0-9A-Fa-f]{2}>)+$/.test(tok)) {
    const bytes = tok.match(/<0x([0-9A-Fa-f]{2})>/g)!.map((x) => parseInt(x.slice(3, 5), 16));
    return utf8Text(bytes) === undefined ? bytes : undefined;
  }
  // Printable ASCII is the same in GPT-2's alphabet and as text: never a piece.
  if (!/[^\x21-\x7e]/.test(tok)) return undefined;
  const b = byteLevelBytes(tok);
  return b && utf8Text(b) === undefined ? b : undefined;
}

/** The forms a server may write a token's text in: as is, SentencePiece's ▁, byte-level BPE's alphabet, whole byte pieces. */
function textForms(tok: string): string[] {
  const forms = [tok];
  if (tok.includes('\u2581')) forms.push(tok.replace(/\u2581/g, ' '));
  if (/[\u0120\u010a]/.test(tok)) forms.push(tok.replace(/\u0120/g, ' ').replace(/\u010a/g, '\n'));
  // A raw byte-level string of whole characters ("ä¸Ń" is 中), or byte-fallback pieces that make whole characters.
  const raw = /[^\x21-\x7e]/.test(tok) ? byteLevelBytes(tok) : undefined;
  const decoded = raw && utf8Text(raw);
  if (decoded && decoded !== tok) forms.push(decoded);
  if (/^(<0x[0-9A-Fa-f]{2}>)+$/.test(tok)) {
    const whole = utf8Text(tok.match(/<0x([0-9A-Fa-f]{2})>/g)!.map((x) => parseInt(x.slice(3, 5), 16)));
    if (whole) forms.push(whole);
  }
  return forms;
}

function matchAt(text: string, tok: string, at: number): number {
  for (const f of textForms(tok)) if (f.length > 0 && text.startsWith(f, at)) return f.length;
  return -1;
}

/** Looks like a special token written as text (`<s>`, `<|eot_id|>`, `[INST]`): SentencePiece starts a new word after one. */
function isSpecialLike(tok: string): boolean {
  return /^<[^<>\s]+>$|^<\|[^|]*\|>$|^\[\/?[A-Z_]+\]$/.test(tok) || /^<｜.*｜>$/.test(tok);
}

interface Walk {
  placed: Placed[];
  /** Tokens written with a SentencePiece word-start ▁ that the text does not have (its dummy prefix). */
  dummyPrefix: number;
  /** Tokens written without the space that precedes them in the text (a decoder that strips a word's leading space). */
  strippedSpace: number;
  /** Tokens echoed as "" (placed with zero width). */
  empty: number;
  /** Runs of byte pieces whose bytes the echo does not show (U+FFFD): [start, end) in the text. */
  opaque: [number, number][];
  /** How many places fitted at each run of byte pieces where more than one did, in walk order. */
  choices: number[];
}

type WalkFail = { fail: 'short' | 'long' | 'mismatch'; at: number; cursor: number; choices: number[] };

/**
 * Places every token by walking its string over the text from the start. The
 * walk must tile the text exactly: each token starts where the one before it
 * ended, and together they cover every character, apart from `added` leading
 * tokens (a BOS the server puts in front) and the known normalisations.
 * `preferred(i)` is where the server's offsets put token i, used only to
 * choose among places that the strings leave open.
 */
function walkTokens(text: string, tokens: string[], added: number, picks: number[], preferred?: (i: number) => number[]): Walk | WalkFail {
  const placed: Placed[] = [];
  const w: Walk = { placed, dummyPrefix: 0, strippedSpace: 0, empty: 0, opaque: [], choices: [] };
  const choices = w.choices;
  for (let i = 0; i < added; i++) placed.push({ start: 0, end: 0, kind: 'added' });
  let cursor = 0;
  let runStart = -1; // first index of the current run of byte pieces
  for (let i = added; i < tokens.length; i++) {
    const tok = tokens[i];
    const piece =
      runStart < 0
        ? isPartialAt(text, tok, cursor)
        : // Inside a run, a raw byte-level string that could also be text ("î") is text where it can close the run.
          isPartial(tok) && (!isRawBytePiece(tok) || !runCandidates(text, cursor, tokens.slice(runStart, i), tok).length);
    if (piece) {
      if (runStart < 0) runStart = i;
      placed.push({ start: cursor, end: cursor, kind: 'partial' });
      continue;
    }
    if (tok === '' && runStart < 0) {
      // vLLM decodes the first pieces of a character as "": zero width, owned by what follows. A lone ▁
      // decodes as "" too: it owns the space under it when the next token cannot start there.
      const next = tokens[i + 1];
      const ownsSpace = text[cursor] === ' ' && (next === undefined || isPartial(next) || matchAt(text, next, cursor) < 0);
      placed.push({ start: cursor, end: cursor + (ownsSpace ? 1 : 0), kind: 'text' });
      if (ownsSpace) cursor++;
      w.empty++;
      continue;
    }
    if (cursor >= text.length && runStart < 0) return { fail: 'long', at: i, cursor, choices };
    let at = cursor;
    let len: number;
    if (runStart >= 0) {
      const found = runCandidates(text, cursor, tokens.slice(runStart, i), tok);
      if (!found.length) return { fail: 'mismatch', at: i, cursor, choices };
      // The offsets' place first, so that the first complete walk is the one they describe.
      const pref = preferred?.(i).find((p) => found.includes(p));
      const cands = pref === undefined ? found : [pref, ...found.filter((p) => p !== pref)];
      if (cands.length > 1) {
        at = cands[Math.min(picks[choices.length] ?? 0, cands.length - 1)];
        choices.push(cands.length);
      } else at = cands[0];
      placeRun(text, cursor, at, tokens, runStart, i, placed, w);
      runStart = -1;
      cursor = at;
    }
    len = matchAt(text, tok, at);
    // A run of spaces that a one-by-one decoder shortened by one ("▁▁▁" → "  "): it may start one space later.
    if (len > 0 && text[at] === ' ' && /^ +$/.test(tok) && text.startsWith(tok, at + 1)) {
      if ((picks[choices.length] ?? 0) === 1) len += 1;
      choices.push(2);
    }
    if (len < 0) {
      const prev = tokens[i - 1];
      const wordStart = i === added || (prev !== undefined && (isSpecialLike(prev) || /\n$/.test(prev)));
      if (tok.startsWith('\u2581') && wordStart && text.startsWith(tok.slice(1).replace(/\u2581/g, ' '), at) && tok.length > 1) {
        // SentencePiece's dummy prefix: a word-start ▁ with no space in the text.
        len = tok.length - 1;
        w.dummyPrefix++;
      } else if (text[at] === ' ' && !/^[ \u2581\u0120]/.test(tok) && matchAt(text, tok, at + 1) > 0) {
        // A decoder that drops a word's leading space when it decodes one token alone.
        len = 1 + matchAt(text, tok, at + 1);
        w.strippedSpace++;
      } else return { fail: 'mismatch', at: i, cursor: at, choices };
    }
    placed.push({ start: at, end: at + len, kind: 'text' });
    cursor = at + len;
  }
  if (runStart >= 0) {
    // Byte pieces at the very end cover whatever characters are left.
    if (cursor >= text.length || !runFits(text.slice(cursor), tokens.slice(runStart))) return { fail: cursor >= text.length ? 'long' : 'short', at: tokens.length, cursor, choices };
    placeRun(text, cursor, text.length, tokens, runStart, tokens.length, placed, w);
    cursor = text.length;
  }
  if (cursor < text.length) return { fail: 'short', at: tokens.length, cursor, choices };
  return w;
}

/**
 * Every complete walk (up to a few), trying the other places at each run of
 * byte pieces that more than one place fits. More than one complete walk
 * means the token strings alone do not decide where the tokens are.
 */
function completeWalks(text: string, tokens: string[], added: number, preferred?: (i: number) => number[]): { walks: Walk[]; furthest: WalkFail | undefined } {
  const walks: Walk[] = [];
  let furthest: WalkFail | undefined;
  let picks: number[] = [];
  for (let budget = 32; budget > 0 && walks.length < 3; budget--) {
    const r = walkTokens(text, tokens, added, picks, preferred);
    if ('fail' in r) {
      if (!furthest || r.cursor > furthest.cursor || (r.cursor === furthest.cursor && r.at > furthest.at)) furthest = r;
    } else walks.push(r);
    // Next pick vector, odometer-style over the choice points this walk met.
    const sizes = r.choices;
    const next = sizes.map((_, j) => picks[j] ?? 0);
    let j = next.length - 1;
    while (j >= 0 && next[j] + 1 >= sizes[j]) j--;
    if (j < 0) break;
    next[j]++;
    picks = next.slice(0, j + 1);
  }
  return { walks, furthest };
}

interface Edges {
  first: number;
  end: number;
  straddle: NonNullable<SpanInfo['straddle']>;
}

/** The scored tokens of a placement: from the first token that reaches into the response to the last before `scoredEnd`. */
function spanEdges(placed: Placed[], tokens: string[], rs: number, scoredEnd: number): Edges {
  let first = placed.findIndex((p) => p.kind !== 'added' && p.start >= rs);
  if (first === -1) first = tokens.length;
  let end = placed.findIndex((p, i) => i >= first && p.kind !== 'added' && p.start >= scoredEnd);
  if (end === -1) end = tokens.length;
  const straddle: Edges['straddle'] = [];
  // A token that begins in the prompt and reaches into the response carries the response's first characters.
  const before = first - 1;
  if (before >= 0 && placed[before].kind !== 'added' && placed[before].start < rs && placed[before].end > rs) {
    straddle.push({ index: before, token: tokens[before], side: 'start', included: true });
    first = before;
    // A run of byte pieces reaching over the seam: all of it belongs to the straddling character(s).
    while (first > 0 && placed[first - 1].kind === 'partial' && placed[first].kind === 'partial' && placed[first - 1].start === placed[first].start) first--;
  }
  const last = end - 1;
  if (last >= first && placed[last].end > scoredEnd) straddle.push({ index: last, token: tokens[last], side: 'end', included: true });
  return { first, end, straddle };
}

/**
 * Places the pieces of a run over [from, to). Pieces whose bytes are known are
 * placed byte by byte (a piece that ends one character and one that starts the
 * next fall on either side of a seam between them); pieces shown only as
 * U+FFFD all cover the whole run, which is then opaque.
 */
function placeRun(text: string, from: number, to: number, tokens: string[], first: number, end: number, placed: Placed[], w: Walk): void {
  const exact = tokens.slice(first, end).map(pieceBytes);
  if (!exact.every((b) => b !== undefined)) {
    for (let k = first; k < end; k++) placed[k] = { start: from, end: to, kind: 'partial' };
    w.opaque.push([from, to]);
    return;
  }
  // UTF-8 byte offset of each character's start within the run.
  const chars: { byte: number; start: number; end: number }[] = [];
  for (let i = from, byte = 0; i < to; ) {
    const cp = text.codePointAt(i)!;
    const u16 = cp > 0xffff ? 2 : 1;
    chars.push({ byte, start: i, end: i + u16 });
    byte += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    i += u16;
  }
  const charAt = (byte: number) => {
    let c = chars[0];
    for (const x of chars) if (x.byte <= byte) c = x;
    return c;
  };
  let b = 0;
  for (let k = first; k < end; k++) {
    const n = exact[k - first]!.length;
    placed[k] = { start: charAt(b).start, end: charAt(b + n - 1).end, kind: 'partial' };
    b += n;
  }
}

/** Whether a run of byte pieces can spell `gap`: every visible character of theirs in order, and no more characters than pieces can carry. */
function runFits(gap: string, run: string[]): boolean {
  if (!gap.length) return false;
  const exact = run.map(pieceBytes);
  if (exact.every((b) => b !== undefined)) return Buffer.from(gap, 'utf8').equals(Buffer.from(exact.flat() as number[]));
  const visible = run.join('').replace(/\ufffd/g, '').replace(/\u2581/g, ' ');
  const replacements = (run.join('').match(/\ufffd/g) ?? []).length;
  const gapChars = [...gap];
  if (gapChars.length > replacements + [...visible].length) return false;
  if (Buffer.byteLength(gap, 'utf8') < run.length) return false;
  // Visible characters appear in the gap in order; ASCII in the gap must be visible in the pieces.
  let vi = 0;
  const vis = [...visible];
  for (const ch of gapChars) {
    if (vi < vis.length && ch === vis[vi]) vi++;
    else if (ch.codePointAt(0)! < 0x80) return false;
  }
  return vi === vis.length;
}

/** The places where the token after a run of byte pieces may start. */
function runCandidates(text: string, from: number, run: string[], next: string): number[] {
  const out: number[] = [];
  const maxChars = run.join('').length + run.length * 2;
  for (let p = from + 1, chars = 1; p <= text.length && chars <= maxChars; p++) {
    // Never split a surrogate pair.
    const c = text.charCodeAt(p - 1);
    if (c >= 0xd800 && c <= 0xdbff) continue;
    const fitsNext = matchAt(text, next, p) >= 0 || (text[p] === ' ' && !/^[ \u2581\u0120]/.test(next) && matchAt(text, next, p + 1) > 0);
    if (fitsNext && runFits(text.slice(from, p), run)) out.push(p);
    chars++;
  }
  return out;
}

/** Maps an offset in `unit` to a UTF-16 index of `text`; inside a character it maps to the character's start. */
function unitMapper(text: string, unit: Unit): (off: number) => number {
  if (unit === 'utf16') return (off) => off;
  const map: number[] = [];
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    const u16 = cp > 0xffff ? 2 : 1;
    const width = unit === 'codepoint' ? 1 : cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    for (let k = 0; k < width; k++) map.push(i);
    i += u16;
  }
  return (off) => (off >= map.length ? text.length + (off - map.length) : map[off]);
}

function unitLength(s: string, unit: Unit): number {
  if (unit === 'utf16') return s.length;
  if (unit === 'codepoint') return [...s].length;
  return Buffer.byteLength(s, 'utf8');
}

interface OffsetFit {
  unit: Unit;
  shift: number;
  /** Text tokens whose offset is their start in the walk. */
  agree: number;
  /** Text tokens whose offset points one past a leading space (SentencePiece drift). */
  drift: number;
  disagree: number;
}

/** How well the server's offsets, read in one unit with one shift, agree with the places the walk found. */
function fitOffsets(text: string, tokens: string[], offsets: number[], placed: Placed[], unit: Unit, shift: number): OffsetFit {
  const toU16 = unitMapper(text, unit);
  const fit: OffsetFit = { unit, shift, agree: 0, drift: 0, disagree: 0 };
  for (let i = 0; i < placed.length; i++) {
    const p = placed[i];
    if (p.kind !== 'text') continue;
    const raw = offsets[i] - shift;
    if (!Number.isFinite(raw) || raw < 0) {
      fit.disagree++;
      continue;
    }
    const s = toU16(raw);
    if (s === p.start) fit.agree++;
    else if (s === p.start + 1 && text[p.start] === ' ') fit.drift++;
    else fit.disagree++;
  }
  return fit;
}

function bestOffsetFit(text: string, tokens: string[], offsets: number[], placed: Placed[], added: number): OffsetFit {
  let best: OffsetFit | undefined;
  for (const unit of ['utf16', 'codepoint', 'utf8'] as Unit[]) {
    const shifts = new Set([0]);
    for (let i = 0; i < added; i++) shifts.add(tokens.slice(0, i + 1).reduce((n, t) => n + unitLength(t, unit), 0));
    for (const shift of shifts) {
      const f = fitOffsets(text, tokens, offsets, placed, unit, shift);
      if (!best || f.disagree < best.disagree || (f.disagree === best.disagree && f.drift < best.drift)) best = f;
    }
  }
  return best!;
}

/** Checks the numbers of the span (and the rest of the echo) before any sum is trusted. */
function checkValues(tokens: string[], lps: (number | null)[], first: number, end: number): { error?: string; suspect: string[] } {
  const suspect: string[] = [];
  const name = (i: number) => `token ${i} (${JSON.stringify(tokens[i])})`;
  for (let i = first; i < end; i++) {
    const v = lps[i];
    if (v === null || v === undefined) {
      return {
        error: i === 0
          ? 'the response starts at the first token, whose log-prob is null (it has no context): the template must put something (BOS) before it'
          : `${name(i)} of the response has no log-prob`,
        suspect,
      };
    }
    if (typeof v !== 'number' || Number.isNaN(v)) return { error: `${name(i)} of the response has log-prob ${JSON.stringify(v)}, not a number`, suspect };
    if (v === -Infinity) return { error: `${name(i)} of the response has log-prob -Infinity (probability 0): no finite weight can come of it`, suspect };
    if (!Number.isFinite(v) || v > 0) return { error: `${name(i)} of the response has log-prob ${v}, above 0: not the log of a probability (the server's numbers are wrong)`, suspect };
    if (v === VLLM_NEG_INF_CLAMP) return { error: `${name(i)} of the response has log-prob -9999, vLLM's stand-in for -inf (probability 0): no finite weight can come of it`, suspect };
    if (v < MIN_PLAUSIBLE_LOGPROB) return { error: `${name(i)} of the response has log-prob ${v}, below ${MIN_PLAUSIBLE_LOGPROB}: a sentinel, not a model's log-prob`, suspect };
  }
  if (end > first) {
    let allZero = true;
    for (let i = first; i < end; i++) if (Math.abs(lps[i] as number) > ZERO_SPAN_EPS) allZero = false;
    if (allZero) {
      const what = `every log-prob of the ${end - first}-token span is 0 (|log p| ≤ ${ZERO_SPAN_EPS})`;
      // One near-certain token can be that probable; a whole span cannot (CJE once turned such zeros into weights of 1e17).
      if (end - first > 1) return { error: `${what}: the server sent zeros, not log-probs`, suspect };
      suspect.push(`${what}: a certain token, or a server that sends zeros`);
    }
  }
  // Outside the span the numbers are not summed, but a broken one says the server's numbers are broken.
  for (let i = 0; i < lps.length; i++) {
    if (i >= first && i < end) continue;
    const v = lps[i];
    if (v === null || v === undefined) continue;
    if (typeof v !== 'number' || !(v <= 0) || v < MIN_PLAUSIBLE_LOGPROB) {
      suspect.push(`prompt ${name(i)} has log-prob ${v}: the server's numbers are doubtful`);
      break;
    }
  }
  return { suspect };
}

/** Bumped whenever extractSpan's answer checks change: lines with an older value were checked less. */
export const ANSWER_CHECKS_VERSION = 1;

/**
 * The checks a stored span can still pass without its echo: for score lines
 * written before the answer checks (or by an older version of them), so that
 * resume rescores what would not pass today.
 */
export function recheckStoredSpan(tokens: unknown, lps: unknown, logprob: unknown): string | undefined {
  if (!Array.isArray(tokens) || !Array.isArray(lps) || tokens.length !== lps.length || tokens.length === 0) return 'the stored span has no tokens or mismatched log-probs';
  if (typeof logprob !== 'number') return 'the stored log-prob is not a number';
  const { error } = checkValues(tokens.map(String), lps as (number | null)[], 0, lps.length);
  if (error) return error;
  const sum = (lps as number[]).reduce((a, b) => a + b, 0);
  if (Math.abs(sum - logprob) > 1e-6 * Math.max(1, Math.abs(sum))) return `the stored log-prob ${logprob} is not the sum of its tokens' (${sum})`;
  return undefined;
}

/**
 * Finds the tokens of the scored span (response, plus end of turn when scored)
 * in a server's echo of `rendered.text` and adds up their log-probs. The echo
 * is trusted only once its tokens spell the text that was sent; offsets are a
 * cross-check, never the sole source of a place.
 */
export function extractSpan(rendered: RenderedPrompt, echo: EchoedTokens, opts: { endOfTurn?: string } = {}): SpanResult {
  const { text, responseStart: rs, scoredEnd } = rendered;
  const { tokens, token_logprobs: lps } = echo ?? ({} as EchoedTokens);
  if (!Array.isArray(tokens) || !Array.isArray(lps) || tokens.length !== lps.length || tokens.length === 0) {
    return { ok: false, failure: 'shape', error: 'the server returned no usable echo (tokens and token_logprobs missing or of different lengths)' };
  }
  if (tokens.some((t) => typeof t !== 'string')) return { ok: false, failure: 'shape', error: 'the echo has tokens that are not strings' };
  const offsets = Array.isArray(echo.text_offset) && echo.text_offset.length === tokens.length ? echo.text_offset : undefined;

  // The server may put up to two tokens (BOS) in front of the text. Try the fewest first.
  const mappers = offsets ? (['utf16', 'codepoint', 'utf8'] as Unit[]).map((u) => unitMapper(text, u)) : [];
  const preferred = offsets ? (i: number) => mappers.map((m) => m(offsets[i])) : undefined;
  let walks: Walk[] = [];
  let furthest: WalkFail | undefined;
  let added = 0;
  for (let k = 0; k <= Math.min(2, tokens.length - 1) && !walks.length; k++) {
    const r = completeWalks(text, tokens, k, preferred);
    walks = r.walks;
    added = k;
    const f = r.furthest;
    if (f && (!furthest || f.cursor > furthest.cursor || (f.cursor === furthest.cursor && f.at > furthest.at))) furthest = f;
  }
  const walk: Walk | undefined = walks[0];
  if (!walk) {
    const f = furthest!;
    if (f.fail === 'short') {
      return { ok: false, failure: 'spelling', error: `the echo spells only ${f.cursor} of the ${text.length} characters that were sent: the server dropped the end of the prompt, so no sum over it can be trusted` };
    }
    if (f.fail === 'long') {
      return { ok: false, failure: 'spelling', error: `the echo has ${tokens.length - f.at} token(s) more than the text that was sent (${JSON.stringify(tokens.slice(f.at, f.at + 3))}…): it is not the echo of this prompt` };
    }
    const readable = tokens.filter((t) => isPartial(t) || textForms(t).some((f) => f.length > 0 && text.includes(f))).length;
    const unreadable = readable < tokens.length / 2;
    return {
      ok: false,
      failure: unreadable ? 'unreadable' : 'spelling',
      error: unreadable
        ? 'the echoed token strings are in a form that cannot be matched to the text'
        : `the echoed tokens do not spell the text that was sent: token ${f.at} (${JSON.stringify(tokens[f.at])}) does not fit at character ${f.cursor} (${JSON.stringify(text.slice(f.cursor, f.cursor + 12))})`,
      needPrefixCount: unreadable,
    };
  }

  const notes: string[] = [];
  const suspect: string[] = [];
  const placed = walk.placed;
  let method: SpanInfo['method'] = 'token_text';
  let fit: OffsetFit | undefined;
  if (offsets) {
    fit = bestOffsetFit(text, tokens, offsets, placed, added);
    if (fit.disagree === 0) method = 'text_offset';
    else notes.push(`text_offset disagrees with the token strings on ${fit.disagree} token(s): offsets not trusted, the tokens were placed by their strings`);
  } else notes.push('no text_offset in the echo');
  if (fit && method === 'text_offset' && fit.drift) notes.push(`${fit.drift} offset(s) pointed past a leading space (SentencePiece drift), corrected`);
  if (fit && method === 'text_offset' && fit.shift) notes.push(`offsets shifted by ${fit.shift}: the server counted its BOS "${tokens[0]}" as text`);
  if (walk.dummyPrefix) notes.push(`${walk.dummyPrefix} token(s) carry SentencePiece's word-start ▁ where the text has no space`);
  if (walk.empty) notes.push(`${walk.empty} token(s) were echoed as "" (pieces of a character decoded one by one): placed with zero width before the token that completes them`);
  if (walk.strippedSpace) notes.push(`${walk.strippedSpace} token(s) were echoed without the space before them (decoded one by one)`);
  if (added) notes.push(`the server added ${added} token(s) in front of the text (${JSON.stringify(tokens.slice(0, added))})`);
  if (added && tokens.length > added && tokens[0] === tokens[added] && rendered.text.startsWith(textForms(tokens[0]).find((f) => f.length) ?? '\0')) {
    notes.push(`double BOS: the echo starts with ${JSON.stringify(tokens[0])} twice (the template writes it and the server adds it)`);
  }

  const { first, end, straddle } = spanEdges(placed, tokens, rs, scoredEnd);
  const inside = walk.opaque.find(([a, b]) => [rs, scoredEnd].some((e) => a < e && e < b));
  if (inside) {
    return { ok: false, failure: 'span', error: `the span is ambiguous: the prompt/response boundary falls inside a run of byte pieces echoed as U+FFFD (characters ${inside[0]}–${inside[1]}), which do not show where it lies` };
  }
  if (straddle.length) notes.push('a token straddles the prompt/response boundary and is included: prompt and response were tokenized jointly');
  // Byte pieces that more than one place fits: harmless unless another placement moves the span's edges.
  const rival = walks.slice(1).find((w) => {
    const e = spanEdges(w.placed, tokens, rs, scoredEnd);
    return e.first !== first || e.end !== end;
  });
  if (rival) {
    if (method !== 'text_offset') {
      return { ok: false, failure: 'span', error: `the span is ambiguous: runs of byte pieces fit ${walks.length} placements of the tokens that put the prompt/response boundary differently, and no trusted offsets decide` };
    }
    suspect.push(`ambiguous span: the byte pieces at its edge fit ${walks.length} placements; the server's offsets chose one`);
  }

  if (end <= first) return { ok: false, failure: 'span', error: rs === scoredEnd ? 'the response is empty and no end-of-turn is scored' : 'no token of the response was found in the echo' };
  const checked = checkValues(tokens, lps, first, end);
  if (checked.error) return { ok: false, failure: 'values', error: checked.error };
  suspect.push(...checked.suspect);

  const endOfTurnScored = scoredEnd > rendered.responseEnd;
  if (endOfTurnScored && opts.endOfTurn) {
    const eotTokens = placed.slice(first, end).filter((p) => p.start >= rendered.responseEnd).length;
    if (eotTokens > 1) notes.push(`the end-of-turn "${opts.endOfTurn}" is ${eotTokens} tokens here, not one: the server's tokenizer does not know it (wrong template for this model?)`);
  }
  const numbers = lps.slice(first, end) as number[];
  let sum = 0;
  for (const v of numbers) sum += v;
  const span: SpanInfo = {
    method,
    approximate: false,
    firstToken: first,
    endToken: end,
    endOfTurnScored,
    tokenization: 'joined',
  };
  if (method === 'text_offset' && fit) {
    // In ASCII text every unit gives the same offsets: the unit is only known when the text tells them apart.
    if (/[^\x00-\x7f]/.test(text)) span.offsetUnit = fit.unit;
    if (fit.shift) span.offsetShift = fit.shift;
  }
  if (straddle.length) span.straddle = straddle;
  if (notes.length) span.notes = notes;
  const out: ScoredSpan = { span, logprob: sum, tokens: tokens.slice(first, end), token_logprobs: numbers };
  if (Array.isArray(echo.entropy) && echo.entropy.length === tokens.length) out.entropy = echo.entropy.slice(first, end);
  if (Array.isArray(echo.top_logprobs) && echo.top_logprobs.length === tokens.length) out.top_logprobs = echo.top_logprobs.slice(first, end);
  if (suspect.length) out.suspect = suspect;
  return { ok: true, value: out };
}

/**
 * Last resort when the token strings cannot be matched to the text: the
 * response is taken to be everything after the prompt's own token count. It
 * is approximate by nature (the joined text may tokenize differently at the
 * seam, and nothing checks that the echo spells the text), so the result is
 * always kept as suspect.
 */
export function spanByPrefixCount(rendered: RenderedPrompt, echo: EchoedTokens, prefix: EchoedTokens | number): SpanResult {
  const { tokens, token_logprobs: lps } = echo;
  const promptTokenCount = typeof prefix === 'number' ? prefix : prefix.tokens?.length ?? 0;
  if (promptTokenCount <= 0 || promptTokenCount >= tokens.length) {
    return { ok: false, failure: 'span', error: `prefix count ${promptTokenCount} does not fit an echo of ${tokens.length} tokens` };
  }
  if (typeof prefix !== 'number') {
    // The prompt's own echo must be the start of the full echo, apart from its last token (the seam).
    const k = promptTokenCount - 1;
    for (let i = 0; i < k; i++) {
      if (prefix.tokens[i] !== tokens[i]) return { ok: false, failure: 'spelling', error: `prefix count: the prompt's own echo differs from the full echo at token ${i} (${JSON.stringify(prefix.tokens[i])} vs ${JSON.stringify(tokens[i])})` };
    }
  }
  const first = promptTokenCount;
  const checked = checkValues(tokens, lps, first, tokens.length);
  if (checked.error) return { ok: false, failure: 'values', error: checked.error };
  const numbers = lps.slice(first) as number[];
  return {
    ok: true,
    value: {
      span: {
        method: 'prefix_count',
        approximate: true,
        firstToken: first,
        endToken: tokens.length,
        endOfTurnScored: rendered.scoredEnd > rendered.responseEnd,
        tokenization: 'joined',
        notes: ['response located by counting the prompt\'s tokens: approximate at the prompt/response seam'],
      },
      logprob: numbers.reduce((a, b) => a + b, 0),
      tokens: tokens.slice(first),
      token_logprobs: numbers,
      suspect: ['approximate: the response was located by counting the prompt\'s tokens, not by the echoed text', ...checked.suspect],
    },
  };
}

/**
 * The span of a token-id prompt (separate tokenization): the ids after the
 * prompt's are the response's by construction. The echo must still be the
 * echo of those ids: as many tokens as ids, and the ids themselves where the
 * server returns them.
 */
export function spanFromIds(rendered: RenderedPrompt, echo: EchoedTokens & { token_ids?: number[] | null }, sent: { ids: number[]; promptLength: number }): SpanResult {
  const { tokens, token_logprobs: lps } = echo ?? ({} as EchoedTokens);
  if (!Array.isArray(tokens) || !Array.isArray(lps) || tokens.length !== lps.length || tokens.length === 0) {
    return { ok: false, failure: 'shape', error: 'the server returned no usable echo (tokens and token_logprobs missing or of different lengths)' };
  }
  const { ids, promptLength } = sent;
  if (tokens.length !== ids.length) {
    return { ok: false, failure: 'spelling', error: `the echo has ${tokens.length} tokens for the ${ids.length} token ids that were sent${tokens.length > ids.length ? ' (did the server add a BOS to a token-id prompt?)' : ''}` };
  }
  if (Array.isArray(echo.token_ids) && echo.token_ids.length === ids.length) {
    const at = ids.findIndex((id, i) => echo.token_ids![i] !== id);
    if (at >= 0) return { ok: false, failure: 'spelling', error: `the echo's token id ${at} is ${echo.token_ids[at]}, not the ${ids[at]} that was sent` };
  }
  const first = promptLength;
  const end = ids.length;
  if (end <= first) return { ok: false, failure: 'span', error: 'the response is empty and no end-of-turn is scored' };
  const checked = checkValues(tokens, lps, first, end);
  if (checked.error) return { ok: false, failure: 'values', error: checked.error };
  const numbers = lps.slice(first, end) as number[];
  const out: ScoredSpan = {
    span: {
      method: 'token_ids',
      approximate: false,
      firstToken: first,
      endToken: end,
      endOfTurnScored: rendered.scoredEnd > rendered.responseEnd,
      tokenization: 'separate',
      notes: ['prompt and response tokenized separately and sent as token ids: the span is the response\'s ids by construction'],
    },
    logprob: numbers.reduce((a, b) => a + b, 0),
    tokens: tokens.slice(first, end),
    token_logprobs: numbers,
  };
  if (Array.isArray(echo.entropy) && echo.entropy.length === tokens.length) out.entropy = echo.entropy.slice(first, end);
  if (Array.isArray(echo.top_logprobs) && echo.top_logprobs.length === tokens.length) out.top_logprobs = echo.top_logprobs.slice(first, end);
  if (checked.suspect.length) out.suspect = checked.suspect;
  return { ok: true, value: out };
}
