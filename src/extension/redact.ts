// Keeps secrets out of anything shown or logged. Pure.

/** `text` with every occurrence of each secret (4+ characters) replaced by "***". */
export function redact(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const s of secrets) {
    if (!s || s.length < 4) continue;
    out = out.split(s).join('***');
  }
  return out;
}

/** The message of anything thrown, redacted. */
export function errorMessage(e: unknown, secrets: readonly (string | undefined)[]): string {
  const msg = e instanceof Error ? e.message : String(e);
  return redact(msg, secrets);
}
