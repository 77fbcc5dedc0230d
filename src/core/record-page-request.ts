// The one check of a page request (webview/protocol.ts's guard and the host
// both use it). Pure: no Node, no DOM, so the webview bundle imports it too.
import type { RecordPageFilter, RecordPageOrder, RecordPageRequest } from './report-types';

export const MAX_PAGE_SIZE = 1000;

/**
 * A page request, checked; a string saying what is wrong otherwise. `targets`:
 * how many targets the report has (an order by a target past them is refused);
 * undefined checks the shape only.
 */
export function checkPageRequest(x: unknown, targets?: number): RecordPageRequest | string {
  if (!x || typeof x !== 'object') return 'not a page request';
  const r = x as Record<string, unknown>;
  if (typeof r.page !== 'number' || !Number.isInteger(r.page) || r.page < 0) return 'page must be a whole number ≥ 0';
  if (typeof r.pageSize !== 'number' || !Number.isInteger(r.pageSize) || r.pageSize < 1 || r.pageSize > MAX_PAGE_SIZE) return `pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}`;
  const o = r.order as Record<string, unknown> | undefined;
  let order: RecordPageOrder;
  if (!o || typeof o !== 'object') return 'order must be an object';
  if (o.by === 'line') order = { by: 'line' };
  else if (o.by === 'abs_lw' && typeof o.target === 'number' && Number.isInteger(o.target) && o.target >= 0 && (targets === undefined || o.target < targets)) order = { by: 'abs_lw', target: o.target };
  else return `order must be {by: "line"} or {by: "abs_lw", target: 0..${targets === undefined ? 'N' : targets - 1}}`;
  if (r.filter !== 'all' && r.filter !== 'violations' && r.filter !== 'suspect') return 'filter must be "all", "violations" or "suspect"';
  return { page: r.page, pageSize: r.pageSize, order, filter: r.filter as RecordPageFilter };
}
