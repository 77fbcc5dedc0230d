import * as assert from 'node:assert/strict';
import { extractSpan, spanByPrefixCount, type EchoedTokens } from '../../src/core/span';
import type { RenderedPrompt } from '../../src/core/types';

// Prompt "Hi é😀", response "ok😀", end of turn "<E>".
// UTF-16 indices:  H0 i1 ␠2 é3 😀4,5 | o6 k7 😀8,9 | <E>10..12   (text length 13)
// code points:     H0 i1 ␠2 é3 😀4   | o5 k6 😀7   | <E>8
// UTF-8 bytes:     H0 i1 ␠2 é3,4 😀5..8 | o9 k10 😀11..14 | <E>15
const PROMPT = 'Hi é😀';
const RESPONSE = 'ok😀';
const EOT = '<E>';
const withEot: RenderedPrompt = { text: PROMPT + RESPONSE + EOT, responseStart: 6, responseEnd: 10, scoredEnd: 13, template: 'test' };
const withoutEot: RenderedPrompt = { text: PROMPT + RESPONSE, responseStart: 6, responseEnd: 10, scoredEnd: 10, template: 'test' };

// Byte-level BPE splits each emoji into two partial pieces that decode to U+FFFD.
const TOKENS = ['Hi', ' é', '\ufffd', '\ufffd', 'ok', '\ufffd', '\ufffd', EOT];
const LPS = [null, -1, -0.5, -0.25, -2, -0.125, -0.0625, -3];
// Response + end of turn: -2 - 0.125 - 0.0625 - 3, exact in binary floating point.
const EXPECTED_WITH_EOT = -5.1875;
const EXPECTED_WITHOUT_EOT = -2.1875;

const OFFSETS = {
  utf16: [0, 2, 4, 4, 6, 8, 8, 10],
  codepoint: [0, 2, 4, 4, 5, 7, 7, 8],
  utf8: [0, 2, 5, 5, 9, 11, 11, 15],
};

function echo(tokens: string[], lps: (number | null)[], offsets?: number[]): EchoedTokens {
  return { tokens, token_logprobs: lps, text_offset: offsets };
}

