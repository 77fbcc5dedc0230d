// Keys the process looked up, so that no message the core writes or prints can carry one.
// A server (or a proxy in front of it) may quote the request's Authorization header in its
// error body; that body becomes an error message, a score line, a summary.

const known = new Set<string>();

/** Remembers a key that was looked up (shorter than 4 characters: not worth matching, and too common). */
export function rememberSecret(value: string | undefined): void {
  if (value && value.length >= 4) known.add(value);
}

export function knownSecrets(): string[] {
  return [...known];
}

/** `text` with every occurrence of each given (or remembered) secret replaced by "***". */
export function redact(text: string, secrets: Iterable<string | undefined> = known): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4 || !out.includes(s)) continue;
    out = out.split(s).join('***');
  }
  return out;
}
