import type { RenderedPrompt, SpanInfo } from './types';

/** What a completions server echoed for one prompt. */
export interface EchoedTokens {
  tokens: string[];
  token_logprobs: (number | null)[];
  text_offset?: number[] | null;
  entropy?: (number | null)[] | null;
}

export interface ScoredSpan {
  span: SpanInfo;
  logprob: number;
  tokens: string[];
  token_logprobs: number[];
  entropy?: (number | null)[];
}

export type SpanResult = { ok: true; value: ScoredSpan } | { ok: false; error: string; needPrefixCount?: boolean };

type Unit = 'utf16' | 'codepoint' | 'utf8';

/** A token's place in the text as UTF-16 indices; `added` tokens are not in the text at all. */
interface Placed {
  start: number;
  end: number;
  kind: 'text' | 'partial' | 'added';
}

/** Partial UTF-8 sequences come back as U+FFFD or as OpenAI's "bytes:\xNN" form: they can't be matched as text. */
function isPartial(tok: string): boolean {
  return tok.startsWith('bytes:') || tok.includes('\ufffd');
}

/** The forms a server may write a token's text in: as is, SentencePiece's ▁, byte-level BPE's Ġ/Ċ. */
function textForms(tok: string): string[] {
  const forms = [tok];
  if (tok.includes('\u2581')) forms.push(tok.replace(/\u2581/g, ' '));
  if (/[\u0120\u010a]/.test(tok)) forms.push(tok.replace(/\u0120/g, ' ').replace(/\u010a/g, '\n'));
  return forms;
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

function matchAt(text: string, tok: string, at: number): number {
  for (const f of textForms(tok)) if (f.length > 0 && text.startsWith(f, at)) return f.length;
  return -1;
}

interface Placement {
  placed: Placed[];
  mismatches: number;
  spaceDrift: number;
  unit?: Unit;
  shift?: number;
}

/** Places tokens by their offsets under one hypothesis of unit and shift, verifying each against the text. */
function placeByOffsets(text: string, tokens: string[], offsets: number[], unit: Unit, shift: number): Placement {
  const toU16 = unitMapper(text, unit);
  const placed: Placed[] = [];
  let mismatches = 0;
  let spaceDrift = 0;
  let prev = 0;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    const raw = offsets[i] - shift;
    if (raw < 0) {
      // Only the server's own leading token (its BOS counted as text) may sit before the text.
      if (i < 2) placed.push({ start: 0, end: 0, kind: 'added' });
      else {
        mismatches++;
        placed.push({ start: prev, end: prev, kind: 'text' });
      }
      continue;
    }
    const s = toU16(raw);
    if (s < prev || s > text.length) {
      mismatches++;
      placed.push({ start: prev, end: prev, kind: 'text' });
      continue;
    }
    if (isPartial(tok)) {
      placed.push({ start: s, end: s, kind: 'partial' });
      prev = s;
      continue;
    }
    const len = matchAt(text, tok, s);
    if (len >= 0) {
      placed.push({ start: s, end: s + len, kind: 'text' });
      prev = s;
      continue;
    }
    // SentencePiece servers may report the offset after a token's leading space.
    const spaced = textForms(tok).find((f) => f.startsWith(' '));
    if (spaced && s > 0 && text[s - 1] === ' ' && text.startsWith(spaced.slice(1), s) && s - 1 >= prev) {
      spaceDrift++;
      placed.push({ start: s - 1, end: s - 1 + spaced.length, kind: 'text' });
      prev = s - 1;
      continue;
    }
    if (i < 2 && s === 0) {
      // A BOS the server prepends without it being in the text.
      placed.push({ start: 0, end: 0, kind: 'added' });
      continue;
    }
    mismatches++;
    placed.push({ start: s, end: s, kind: 'text' });
    prev = s;
  }
  return { placed, mismatches, spaceDrift, unit, shift };
}

