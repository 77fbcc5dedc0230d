// Synthetic inputs for the report's screenshot test and benchmark: a log and
// a scores file (cje score's format) with three policies — base (behavior),
// clone (same fingerprint; a few records deliberately off) and premium (a
// different model) — or a log carrying CJE's log-prob fields only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mulberry32 } from '../../src/core/diagnostics/estimates';
import { packScoreLine, type TokenDetail } from '../../src/core/score-line-form';
import type { ScoreLine } from '../../src/core/types';

const WORDS = (
  'the a model policy weight token answer question because however therefore data learning machine ' +
  'evaluation estimate sample paris london is of to and in that it for on with as by this'
).split(' ');

/** Responses that must be shown as text, never run. */
export const HOSTILE_RESPONSE = 'Try this: <script>window.__pwned = 1</script> and <img src=x onerror="window.__pwned = 2"> done.';

export interface SyntheticOptions {
  n: number;
  /** Token count range of a response. */
  minTokens?: number;
  maxTokens?: number;
  seed?: number;
  /** Records (0-based) where clone differs from base, with the per-record shift. */
  cloneOff?: (i: number) => number;
  /** Write per-token data (scores file). */
  withScores?: boolean;
  /** Write the score lines packed as cje score does with this `tokens` mode (default: whole lines, as before packing). */
  form?: TokenDetail;
}

export interface SyntheticFiles {
  log: string;
  scores: string | null;
  /** clone's expected violations: 0-based record index → log-weight. */
  cloneViolations: Map<number, number>;
}

function tokenize(text: string): string[] {
  return text.match(/\s*[^\s<>]+|\s*[<>]|\s+/g) ?? [];
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Writes log.jsonl (and scores.jsonl when withScores) under dir. Streams: one line at a time. */
export function writeSynthetic(dir: string, opts: SyntheticOptions): SyntheticFiles {
  fs.mkdirSync(dir, { recursive: true });
  const rnd = mulberry32(opts.seed ?? 7);
  const minT = opts.minTokens ?? 6;
  const maxT = opts.maxTokens ?? 40;
  const cloneOff = opts.cloneOff ?? ((i: number) => (i % 97 === 13 ? 0.25 + (i % 5) * 0.4 : 0));
  const logFile = path.join(dir, 'log.jsonl');
  const scoresFile = opts.withScores ? path.join(dir, 'scores.jsonl') : null;
  const logFd = fs.openSync(logFile, 'w');
  const scFd = scoresFile ? fs.openSync(scoresFile, 'w') : -1;
  const cloneViolations = new Map<number, number>();
  const fp = { base: 'fp-base-000000000', clone: 'fp-base-000000000', premium: 'fp-premium-000000' };
  let logBuf = '';
  let scBuf = '';
  const flush = (force = false) => {
    if (force || logBuf.length > 1 << 20) {
      fs.writeSync(logFd, logBuf);
      logBuf = '';
    }
    if (scFd >= 0 && (force || scBuf.length > 1 << 22)) {
      fs.writeSync(scFd, scBuf);
      scBuf = '';
    }
  };
  for (let i = 0; i < opts.n; i++) {
    const len = minT + Math.floor(rnd() * (maxT - minT + 1));
    let response: string;
    if (i === 0) response = HOSTILE_RESPONSE;
    else {
      const w: string[] = [];
      for (let k = 0; k < len; k++) w.push(WORDS[Math.floor(rnd() * WORDS.length)]);
      if (i % 11 === 0) w.splice(Math.floor(len / 2), 0, '\n');
      response = w.join(' ').replace(/ \n /g, '\n') + '.';
    }
    const tokens = tokenize(response);
    const base = tokens.map(() => r4(-Math.pow(rnd(), 2) * 4 - 0.01));
    const shift = cloneOff(i);
    const clone = base.slice();
    if (shift !== 0) {
      // The mismatch sits on the first token: the boundary, as a template or BOS error would put it.
      clone[0] = r4(clone[0] + shift);
      cloneViolations.set(i, clone[0] - base[0]);
    }
    // premium: another model, mostly close, some tokens it likes much more or less (heavy-ish tail).
    const premium = base.map((b) => {
      const u = rnd();
      const d = u < 0.03 ? (rnd() - 0.3) * 5 : (rnd() - 0.5) * 0.5;
      return r4(Math.min(-0.001, b + d));
    });
    const sum = (a: number[]) => a.reduce((s, x) => s + x, 0);
    const judge = Math.round(rnd() * 100) / 100;
    const id = `syn_${i}`;
    const line = i + 1;
    const rec: Record<string, unknown> = { prompt: `Question ${i}: say something about ${WORDS[i % WORDS.length]}`, response, judge_score: judge, metadata: { prompt_id: id } };
    if (!opts.withScores) {
      rec.base_policy_logprob = sum(base);
      rec.target_policy_logprobs = { clone: sum(clone), premium: sum(premium) };
    }
    logBuf += JSON.stringify(rec) + '\n';
    if (scFd >= 0) {
      for (const [policy, lps] of [['base', base], ['clone', clone], ['premium', premium]] as const) {
        const s: ScoreLine = {
          key: `k${i}-${policy}`,
          record: id,
          line,
          policy,
          fingerprint: fp[policy],
          logprob: sum(lps as number[]),
          tokens,
          token_logprobs: lps as number[],
          span: null,
          error: null,
          model: policy === 'premium' ? 'big-model' : 'small-model',
          template: 'chatml',
          provider: 'local',
          scored_at: '2025-01-01T00:00:00.000Z',
        };
        scBuf += JSON.stringify(opts.form ? packScoreLine(s, opts.form) : s) + '\n';
      }
    }
    flush();
  }
  flush(true);
  fs.closeSync(logFd);
  if (scFd >= 0) fs.closeSync(scFd);
  return { log: logFile, scores: scoresFile, cloneViolations };
}
