// Keeps secrets out of anything shown or logged. Pure: the core's redaction, with the
// extension's own list of keys it looked up (SecretStorage or the environment).
import { redact } from '../core/secrets';

export { redact };

/** The message of anything thrown, redacted. */
export function errorMessage(e: unknown, secrets: readonly (string | undefined)[]): string {
  const msg = e instanceof Error ? e.message : String(e);
  return redact(msg, secrets);
}