/** Places tokens by walking their strings over the text, for servers whose offsets are absent or wrong. */
function placeByWalking(text: string, tokens: string[]): Placement | null {
  const placed: Placed[] = [];
  let cursor = 0;
  let afterPartial = false;
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (isPartial(tok)) {
      placed.push({ start: cursor, end: cursor, kind: 'partial' });
      afterPartial = true;
      continue;
    }
    let len = matchAt(text, tok, cursor);
    if (len < 0 && afterPartial) {
      // The partial pieces before this token spell one character: skip it.
      const cp = text.codePointAt(cursor);
      if (cp !== undefined) {
        const next = cursor + (cp > 0xffff ? 2 : 1);
        for (let k = placed.length - 1; k >= 0 && placed[k].kind === 'partial' && placed[k].start === cursor; k--) placed[k].end = next;
        cursor = next;
        len = matchAt(text, tok, cursor);
      }
    }
    if (len < 0) {
      if (i < 2 && placed.every((p) => p.kind === 'added')) {
        placed.push({ start: 0, end: 0, kind: 'added' });
        continue;
      }
      return null;
    }
    placed.push({ start: cursor, end: cursor + len, kind: 'text' });
    cursor += len;
    afterPartial = false;
  }
  if (afterPartial) {
    const cp = text.codePointAt(cursor);
    if (cp !== undefined) cursor += cp > 0xffff ? 2 : 1;
  }
  return cursor === text.length ? { placed, mismatches: 0, spaceDrift: 0 } : null;
}

function bestOffsetPlacement(text: string, tokens: string[], offsets: number[]): Placement {
  let best: Placement | undefined;
  for (const unit of ['utf16', 'codepoint', 'utf8'] as Unit[]) {
    const shifts = new Set([0]);
    if (tokens.length > 1 && !isPartial(tokens[0])) shifts.add(unitLength(tokens[0], unit));
    for (const shift of shifts) {
      const p = placeByOffsets(text, tokens, offsets, unit, shift);
      if (!best || p.mismatches < best.mismatches || (p.mismatches === best.mismatches && p.spaceDrift < best.spaceDrift)) best = p;
      if (p.mismatches === 0 && p.spaceDrift === 0) return p;
    }
  }
  return best!;
}

/**
 * Finds the tokens of the scored span (response, plus end of turn when scored)
 * in a server's echo of `rendered.text` and adds up their log-probs.
 */
