/**
 * A scored token's rank among the server's top alternatives at its position
 * (score lines' top_logprobs, kept when a policy asks for topLogprobs > 1).
 *
 * Pure: no 'vscode', no I/O, no Node; the webview imports it too.
 */

export interface TokenRank {
  /** 1-based rank, or null when the token is not among the alternatives. */
  rank: number | null;
  /** How many alternatives the server returned at this position. */
  k: number;
  /** "3", or "> 5" when the token is not among the 5 alternatives. */
  text: string;
  /** The alternatives, most likely first (ties by token text). */
  alternatives: { token: string; logprob: number }[];
}

/** Log-probs closer than this are the same number written twice (JSON round trips, float32 servers). */
const SAME_LOGPROB = 1e-6;

/**
 * The rank of `token` (with log-prob `logprob`) among `alternatives`: the
 * 1-based position of its log-prob, i.e. 1 + the number of alternatives more
 * likely than it. It counts as present when its text is a key, or, failing
 * that, when an alternative carries its log-prob (servers that write the
 * alternatives' bytes differently from the echoed token). Absent: "> k".
 * Null when the position has no alternatives.
 */
export function tokenRank(token: string, logprob: number, alternatives: Record<string, number> | null | undefined): TokenRank | null {
  if (!alternatives || typeof alternatives !== 'object') return null;
  const alts = Object.entries(alternatives)
    .filter((e): e is [string, number] => typeof e[1] === 'number' && !Number.isNaN(e[1]))
    .map(([t, lp]) => ({ token: t, logprob: lp }))
    .sort((a, b) => b.logprob - a.logprob || (a.token < b.token ? -1 : a.token > b.token ? 1 : 0));
  const k = alts.length;
  if (!k) return null;
  let own: number | null = null;
  if (Object.prototype.hasOwnProperty.call(alternatives, token) && typeof alternatives[token] === 'number') own = alternatives[token];
  else if (Number.isFinite(logprob) && alts.some((a) => Math.abs(a.logprob - logprob) <= SAME_LOGPROB)) own = logprob;
  if (own === null) return { rank: null, k, text: `> ${k}`, alternatives: alts };
  const mine = own;
  const rank = 1 + alts.filter((a) => a.logprob > mine + SAME_LOGPROB).length;
  return { rank, k, text: String(rank), alternatives: alts };
}
