// Token counts for planning only (how much a run will send), from js-tiktoken's
// o200k_base vocabulary: not the scored model's tokenizer, so every number it
// gives is labelled approximate wherever it is shown. Never used for a span.

import { Tiktoken, type TiktokenBPE } from 'js-tiktoken/lite';

// The package exports its ranks by subpath, which this project's TypeScript module resolution does not read.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ranks = (): TiktokenBPE => {
  const m = require('js-tiktoken/ranks/o200k_base') as TiktokenBPE & { default?: TiktokenBPE };
  return m.default ?? m;
};

let enc: Tiktoken | undefined;

export const ESTIMATE_VOCABULARY = 'o200k_base (js-tiktoken)';

/** Pieces this long are encoded whole; BPE's cost grows faster than a piece's length, so longer text goes in chunks. */
const CHUNK = 4096;
/** Beyond this, the count is scaled from samples at both ends: a planning number must not cost minutes on one huge record. */
const SAMPLED_ABOVE = 256 * 1024;

function encodeChunked(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i += CHUNK) n += enc!.encode(text.slice(i, i + CHUNK), [], []).length;
  return n;
}

/** Approximate token count of `text`; special-token text such as <|eot_id|> counts as ordinary text. */
export function estimateTokens(text: string): number {
  enc ??= new Tiktoken(ranks());
  if (text.length <= CHUNK) return enc.encode(text, [], []).length;
  if (text.length <= SAMPLED_ABOVE) return encodeChunked(text);
  const half = SAMPLED_ABOVE / 2;
  const sampled = encodeChunked(text.slice(0, half)) + encodeChunked(text.slice(-half));
  return Math.round((sampled * text.length) / SAMPLED_ABOVE);
}

/**
 * Lets the vocabulary go (about 150 MB of RSS): the next estimate loads it
 * again. A scoring run has learned its rate after its first prompts and
 * needs it no more.
 */
export function releaseEstimator(): void {
  enc = undefined;
}

/**
 * Tokens per character, learned from the first prompts of a run and then
 * applied to the rest by their length, so that progress can show an estimate
 * without tokenizing every prompt twice.
 */
export class TokenRate {
  private chars = 0;
  private tokens = 0;
  private samples = 0;

  /** release: drop the vocabulary once the rate is learned (a long run should not carry it to the end). */
  constructor(
    private readonly sampleLimit = 64,
    private readonly release = false,
  ) {}

  /** Approximate tokens of a prompt: counted for the first prompts, scaled by length after. */
  add(text: string): number {
    if (this.samples < this.sampleLimit) {
      const n = estimateTokens(text);
      this.samples++;
      this.chars += text.length;
      this.tokens += n;
      if (this.samples === this.sampleLimit && this.release) releaseEstimator();
      return n;
    }
    return Math.round((text.length * this.tokens) / Math.max(1, this.chars));
  }
}

/**
 * TokenRate with the counting in a worker thread that exits when done, so a
 * long run's heap never holds the vocabulary (V8 sizes its heap by the
 * largest it has been: 150 MB once is 150 MB more for the whole run). Until
 * the worker answers, prompts are counted by length and added when the rate
 * is known. Where no worker can start (a bundle without the worker's file),
 * it counts in this thread and lets the vocabulary go after its samples.
 */
export class OffThreadTokenRate {
  private readonly samples: string[] = [];
  private chars = 0;
  private rate: number | undefined;
  private backlog = 0;
  private worker: import('node:worker_threads').Worker | undefined;
  private fallback: TokenRate | undefined;
  private started = false;
  /** While the worker counts: a caller may wait, so that its own heap stays small while the worker's is large. */
  counting: Promise<void> | undefined;

  constructor(
    /** Gets the tokens of prompts counted before the rate was known. */
    private readonly late: (tokens: number) => void,
    private readonly sampleLimit = 64,
  ) {}

  add(text: string): number {
    if (this.fallback) return this.fallback.add(text);
    if (this.rate !== undefined) return Math.round(text.length * this.rate);
    this.backlog += text.length;
    if (!this.started) {
      // Long prompts are cut as estimateTokens samples them anyway; the rate is per character.
      const t = text.length > SAMPLED_ABOVE ? text.slice(0, SAMPLED_ABOVE) : text;
      this.samples.push(t);
      this.chars += t.length;
      if (this.samples.length === this.sampleLimit) this.start();
    }
    return 0;
  }

  private start(): void {
    this.started = true;
    /* eslint-disable @typescript-eslint/no-require-imports */
    const file = require('node:path').join(__dirname, 'token-rate-worker.js') as string;
    if (!require('node:fs').existsSync(file)) return this.inThread();
    const { Worker } = require('node:worker_threads') as typeof import('node:worker_threads');
    /* eslint-enable @typescript-eslint/no-require-imports */
    const samples = this.samples.splice(0);
    try {
      this.worker = new Worker(file, { workerData: samples });
    } catch {
      this.samples.push(...samples);
      return this.inThread();
    }
    // Not unref'd: a reading that waits for it must not see the process exit under it; it exits once it has answered.
    const w = this.worker;
    this.counting = new Promise<void>((r) => w.once('exit', () => r())).finally(() => (this.counting = undefined));
    this.worker.once('message', (counts: number[]) => {
      const tokens = counts.reduce((a, b) => a + b, 0);
      this.rate = tokens / Math.max(1, this.chars);
      const late = Math.round(this.backlog * this.rate);
      this.backlog = 0;
      this.late(late);
    });
    this.worker.once('error', () => undefined);
    this.worker.once('exit', () => (this.worker = undefined));
  }

  private inThread(): void {
    this.started = true;
    this.fallback = new TokenRate(this.sampleLimit, true);
    let late = 0;
    for (const t of this.samples.splice(0)) late += this.fallback.add(t);
    this.backlog = 0;
    this.late(late);
  }

  /** At the end: a run with fewer prompts than the sample counts them here (small: no worker for it); one counting waits for it. */
  async close(): Promise<void> {
    if (!this.started && this.samples.length) this.inThread();
    const w = this.worker;
    if (w) await new Promise<void>((r) => w.once('exit', () => r()));
  }
}

/** 12,345 → "12.3k": for approximate counts (progress, estimates), never a score. */
export function formatApproxCount(n: number): string {
  return n < 1e3 ? String(n) : n < 1e6 ? `${(n / 1e3).toFixed(1)}k` : `${(n / 1e6).toFixed(2)}M`;
}