describe('extractSpan', () => {
  for (const unit of ['utf16', 'codepoint', 'utf8'] as const) {
    it(`detects ${unit} offsets and scores response + end of turn`, () => {
      const r = extractSpan(withEot, echo(TOKENS, LPS, OFFSETS[unit]), { endOfTurn: EOT });
      assert.ok(r.ok, !r.ok ? r.error : '');
      assert.equal(r.value.span.method, 'text_offset');
      // For text with only BMP characters UTF-16 and code points coincide; here they cannot.
      assert.equal(r.value.span.offsetUnit, unit);
      assert.equal(r.value.logprob, EXPECTED_WITH_EOT);
      assert.deepEqual(r.value.tokens, ['ok', '\ufffd', '\ufffd', EOT]);
      assert.equal(r.value.span.endOfTurnScored, true);
      assert.equal(r.value.span.approximate, false);
    });
  }

  it('leaves the end of turn out when it is not scored', () => {
    const r = extractSpan(withoutEot, echo(TOKENS.slice(0, 7), LPS.slice(0, 7), OFFSETS.codepoint.slice(0, 7)));
    assert.ok(r.ok);
    assert.equal(r.value.logprob, EXPECTED_WITHOUT_EOT);
    assert.equal(r.value.span.endOfTurnScored, false);
  });

  it('walks the token strings when the server gives no offsets', () => {
    const r = extractSpan(withEot, echo(TOKENS, LPS));
    assert.ok(r.ok);
    assert.equal(r.value.span.method, 'token_text');
    assert.equal(r.value.logprob, EXPECTED_WITH_EOT);
  });

  it('does not trust offsets that disagree with the token strings', () => {
    const wrong = [0, 1, 2, 3, 4, 5, 6, 7];
    const r = extractSpan(withEot, echo(TOKENS, LPS, wrong));
    assert.ok(r.ok);
    assert.equal(r.value.span.method, 'token_text');
    assert.match(r.value.span.notes!.join(' '), /offsets not trusted/);
    assert.equal(r.value.logprob, EXPECTED_WITH_EOT);
  });

  it('handles OpenAI-style "bytes:" pieces as partial tokens', () => {
    const toks = ['Hi', ' é', 'bytes:\\xf0\\x9f', 'bytes:\\x98\\x80', 'ok', 'bytes:\\xf0\\x9f', 'bytes:\\x98\\x80', EOT];
    const r = extractSpan(withEot, echo(toks, LPS, OFFSETS.utf8));
    assert.ok(r.ok);
    assert.equal(r.value.logprob, EXPECTED_WITH_EOT);
  });

  it('corrects a BOS the server decoded as text (offsets shifted by its length)', () => {
    // "<s>" is 3 code points; the server counts it into every later offset.
    const toks = ['<s>', ...TOKENS];
    const lps = [null, -7, ...LPS.slice(1)];
    const offs = [0, ...OFFSETS.codepoint.map((o) => o + 3)];
    const r = extractSpan(withEot, echo(toks, lps, offs), { endOfTurn: EOT });
    assert.ok(r.ok, !r.ok ? r.error : '');
    assert.equal(r.value.span.offsetShift, 3);
    assert.equal(r.value.logprob, EXPECTED_WITH_EOT);
    assert.match(r.value.span.notes!.join(' '), /BOS/);
  });

  it('accepts a server BOS at offset 0 that is not in the text', () => {
    const toks = ['<s>', ...TOKENS];
    const lps = [null, -7, ...LPS.slice(1)];
    const offs = [0, ...OFFSETS.codepoint];
    const r = extractSpan(withEot, echo(toks, lps, offs));
    assert.ok(r.ok, !r.ok ? r.error : '');
    assert.equal(r.value.logprob, EXPECTED_WITH_EOT);
    assert.match(r.value.span.notes!.join(' '), /added 1 token/);
  });

  it('reports a double BOS', () => {
    const rendered: RenderedPrompt = { text: '<s>Q' + 'A', responseStart: 4, responseEnd: 5, scoredEnd: 5, template: 't' };
    const r = extractSpan(rendered, echo(['<s>', '<s>', 'Q', 'A'], [null, -9, -1, -2], [0, 0, 3, 4]));
    assert.ok(r.ok, !r.ok ? r.error : '');
    assert.equal(r.value.logprob, -2);
    assert.match(r.value.span.notes!.join(' '), /double BOS/);
  });

  it('corrects SentencePiece offsets that point past a leading space', () => {
    // Text "Hello world", response " world" (5..11). The server writes "▁world" at offset 6, after the space.
    const rendered: RenderedPrompt = { text: 'Hello world', responseStart: 5, responseEnd: 11, scoredEnd: 11, template: 't' };
    const r = extractSpan(rendered, echo(['Hello', '\u2581world'], [null, -4], [0, 6]));
    assert.ok(r.ok, !r.ok ? r.error : '');
    assert.equal(r.value.logprob, -4);
    assert.match(r.value.span.notes!.join(' '), /SentencePiece/);
  });

  it('reports and includes a token that straddles the prompt/response boundary', () => {
    // Prompt "A: " + response "Paris": joint tokenization makes " Paris" start inside the prompt.
    const rendered: RenderedPrompt = { text: 'A: Paris', responseStart: 3, responseEnd: 8, scoredEnd: 8, template: 't' };
    const r = extractSpan(rendered, echo(['A', ':', ' Paris'], [null, -1, -6], [0, 1, 2]));
    assert.ok(r.ok);
    assert.equal(r.value.logprob, -6);
    assert.deepEqual(r.value.span.straddle, [{ index: 2, token: ' Paris', side: 'start', included: true }]);
  });

  it('never counts the first token (null log-prob, no context) as a response token', () => {
    const rendered: RenderedPrompt = { text: 'ok', responseStart: 0, responseEnd: 2, scoredEnd: 2, template: 'raw' };
    const r = extractSpan(rendered, echo(['ok'], [null], [0]));
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /first token.*null/);
  });

  it('notes an end of turn that the server tokenized into several pieces', () => {
    const toks = [...TOKENS.slice(0, 7), '<', 'E', '>'];
    const lps = [...LPS.slice(0, 7), -1, -1, -1];
    const offs = [...OFFSETS.utf16.slice(0, 7), 10, 11, 12];
    const r = extractSpan(withEot, echo(toks, lps, offs), { endOfTurn: EOT });
    assert.ok(r.ok);
    assert.equal(r.value.logprob, -2.1875 - 3);
    assert.match(r.value.span.notes!.join(' '), /3 tokens here, not one/);
  });

  it('rejects an echo whose arrays disagree in length', () => {
    const r = extractSpan(withEot, echo(TOKENS, LPS.slice(1), OFFSETS.utf16));
    assert.equal(r.ok, false);
  });

  it('asks for a prefix count when neither offsets nor strings fit, and that result is marked approximate', () => {
    const ids = ['#1', '#2', '#3', '#4', '#5'];
    const lps = [null, -1, -1, -2, -3];
    const r = extractSpan(withEot, echo(ids, lps));
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.needPrefixCount, true);
    const p = spanByPrefixCount(withEot, echo(ids, lps), 3);
    assert.ok(p.ok);
    assert.equal(p.value.logprob, -5);
    assert.equal(p.value.span.approximate, true);
    assert.equal(p.value.span.method, 'prefix_count');
  });

  describe('the echo must spell the text before any sum is trusted', () => {
    const P = '\ufffd';
    // a0 b1 😀2,3 é4 😀5,6 é7 😀8,9 é10; the response starts after the first "😀é".
    const text = 'ab😀é😀é😀é';
    const rendered: RenderedPrompt = { text, responseStart: 5, responseEnd: 11, scoredEnd: 11, template: 't' };
    const toks = ['ab', P, P, P, P, 'é', P, P, P, P, 'é'];
    const lps = [null, -1, -1, -1, -1, -2, -1, -1, -1, -1, -2];

    it('byte pieces that fit two placements with different span edges, and no offsets: an error, never a silent pick', () => {
      // Either the first run is "😀" and the second "😀é😀", or the first is "😀é😀" and the second "😀".
      const r = extractSpan(rendered, echo(toks, lps));
      assert.equal(r.ok, false);
      assert.match(!r.ok ? r.error : '', /the span is ambiguous: runs of byte pieces fit 2 placements/);
    });

    it('the same with offsets that pick one placement: kept, marked suspect', () => {
      // Code-point offsets of the first placement: 😀 at 2, é at 3, then "😀é😀" from 4, é at 7.
      const r = extractSpan(rendered, echo(toks, lps, [0, 2, 2, 2, 2, 3, 4, 4, 4, 4, 7]));
      assert.ok(r.ok, !r.ok ? r.error : '');
      assert.equal(r.value.span.method, 'text_offset');
      assert.deepEqual(r.value.tokens, [P, P, P, P, 'é']);
      assert.equal(r.value.logprob, -6);
      assert.match(r.value.suspect!.join(' '), /ambiguous span: .* 2 placements; the server's offsets chose one/);
    });

    it('a decoder that drops each word\'s leading space (tokens decoded one by one) still spells the text', () => {
      const r = extractSpan({ text: 'Hi there world', responseStart: 8, responseEnd: 14, scoredEnd: 14, template: 't' }, echo(['Hi', 'there', 'world'], [null, -1, -2]));
      assert.ok(r.ok, !r.ok ? r.error : '');
      assert.equal(r.value.logprob, -2);
      assert.match(r.value.span.notes!.join(' '), /2 token\(s\) were echoed without the space before them/);
    });

    it("SentencePiece's dummy-prefix ▁ after a special token is no spelling error", () => {
      const t = '<s>[INST] Hi [/INST] Yes';
      const r = extractSpan({ text: t, responseStart: 21, responseEnd: 24, scoredEnd: 24, template: 't' }, echo(['<s>', '\u2581[', 'INST', ']', '\u2581Hi', '\u2581[', '/', 'INST', ']', '\u2581Yes'], [null, -1, -1, -1, -1, -1, -1, -1, -1, -3]));
      assert.ok(r.ok, !r.ok ? r.error : '');
      assert.equal(r.value.logprob, -3);
    });

    it('a token string that is not in the text at that place is a spelling error naming token and place', () => {
      const r = extractSpan(withEot, echo(['Hi', ' é', P, P, 'no', P, P, EOT], LPS));
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.failure, 'spelling');
      assert.match(!r.ok ? r.error : '', /do not spell the text that was sent: token 4 \("no"\)/);
    });

    it('a positive log-prob outside the span keeps the number but marks it suspect', () => {
      const r = extractSpan(withEot, echo(TOKENS, [null, 0.5, ...LPS.slice(2)], OFFSETS.utf16));
      assert.ok(r.ok);
      assert.equal(r.value.logprob, EXPECTED_WITH_EOT);
      assert.match(r.value.suspect!.join(' '), /prompt token 1 .* has log-prob 0\.5/);
    });

    it('a one-token span at probability 1 is kept as suspect, a longer all-zero span fails', () => {
      const one: RenderedPrompt = { text: 'Q A', responseStart: 1, responseEnd: 3, scoredEnd: 3, template: 't' };
      const r1 = extractSpan(one, echo(['Q', ' A'], [null, 0]));
      assert.ok(r1.ok);
      assert.match(r1.value.suspect!.join(' '), /1-token span is 0/);
      const r2 = extractSpan(withEot, echo(TOKENS, [null, -1, -0.5, -0.25, 0, 0, 0, 0], OFFSETS.utf16));
      assert.equal(r2.ok, false);
    });
  });
});

