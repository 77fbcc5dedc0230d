// A deterministic toy language model whose log-probabilities are a hash of
// (model name, context, token id). The server passes as context a running hash
// of every earlier token, so the model conditions on the whole prefix.
//
//   log p(t | prev) = -(MIN_NLL + SPAN * u),  u = hash(model, prev, t) / 2^32  ∈ [0, 1)
//
// so every value is finite and in (-(MIN_NLL+SPAN), -MIN_NLL] ⊂ (-∞, 0).
// It is not normalised over an unbounded vocabulary (ids are hashes), but the
// alternatives shown in top_logprobs come from a fixed candidate vocabulary
// scored with the same function, so a top-k list is always consistent with
// token_logprobs: the chosen token's value in top_logprobs equals its
// token_logprob, and the alternatives are the k best candidates in order.
// Entropy (an added field) is that of the softmax over the candidate
// vocabulary, a function of (model, prev) only.

import { hash32, ToyToken, ToyTokenizer } from './toy-tokenizer';

export const MIN_NLL = 0.05;
export const SPAN = 11.95;

/** Candidate next tokens offered as top_logprobs alternatives. */
export const CANDIDATE_VOCAB: ReadonlyArray<string> = Object.freeze([
  ' the', ' a', ' of', ' and', ' to', ' in', ' is', ' it', ' that', ' for', ' on', ' was', ' with', ' as', ' I',
  ' you', ' he', ' she', ' we', ' they', ' be', ' at', ' by', ' not', ' this', ' are', ' or', ' from', ' but',
  ' have', ' an', ' which', ' one', ' all', ' were', ' can', ' will', ' there', ' more', ' what', ' so', ' do',
  ',', '.', '!', '?', ':', ';', '\n', '\n\n', ' ', 'the', 'The', 'A', 'I', 'ing', 'ed', 's', 'er', 'ly', '1', ' 2',
  '<|eot_id|>', '<|im_end|>', '</s>',
]);

export interface TopEntry {
  token: string;
  id: number;
  logprob: number;
}

export class ToyModel {
  readonly name: string;
  private readonly candidates: ToyToken[];

  constructor(name: string, tokenizer: ToyTokenizer = new ToyTokenizer()) {
    this.name = name;
    const seen = new Set<number>();
    this.candidates = [];
    for (const s of CANDIDATE_VOCAB) {
      const t = tokenizer.tokenOf(s);
      if (!seen.has(t.id)) {
        seen.add(t.id);
        this.candidates.push(t);
      }
    }
  }

  /** log p(token | previous token), deterministic, finite, < 0. */
  logprob(prevId: number, id: number): number {
    const u = hash32(`${this.name}\u0000${prevId}\u0000${id}`) / 4294967296;
    return -(MIN_NLL + SPAN * u);
  }

  /**
   * The k most likely candidates after `prev` (ties broken by token string),
   * plus the chosen token when it is not among them (OpenAI: "the API will
   * always return the logprob of the sampled token, so there may be up to
   * logprobs+1 elements"). The chosen token competes for the top k with the
   * candidate vocabulary.
   */
  topK(prevId: number, chosen: { id: number; text: string }, k: number): TopEntry[] {
    const pool: TopEntry[] = this.candidates.map((c) => ({ token: c.text, id: c.id, logprob: this.logprob(prevId, c.id) }));
    if (!pool.some((e) => e.id === chosen.id)) pool.push({ token: chosen.text, id: chosen.id, logprob: this.logprob(prevId, chosen.id) });
    pool.sort((a, b) => b.logprob - a.logprob || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
    const top = pool.slice(0, Math.max(0, k));
    if (!top.some((e) => e.id === chosen.id)) top.push(pool.find((e) => e.id === chosen.id)!);
    return top;
  }

  /** Entropy (nats) of the softmax of the candidate logits after `prev`. */
  entropy(prevId: number): number {
    const l = this.candidates.map((c) => this.logprob(prevId, c.id));
    const m = Math.max(...l);
    const z = l.reduce((s, x) => s + Math.exp(x - m), 0);
    let h = 0;
    for (const x of l) {
      const p = Math.exp(x - m) / z;
      if (p > 0) h -= p * Math.log(p);
    }
    return h;
  }

  /** Number of candidates (entropy is at most log of this). */
  get candidateCount(): number {
    return this.candidates.length;
  }
}
