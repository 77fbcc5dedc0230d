// Where a log record keeps each field the reader needs. Our names are CJE's
// (prompt, response, base_policy_logprob, …); a `fields` mapping in the config
// or `--field NAME=PATH` points any of them at a dotted path in the user's own
// records (`output.text`, `samples[0].score`), so logs from other pipelines are
// read as they are instead of being rewritten first.

/** The fields a mapping may name, in the order the README lists them. */
export const FIELD_NAMES = [
  'id',
  'prompt',
  'messages',
  'response',
  'responses',
  'judge_score',
  'oracle_label',
  'base_policy_logprob',
  'target_policy_logprobs',
] as const;

export type FieldName = (typeof FIELD_NAMES)[number];

/** Our field name → dotted path in the user's records. */
export type FieldMap = Partial<Record<FieldName, string>>;

/**
 * The paths read when a field is not mapped, first found wins. The ids after
 * CJE's own prompt_id are the ones common pipelines write (HF datasets,
 * MT-Bench's question_id, eval harnesses' uid / sample_id).
 */
export const DEFAULT_PATHS: Readonly<Record<FieldName, readonly string[]>> = {
  id: ['prompt_id', 'metadata.prompt_id', 'id', 'question_id', 'uid', 'sample_id'],
  prompt: ['prompt'],
  messages: ['messages'],
  response: ['response'],
  responses: ['responses'],
  // cje-eval keeps judge scores and oracle labels in metadata.
  judge_score: ['judge_score', 'metadata.judge_score'],
  oracle_label: ['oracle_label', 'metadata.oracle_label'],
  base_policy_logprob: ['base_policy_logprob'],
  target_policy_logprobs: ['target_policy_logprobs'],
};

/** A path segment: a key, an index into a list, or EVERY item of a list (`[]`). */
export type Segment = string | number | typeof EVERY;

/** `[]` in a path: the value is the list of what the rest of the path gives for each item (`outputs[].text`). */
export const EVERY: unique symbol = Symbol('every item');

/** The syntax the schema accepts too: keys joined by dots, with [N] or .N indexing a list and [] taking every item. */
export const PATH_PATTERN = /^[^.[\]\s][^.[\]]*(?:\.[^.[\]]+|\[\d*\])*$/;

/** `a.b[0].c` → ['a', 'b', 0, 'c'], `a[].c` → ['a', EVERY, 'c']; throws on a malformed path. A digits-only key between dots is an index where the value is a list (see getPath). */
export function parsePath(p: string): Segment[] {
  if (!PATH_PATTERN.test(p)) throw new Error(`"${p}" is not a dotted path (keys joined by ".", [N] for the N-th item of a list, [] for each item, e.g. output.samples[0].text or choices[].text)`);
  const out: Segment[] = [];
  for (const part of p.split('.')) {
    const m = /^([^[]*)((?:\[\d*\])*)$/.exec(part)!;
    if (m[1]) out.push(m[1]);
    for (const ix of m[2].matchAll(/\[(\d*)\]/g)) out.push(ix[1] === '' ? EVERY : Number(ix[1]));
  }
  return out;
}

/**
 * The value at `segments` in `v`, or undefined. Own properties only, so a key
 * such as "__proto__" or "constructor" never reaches the prototype.
 */
export function getPath(v: unknown, segments: readonly Segment[]): unknown {
  let cur = v;
  for (let k = 0; k < segments.length; k++) {
    const s = segments[k];
    if (cur === null || typeof cur !== 'object') return undefined;
    if (s === EVERY) {
      if (!Array.isArray(cur)) return undefined;
      // An item without the rest of the path is null in the list, so the list keeps one entry per item.
      const rest = segments.slice(k + 1);
      return cur.map((item) => getPath(item, rest) ?? null);
    }
    if (Array.isArray(cur)) {
      const i = typeof s === 'number' ? s : /^\d+$/.test(s) ? Number(s) : NaN;
      if (!Number.isInteger(i) || i >= cur.length) return undefined;
      cur = cur[i];
    } else {
      const k = String(s);
      if (!Object.hasOwn(cur, k)) return undefined;
      cur = (cur as Record<string, unknown>)[k];
    }
  }
  return cur;
}

/** Parses `--field NAME=PATH` values into a mapping; throws with the bad value named. */
export function parseFieldFlags(values: readonly string[] | undefined): FieldMap {
  const out: FieldMap = {};
  for (const v of values ?? []) {
    const m = /^([^=]+)=(.+)$/.exec(v);
    if (!m) throw new Error(`--field ${v}: expected NAME=PATH, e.g. --field response=output.text`);
    const name = m[1].trim();
    if (!(FIELD_NAMES as readonly string[]).includes(name)) throw new Error(`--field ${v}: "${name}" is not a field cje reads (${FIELD_NAMES.join(', ')})`);
    const p = m[2].trim();
    try {
      parsePath(p);
    } catch (e) {
      throw new Error(`--field ${v}: ${(e as Error).message}`);
    }
    out[name as FieldName] = p;
  }
  return out;
}

/** The config's mapping with the command line's on top (a flag wins for its field). */
export function mergeFieldMaps(...maps: (FieldMap | undefined)[]): FieldMap | undefined {
  const out: FieldMap = {};
  for (const m of maps) Object.assign(out, m ?? {});
  return Object.keys(out).length ? out : undefined;
}

/** For each mapped field whose path none of `records` holds: the field, its path, and how many records were looked at. */
export function missingMappedPaths(fields: FieldMap | undefined, records: readonly unknown[]): { field: FieldName; path: string; looked: number }[] {
  const out: { field: FieldName; path: string; looked: number }[] = [];
  if (!fields || !records.length) return out;
  for (const name of FIELD_NAMES) {
    const p = fields[name];
    if (p === undefined) continue;
    let segs: Segment[];
    try {
      segs = parsePath(p);
    } catch {
      continue; // the schema reports a malformed path
    }
    const found = (r: unknown) => {
      const v = getPath(r, segs);
      // Through [] the value is a list with null where an item lacks the rest of the path: all null is none found.
      return v !== undefined && !(segs.includes(EVERY) && Array.isArray(v) && v.every((x) => x === null));
    };
    if (!records.some(found)) out.push({ field: name, path: p, looked: records.length });
  }
  return out;
}
