// How suspect reasons are grouped, the same in cje score's summary and in the report.

/**
 * The kind of a suspect reason: its text before the first ':' outside a quoted
 * token, quoted tokens written "…" and the number after "token" / "log-prob"
 * written N (see SuspectReason).
 */
export function suspectKind(reason: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < reason.length; i++) {
    const ch = reason[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === ':') break;
    if (ch === '"') {
      quoted = true;
      out += '"…"';
      continue;
    }
    out += ch;
  }
  const kind = out.replace(/\b(token|log-prob) [+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?/gi, '$1 N').trim();
  return kind || reason.trim();
}
