// The date a template that writes "the date of rendering" is rendered with.
// Llama 3.2's chat template writes `strftime_now("%d %b %Y")` into its system
// header where the renderer defines strftime_now (transformers and vLLM do),
// so a logged prompt carries the day it was served. The policy can state that
// day (`date`), else each record can (`date` / `timestamp` / `created_at`);
// without either the template's own fallback date is written.
// Pure: no I/O, no clock.

import type { LogRecord, PolicyConfig } from './types';

/** Record fields read for the date of rendering, in this order; the first that is present is used. */
export const RECORD_DATE_FIELDS = ['date', 'metadata.date', 'timestamp', 'created_at', 'metadata.timestamp', 'metadata.created_at'] as const;

function field(raw: Record<string, unknown>, dotted: string): unknown {
  let cur: unknown = raw;
  for (const k of dotted.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/**
 * A record value as a calendar date YYYY-MM-DD where it is one: an ISO date or date-time string gives
 * its date part as written (the date in the timestamp's own offset: the renderer's local date is not
 * known); a number, or a string of 9-13 digits, is a Unix time in seconds (below 1e11) or milliseconds,
 * taken in UTC. Anything else comes back as text, so that a template which needs the date fails that
 * record with the reason instead of writing a wrong date.
 */
export function recordDateValue(v: unknown): string {
  if (typeof v === 'string') {
    const s = v.trim();
    const iso = /^(\d{4}-\d{2}-\d{2})(?:[T ].*)?$/.exec(s);
    if (iso) return iso[1];
    if (/^\d{9,13}(?:\.\d+)?$/.test(s)) return recordDateValue(Number(s));
    return s;
  }
  if (typeof v === 'number' && Number.isFinite(v)) {
    const ms = Math.abs(v) < 1e11 ? v * 1000 : v;
    const d = new Date(ms);
    if (!Number.isNaN(d.getTime())) return d.toISOString().slice(0, 10);
  }
  return JSON.stringify(v) ?? String(v);
}

/**
 * The date to render a record with for a policy: the policy's `date` when it states one, else the
 * record's first present field of RECORD_DATE_FIELDS (normalised by recordDateValue), else undefined
 * (the template's fallback date). Templates that write no date of rendering ignore it.
 */
export function renderDateFor(policy: PolicyConfig, record: LogRecord): string | undefined {
  if (typeof policy.date === 'string' && policy.date !== '') return policy.date;
  const raw = record.raw ?? {};
  for (const f of RECORD_DATE_FIELDS) {
    const v = field(raw, f);
    if (v !== undefined && v !== null && v !== '') return recordDateValue(v);
  }
  return undefined;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** Whether `s` is a real calendar date written YYYY-MM-DD. */
export function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
  return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
}

/**
 * A calendar date (YYYY-MM-DD) written with a strftime format as Python does in the C locale:
 * %d %m %Y %y %b %B %a %A %%. Throws for a date that is not one or a directive outside that set.
 */
export function formatRenderDate(date: string, format: string): string {
  if (!isCalendarDate(date)) throw new Error(`the date of rendering ${JSON.stringify(date)} is not a calendar date YYYY-MM-DD`);
  const [y, mo, d] = date.split('-').map(Number);
  const wd = new Date(Date.UTC(y, mo - 1, d)).getUTCDay();
  const pad = (n: number) => String(n).padStart(2, '0');
  return format.replace(/%(.)/g, (all, c: string) => {
    switch (c) {
      case 'd': return pad(d);
      case 'm': return pad(mo);
      case 'Y': return String(y);
      case 'y': return pad(y % 100);
      case 'b': return MONTHS[mo - 1].slice(0, 3);
      case 'B': return MONTHS[mo - 1];
      case 'a': return DAYS[wd].slice(0, 3);
      case 'A': return DAYS[wd];
      case '%': return '%';
      default: throw new Error(`date format ${JSON.stringify(format)}: ${all} is not supported (only %d %m %Y %y %b %B %a %A %%)`);
    }
  });
}
