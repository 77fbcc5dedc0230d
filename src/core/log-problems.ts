// The bad lines of a log, for an editor's Problems: the issues readLog gives
// (so the words are the CLI's), at most `limit` of them kept, the rest only
// counted, with the event loop let through every few thousand lines so that
// a large log never holds up the editor's extension host.
import { textLines } from './jsonl-lines';
import type { FieldMap } from './field-map';
import { readLog, readLogLines, type LogItem } from './log-reader';
import type { LogIssue } from './types';

export const DEFAULT_PROBLEM_LIMIT = 500;

export interface LogProblems {
  /** The first `limit` issues, in line order. */
  issues: LogIssue[];
  /** Every issue, kept or not. */
  total: number;
  records: number;
  /** False when `cancelled()` said stop before the end. */
  complete: boolean;
}

export interface LogProblemOptions {
  limit?: number;
  maxLineBytes?: number;
  /** Asked between lines; true stops the check early (a newer edit made it stale). */
  cancelled?: () => boolean;
  /** Items between two yields to the event loop. */
  yieldEvery?: number;
  /** The config's `fields` mapping, so the Problems read the records as cje score does. */
  fields?: FieldMap;
}

const yieldToLoop = () => new Promise<void>((r) => setImmediate(r));

async function collect(items: AsyncIterable<LogItem>, opts: LogProblemOptions): Promise<LogProblems> {
  const limit = opts.limit ?? DEFAULT_PROBLEM_LIMIT;
  const every = opts.yieldEvery ?? 2000;
  const out: LogProblems = { issues: [], total: 0, records: 0, complete: true };
  let n = 0;
  for await (const item of items) {
    if (item.kind === 'record') out.records++;
    else {
      out.total++;
      if (out.issues.length < limit) out.issues.push(item.issue);
    }
    if (++n % every === 0) {
      await yieldToLoop();
      if (opts.cancelled?.()) {
        out.complete = false;
        break;
      }
    }
  }
  return out;
}

/** The problems of a log on disk, streamed. */
export function logFileProblems(file: string, opts: LogProblemOptions = {}): Promise<LogProblems> {
  return collect(readLog(file, { maxLineBytes: opts.maxLineBytes, fields: opts.fields }), opts);
}

/** The problems of a log's text as an editor holds it (unsaved edits included); `file` names the issues. */
export function logTextProblems(file: string, text: string, opts: LogProblemOptions = {}): Promise<LogProblems> {
  return collect(readLogLines(file, textLines(text, { maxLineBytes: opts.maxLineBytes }), { maxLineBytes: opts.maxLineBytes, fields: opts.fields }), opts);
}
