// What every rule sees: the text, its jsonc-parser tree, the parsed value, the
// policies, and helpers that place a diagnostic on a JSON value and compute
// quick-fix edits with jsonc-parser's modify (so comments and layout are kept).

import * as path from 'node:path';
import { findNodeAtLocation, modify, type FormattingOptions, type JSONPath, type Node } from 'jsonc-parser';
import { dottedPath, lineCol } from '../json-text';
import type { CustomTemplateSpec, PolicyConfig } from '../types';
import type { LintDiagnostic, LintEdit, LintFix, LintOptions, LintSeverity } from './types';

export interface PolicyEntry {
  name: string;
  /** The policy's object as written; fields may have any type when the schema failed. */
  policy: Partial<PolicyConfig> & Record<string, unknown>;
  path: JSONPath;
}

export interface LintContext {
  text: string;
  file: string;
  root: Node;
  value: Record<string, unknown>;
  opts: Required<Pick<LintOptions, 'tokenizers'>> & LintOptions;
  baseDir: string;
  behavior: string | undefined;
  policies: PolicyEntry[];
  customTemplates: Record<string, CustomTemplateSpec>;
  report(d: Omit<LintDiagnosticInput, never>): void;
  /** Edits that set (value) or remove (undefined) the value at `path`. */
  setEdits(path: JSONPath, value: unknown): LintEdit[];
  fix(title: string, path: JSONPath, value: unknown): LintFix;
  nodeAt(path: JSONPath): Node | undefined;
}

export interface LintDiagnosticInput {
  code: string;
  severity: LintSeverity;
  message: string;
  path: JSONPath;
  /** Put the range on the property's key instead of its value (e.g. a whole policy). */
  onKey?: boolean;
  /** An exact range when the caller already has one (parseConfig's problems). */
  at?: { offset: number; length: number };
  fixes?: LintFix[];
}



/** Indentation and line ending of the file, so inserted properties look like their neighbours. */
export function detectFormatting(text: string): FormattingOptions {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const m = /\n([ \t]+)\S/.exec(text);
  if (m && m[1].startsWith('\t')) return { insertSpaces: false, tabSize: 4, eol };
  const sizes = [...text.matchAll(/\n( +)\S/g)].map((x) => x[1].length);
  const tabSize = sizes.length ? Math.max(1, Math.min(...sizes)) : 2;
  return { insertSpaces: true, tabSize, eol };
}

export function rangeLocation(text: string, offset: number, length: number) {
  const start = lineCol(text, offset);
  const end = lineCol(text, offset + length);
  return { offset, length, line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
}

export function makeLocation(text: string, root: Node | undefined, p: JSONPath, onKey = false) {
  let offset = 0;
  let length = 0;
  if (root) {
    for (let k = p.length; k >= 0; k--) {
      const node = findNodeAtLocation(root, p.slice(0, k));
      if (!node) continue;
      const target = (onKey || k < p.length) && k > 0 && node.parent?.type === 'property' ? node.parent.children![0] : node;
      offset = target.offset;
      length = target.length;
      break;
    }
  }
  const start = lineCol(text, offset);
  const end = lineCol(text, offset + length);
  return { offset, length, line: start.line, column: start.column, endLine: end.line, endColumn: end.column };
}

export function createContext(
  text: string,
  file: string,
  root: Node,
  value: Record<string, unknown>,
  opts: LintOptions,
  out: LintDiagnostic[],
): LintContext {
  const fmt = detectFormatting(text);
  const polsValue = value.policies;
  const policies: PolicyEntry[] = [];
  if (polsValue && typeof polsValue === 'object' && !Array.isArray(polsValue)) {
    for (const [name, pol] of Object.entries(polsValue as Record<string, unknown>)) {
      if (pol && typeof pol === 'object' && !Array.isArray(pol)) {
        policies.push({ name, policy: pol as PolicyEntry['policy'], path: ['policies', name] });
      }
    }
  }
  const tv = value.templates;
  const customTemplates =
    tv && typeof tv === 'object' && !Array.isArray(tv) ? (tv as Record<string, CustomTemplateSpec>) : {};
  const setEdits = (p: JSONPath, v: unknown) => modify(text, p, v, { formattingOptions: fmt });
  return {
    text,
    file,
    root,
    value,
    opts: { tokenizers: true, ...opts },
    baseDir: opts.baseDir ?? path.dirname(path.resolve(file)),
    behavior: typeof value.behavior === 'string' ? value.behavior : undefined,
    policies,
    customTemplates,
    report(d) {
      out.push({
        code: d.code,
        severity: d.severity,
        message: d.message,
        path: dottedPath(d.path),
        ...(d.at ? rangeLocation(text, d.at.offset, d.at.length) : makeLocation(text, root, d.path, d.onKey)),
        ...(d.fixes && d.fixes.length ? { fixes: d.fixes } : {}),
      });
    },
    setEdits,
    fix: (title, p, v) => ({ title, edits: setEdits(p, v) }),
    nodeAt: (p) => findNodeAtLocation(root, p),
  };
}
