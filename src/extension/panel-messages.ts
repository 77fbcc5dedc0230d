// What the diagnostics panel's host does with a message from the view. Pure:
// the messages are webview/protocol.ts's, the result is an action the vscode
// side carries out (and unit tests check without a VS Code).
import * as path from 'node:path';
import { isViewToHost, type HostToView } from '../../webview/protocol';
import { checkPageRequest } from '../core/record-page-request';
import type { RecordColumns } from '../core/record-pages';
import type { ReportData } from '../core/report-types';

export type PanelAction =
  | { kind: 'post'; message: HostToView }
  | { kind: 'openLog'; file: string; line: number }
  | { kind: 'notify'; level: 'warning' | 'error'; message: string }
  | { kind: 'ignore'; reason: string };

/** The log a report's record lines refer to: the log beside a scores file, or the input when it is itself a log. */
export function logOfReport(data: Pick<ReportData, 'meta'>): string | null {
  const m = data.meta;
  if (m.log) return m.log;
  if (m.input_kind === 'log') return m.input;
  return null;
}

/**
 * `data` is what the panel shows (null while it is still being built);
 * `baseDir` resolves a relative path in the report's meta; `pages` answers
 * page requests (the records behind the report, see record-pages.ts).
 */
export function handleViewMessage(raw: unknown, data: ReportData | null, baseDir?: string, pages?: RecordColumns | null): PanelAction {
  if (!isViewToHost(raw)) return { kind: 'ignore', reason: 'not a message of webview/protocol.ts' };
  switch (raw.type) {
    case 'ready':
      return data ? { kind: 'post', message: { type: 'data', data } } : { kind: 'ignore', reason: 'no data yet; it is posted when ready' };
    case 'openRecord': {
      if (!data) return { kind: 'ignore', reason: 'no report shown' };
      const log = logOfReport(data);
      if (!log) {
        return { kind: 'notify', level: 'warning', message: `Record ${raw.record}: the report has no log to open (open the panel on the log, or keep the log beside its scores file).` };
      }
      if (!Number.isInteger(raw.line) || raw.line < 1) return { kind: 'ignore', reason: `bad line ${raw.line}` };
      return { kind: 'openLog', file: baseDir && !path.isAbsolute(log) ? path.resolve(baseDir, log) : log, line: raw.line };
    }
    case 'error':
      return { kind: 'notify', level: 'error', message: `The diagnostics panel could not draw the report: ${raw.message}` };
    case 'recordPage': {
      const fail = (message: string): PanelAction => ({ kind: 'post', message: { type: 'recordPageError', inReplyTo: raw.messageId, message } });
      if (!data || !pages) return fail('no report shown yet');
      const req = checkPageRequest(raw.request, pages.targets.length);
      if (typeof req === 'string') return fail(req);
      try {
        return { kind: 'post', message: { type: 'recordPage', inReplyTo: raw.messageId, page: pages.page(req) } };
      } catch (e) {
        return fail(`cannot read the records: ${(e as Error).message}`);
      }
    }
  }
}