export function extractSpan(rendered: RenderedPrompt, echo: EchoedTokens, opts: { endOfTurn?: string } = {}): SpanResult {
  const { text, responseStart: rs, scoredEnd } = rendered;
  const { tokens, token_logprobs: lps } = echo;
  if (!Array.isArray(tokens) || !Array.isArray(lps) || tokens.length !== lps.length || tokens.length === 0) {
    return { ok: false, error: 'the server returned no usable echo (tokens and token_logprobs missing or of different lengths)' };
  }
  const notes: string[] = [];
  let placement: Placement | null = null;
  let method: SpanInfo['method'] = 'text_offset';
  const offsets = echo.text_offset;
  if (Array.isArray(offsets) && offsets.length === tokens.length) {
    const p = bestOffsetPlacement(text, tokens, offsets);
    if (p.mismatches === 0) placement = p;
    else notes.push(`text_offset disagrees with the token strings on ${p.mismatches} token(s): offsets not trusted`);
  } else {
    notes.push('no text_offset in the echo');
  }
  if (!placement) {
    placement = placeByWalking(text, tokens);
    method = 'token_text';
    if (!placement) {
      return { ok: false, error: `cannot locate the response among the echoed tokens (${notes.join('; ')}; the token strings do not spell the prompt)`, needPrefixCount: true };
    }
  }
  if (placement.spaceDrift) notes.push(`${placement.spaceDrift} offset(s) pointed past a leading space (SentencePiece drift), corrected`);
  if (placement.shift) notes.push(`offsets shifted by ${placement.shift}: the server counted its BOS "${tokens[0]}" as text`);
  const placed = placement.placed;
  const added = placed.filter((p) => p.kind === 'added').length;
  if (added) notes.push(`the server added ${added} token(s) in front of the text (${JSON.stringify(tokens.slice(0, added))})`);
  if (tokens.length > 1 && tokens[0] === tokens[1] && placed[0].start === placed[1].start) {
    notes.push(`double BOS: the echo starts with ${JSON.stringify(tokens[0])} twice (the template writes it and the server adds it)`);
  }

  let first = placed.findIndex((p) => p.kind !== 'added' && p.start >= rs);
  if (first === -1) first = tokens.length;
  let end = placed.findIndex((p, i) => i >= first && p.kind !== 'added' && p.start >= scoredEnd);
  if (end === -1) end = tokens.length;
  const straddle: NonNullable<SpanInfo['straddle']> = [];
  // A token that begins in the prompt and reaches into the response carries the response's first characters.
  const before = first - 1;
  if (before >= 0 && placed[before].kind !== 'added' && placed[before].start < rs && placed[before].end > rs) {
    straddle.push({ index: before, token: tokens[before], side: 'start', included: true });
    first = before;
  }
  const last = end - 1;
  if (last >= first && placed[last].end > scoredEnd) straddle.push({ index: last, token: tokens[last], side: 'end', included: true });
  if (straddle.length) notes.push('a token straddles the prompt/response boundary and is included: prompt and response were tokenized jointly');

  if (end <= first) return { ok: false, error: rs === scoredEnd ? 'the response is empty and no end-of-turn is scored' : 'no token of the response was found in the echo' };
  const spanLps = lps.slice(first, end);
  const nullAt = spanLps.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
  if (nullAt !== -1) {
    const i = first + nullAt;
    return {
      ok: false,
      error: i === 0
        ? 'the response starts at the first token, whose log-prob is null (it has no context): the template must put something (BOS) before it'
        : `token ${i} (${JSON.stringify(tokens[i])}) of the response has no log-prob`,
    };
  }
  const endOfTurnScored = scoredEnd > rendered.responseEnd;
  if (endOfTurnScored && opts.endOfTurn) {
    const eotTokens = placed.slice(first, end).filter((p) => p.start >= rendered.responseEnd).length;
    if (eotTokens > 1) notes.push(`the end-of-turn "${opts.endOfTurn}" is ${eotTokens} tokens here, not one: the server's tokenizer does not know it (wrong template for this model?)`);
  }
  const numbers = spanLps as number[];
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
  if (method === 'text_offset') {
    // In ASCII text every unit gives the same offsets: the unit is only known when the text tells them apart.
    if (/[^\x00-\x7f]/.test(text)) span.offsetUnit = placement.unit;
    if (placement.shift) span.offsetShift = placement.shift;
  }
  if (straddle.length) span.straddle = straddle;
  if (notes.length) span.notes = notes;
  const out: ScoredSpan = { span, logprob: sum, tokens: tokens.slice(first, end), token_logprobs: numbers };
  if (Array.isArray(echo.entropy) && echo.entropy.length === tokens.length) out.entropy = echo.entropy.slice(first, end);
  return { ok: true, value: out };
}

/**
 * Last resort when neither offsets nor token strings can be matched: the
 * response is taken to be everything after the prompt's own token count.
 * Approximate, because the joined text may tokenize differently at the seam.
 */
export function spanByPrefixCount(rendered: RenderedPrompt, echo: EchoedTokens, promptTokenCount: number): SpanResult {
  const { tokens, token_logprobs: lps } = echo;
  if (promptTokenCount <= 0 || promptTokenCount >= tokens.length) {
    return { ok: false, error: `prefix count ${promptTokenCount} does not fit an echo of ${tokens.length} tokens` };
  }
  const first = promptTokenCount;
  const spanLps = lps.slice(first);
  if (spanLps.some((v) => typeof v !== 'number' || !Number.isFinite(v))) return { ok: false, error: 'a response token has no log-prob' };
  const numbers = spanLps as number[];
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
    },
  };
}
