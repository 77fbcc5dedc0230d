// What a server's answer says about its rate limit. Read from every answer,
// 200 or 429, so the client can slow down before it is refused:
// - Retry-After (seconds or an HTTP date) and retry-after-ms (OpenAI's SDK and
//   Fireworks send it), on 429 and 503;
// - x-ratelimit-remaining-requests / x-ratelimit-reset-requests (the OpenAI
//   convention Fireworks follows: requests left in the window, and when it
//   refills: "1s", "6m0s", "20ms", or plain seconds);
// - x-ratelimit-over-limit: yes (Fireworks: over the guaranteed limit, the
//   request was served at lower priority; more traffic will be refused).
// Fireworks' x-ratelimit-limit-tokens-* headers state a rate, not what is left,
// so they are not acted on.

export interface RateLimitHints {
  /** How long the server asked to wait, in ms (not capped here). */
  retryAfterMs?: number;
  /** Requests the server will still take in its current window. */
  remainingRequests?: number;
  /** When that window refills, in ms from now. */
  resetRequestsMs?: number;
  /** The server is serving us above our limit (Fireworks): do not grow. */
  overLimit?: boolean;
}

type HeaderGet = (name: string) => string | null | undefined;

/** A Go-style duration ("1m30s", "250ms", "2.5s") or plain seconds, in ms; an epoch time in seconds becomes the time until it. */
export function parseDurationMs(v: string | null | undefined, now = Date.now()): number | undefined {
  if (v == null) return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Number(s);
    // A number this large is a moment (Unix seconds), not a duration.
    return n > 1e9 ? Math.max(0, n * 1000 - now) : n * 1000;
  }
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let end = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[m[2] as 'h' | 'm' | 's' | 'ms'];
    end = re.lastIndex;
  }
  return end === s.length && end > 0 ? total : undefined;
}

/** Retry-After as ms: retry-after-ms first, then Retry-After in seconds or as an HTTP date. */
export function retryAfterMs(get: HeaderGet, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(get('retry-after-ms') ?? '');
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const ra = get('retry-after');
  if (!ra) return undefined;
  const secs = Number(ra.trim());
  const asked = Number.isFinite(secs) ? secs * 1000 : Date.parse(ra) - now;
  return Number.isFinite(asked) && asked >= 0 ? asked : undefined;
}

export function readRateLimitHints(get: HeaderGet, now = Date.now()): RateLimitHints {
  const out: RateLimitHints = {};
  const ra = retryAfterMs(get, now);
  if (ra !== undefined) out.retryAfterMs = ra;
  const rem = get('x-ratelimit-remaining-requests');
  if (rem != null && /^\s*\d+\s*$/.test(rem)) out.remainingRequests = Number(rem);
  const reset = parseDurationMs(get('x-ratelimit-reset-requests'), now);
  if (reset !== undefined) out.resetRequestsMs = reset;
  if ((get('x-ratelimit-over-limit') ?? '').trim().toLowerCase() === 'yes') out.overLimit = true;
  return out;
}
