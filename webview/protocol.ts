// The one typed protocol between the report UI (webview) and its host (the VS
// Code extension). No DOM and no vscode here, so both sides import it:
//   host → view: HostToView, posted with webview.postMessage(msg)
//   view → host: ViewToHost, posted with acquireVsCodeApi().postMessage(msg)
// The standalone HTML report has no host: the view reads its data from the
// <script type="application/json" id="cje-data"> element instead.

import { checkPageRequest } from '../src/core/record-page-request';
import type { RecordPage, RecordPageRequest, ReportData } from '../src/core/report-types';

export type { Histogram, ReportData, PolicyReport, RecordPage, RecordPageRequest, RecordRow, SeamPairReport, SuspectReason, TokenRecord, TokenTarget } from '../src/core/report-types';

/** Messages the host sends to the view. */
export type HostToView =
  /** The report to draw (replaces any report shown). */
  | { type: 'data'; data: ReportData }
  /** Select and show one record, by its log line. */
  | { type: 'selectRecord'; line: number }
  /** The answer to a recordPage request (hexeditor's shape: a reply names the message it answers). */
  | { type: 'recordPage'; inReplyTo: number; page: RecordPage }
  /** A recordPage request that could not be answered, and why. */
  | { type: 'recordPageError'; inReplyTo: number; message: string };

/** Messages the view sends to the host. */
export type ViewToHost =
  /** The view is loaded and listening: send it the data. */
  | { type: 'ready' }
  /** Open the log at this record (the user asked to see it in the editor). */
  | { type: 'openRecord'; line: number; record: string }
  /** The view could not draw what it was sent. */
  | { type: 'error'; message: string }
  /** Asks for one page of all records (the page carries a selection of them); answered by recordPage with inReplyTo = messageId. */
  | { type: 'recordPage'; messageId: number; request: RecordPageRequest };

export const HOST_TO_VIEW_TYPES: ReadonlySet<HostToView['type']> = new Set(['data', 'selectRecord', 'recordPage', 'recordPageError']);
export const VIEW_TO_HOST_TYPES: ReadonlySet<ViewToHost['type']> = new Set(['ready', 'openRecord', 'error', 'recordPage']);

const isId = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

/** Type guard for messages arriving in the view. */
export function isHostToView(x: unknown): x is HostToView {
  if (!isObj(x) || typeof x.type !== 'string') return false;
  switch (x.type) {
    case 'data':
      return isObj(x.data) && Array.isArray((x.data as Record<string, unknown>).policies);
    case 'selectRecord':
      return typeof x.line === 'number';
    case 'recordPage': {
      const p = x.page as Record<string, unknown> | undefined;
      return isId(x.inReplyTo) && isObj(p) && Array.isArray(p.rows) && Array.isArray(p.tableRows) && typeof p.matching === 'number' && typeof p.pages === 'number';
    }
    case 'recordPageError':
      return isId(x.inReplyTo) && typeof x.message === 'string';
    default:
      return false;
  }
}

/** Type guard for messages arriving in the host. */
export function isViewToHost(x: unknown): x is ViewToHost {
  if (!isObj(x) || typeof x.type !== 'string') return false;
  switch (x.type) {
    case 'ready':
      return true;
    case 'openRecord':
      return typeof x.line === 'number' && typeof x.record === 'string';
    case 'error':
      return typeof x.message === 'string';
    case 'recordPage':
      return isId(x.messageId) && typeof checkPageRequest(x.request) !== 'string';
    default:
      return false;
  }
}
