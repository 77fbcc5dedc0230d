/**
 * Per-token log-prob differences between a target and the behavior policy
 * over the same response tokens: Δ_t = logp′_t − logp₀_t. When the tokens
 * coincide, ΣΔ_t is the record's log-weight. When the token strings differ
 * (different tokenizers), the two sequences are not aligned at all: only the
 * totals are reported.
 */

export interface TokenDeltaInput {
  behaviorLogprobs: ArrayLike<number>;
  targetLogprobs: ArrayLike<number>;
  behaviorTokens?: ArrayLike<string>;
  targetTokens?: ArrayLike<string>;
  /** How many tokens to list by |Δ| (default 10). */
  topN?: number;
}

export interface TokenDeltaEntry {
  /** Position in the token sequence. */
  position: number;
  token: string | null;
  behavior_logprob: number;
  target_logprob: number;
  delta: number;
}

export interface TokenDeltaResult {
  /** False when the two token sequences differ (different tokenizers): no per-token Δ. */
  aligned: boolean;
  /** Why not aligned, else null. */
  reason: string | null;
  n_tokens_behavior: number;
  n_tokens_target: number;
  /** Σ logp₀_t, Σ logp′_t, and their difference (the record's log-weight). */
  behavior_total: number;
  target_total: number;
  total_delta: number;
  /** Per-token Δ (empty when not aligned). */
  deltas: number[];
  /** Top tokens by |Δ|, largest first; ties by position (empty when not aligned). */
  top: TokenDeltaEntry[];
}

function sum(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  return s;
}

export function perTokenDelta(input: TokenDeltaInput): TokenDeltaResult {
  const { behaviorLogprobs: b, targetLogprobs: t, behaviorTokens: bt, targetTokens: tt } = input;
  const topN = input.topN ?? 10;
  const bTotal = sum(b);
  const tTotal = sum(t);
  const common = {
    n_tokens_behavior: b.length,
    n_tokens_target: t.length,
    behavior_total: bTotal,
    target_total: tTotal,
    total_delta: tTotal - bTotal,
  };
  let reason: string | null = null;
  if (bt && tt) {
    if (bt.length !== tt.length) {
      reason = `Token sequences differ in length (${bt.length} vs ${tt.length}): different tokenizers; tokens are not aligned.`;
    } else {
      for (let i = 0; i < bt.length; i++) {
        if (bt[i] !== tt[i]) {
          reason = `Token strings differ at position ${i} (${JSON.stringify(bt[i])} vs ${JSON.stringify(tt[i])}): different tokenizers; tokens are not aligned.`;
          break;
        }
      }
    }
  }
  if (!reason && b.length !== t.length) {
    reason = `Log-prob sequences differ in length (${b.length} vs ${t.length}); tokens are not aligned.`;
  }
  if (!reason && bt && bt.length !== b.length) {
    reason = `Token strings (${bt.length}) and log-probs (${b.length}) differ in count.`;
  }
  if (reason) return { aligned: false, reason, ...common, deltas: [], top: [] };
  const deltas: number[] = new Array(b.length);
  for (let i = 0; i < b.length; i++) deltas[i] = t[i] - b[i];
  const order = deltas.map((_, i) => i);
  order.sort((i, j) => Math.abs(deltas[j]) - Math.abs(deltas[i]) || i - j);
  const tokens = bt ?? tt;
  const top = order.slice(0, Math.max(0, topN)).map((i) => ({
    position: i,
    token: tokens ? tokens[i] : null,
    behavior_logprob: b[i],
    target_logprob: t[i],
    delta: deltas[i],
  }));
  return { aligned: true, reason: null, ...common, deltas, top };
}
