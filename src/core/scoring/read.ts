import { readLog, type ReadLogOptions } from '../log-reader';
import type { LogIssue, LogRecord } from '../types';

/** A log item with its number in reading order: per-item state is keyed by it, since several items may share a line. */
export type ReadItem = { kind: 'record'; seq: number; record: LogRecord } | { kind: 'issue'; issue: LogIssue };

/** The read stage: the log's records, numbered, and its issues, as they stream from the file. */
export async function* readItems(file: string, opts: ReadLogOptions = {}): AsyncGenerator<ReadItem> {
  let seq = 0;
  for await (const item of readLog(file, opts)) {
    if (item.kind === 'issue') yield item;
    else yield { kind: 'record', seq: seq++, record: item.record };
  }
}
