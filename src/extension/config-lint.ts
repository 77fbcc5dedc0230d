// Lint of cje config files for the editor, in one generic shape the vscode
// side turns into diagnostics, quick fixes, hovers and completions. Pure.
// Every finding, fix, hover and completion comes from the core lint engine
// (src/core/lint: lintConfig, templateHover, templateCompletions); this
// module only maps shapes and finds what is under the cursor.
import * as path from 'node:path';
import { findNodeAtLocation, getLocation, parseTree } from 'jsonc-parser';
import { lintConfig, templateCompletions, templateHover } from '../core/lint/index';

export type Severity = 'error' | 'warning' | 'info' | 'hint';

export interface TextEdit {
  offset: number;
  length: number;
  content: string;
}

export interface LintFix {
  title: string;
  edits: TextEdit[];
  preferred?: boolean;
}

export interface LintFinding {
  code: string;
  severity: Severity;
  message: string;
  offset: number;
  length: number;
  fixes: LintFix[];
}

/**
 * Every finding of the core lint engine for a config text; the first fix of each is the preferred one.
 * `baseDir` is where a "local" policy's relative model folder is found (the run's own rule: the
 * cje.localWorkerModelPath setting, else the config's folder), so lint and run agree.
 */
export function lintConfigText(text: string, file = 'cje.config.json', baseDir = path.dirname(file)): LintFinding[] {
  const r = lintConfig(text, file, { baseDir });
  return r.diagnostics.map((d) => ({
    code: d.code,
    severity: d.severity,
    message: d.message,
    offset: d.offset,
    length: d.length,
    fixes: (d.fixes ?? []).map((f, i) => ({ title: f.title, edits: f.edits.map((e) => ({ ...e })), preferred: i === 0 })),
  }));
}

export interface TemplateAt {
  /** The string value under the cursor, without quotes ('' when empty). */
  value: string;
  policy: string;
  /** The policy's model, for template variants. */
  model?: string;
  /** Range of the value including its quotes. */
  offset: number;
  length: number;
}

type CustomTemplates = Parameters<typeof templateCompletions>[0];

/** Custom templates the config defines under "templates" (for hovers and completions). */
export function customTemplatesOf(text: string): CustomTemplates {
  const root = parseTree(text, [], { allowTrailingComma: true });
  const node = root && findNodeAtLocation(root, ['templates']);
  if (!node || node.type !== 'object') return {};
  const out: Record<string, unknown> = {};
  for (const prop of node.children ?? []) {
    const name = prop.children?.[0]?.value;
    if (typeof name === 'string') out[name] = {};
  }
  return out as CustomTemplates;
}

/** The `policies.<name>.template` string value at `offset`, if the cursor is in one. */
export function templateAt(text: string, offset: number): TemplateAt | undefined {
  const loc = getLocation(text, offset);
  const p = loc.path;
  if (p.length !== 3 || p[0] !== 'policies' || p[2] !== 'template' || loc.isAtPropertyKey) return undefined;
  const root = parseTree(text, [], { allowTrailingComma: true });
  const modelNode = root && findNodeAtLocation(root, ['policies', String(p[1]), 'model']);
  const model = typeof modelNode?.value === 'string' ? modelNode.value : undefined;
  const node = loc.previousNode;
  if (!node || node.type !== 'string') return { value: '', policy: String(p[1]), model, offset, length: 0 };
  return { value: String(node.value), policy: String(p[1]), model, offset: node.offset, length: node.length };
}

/** Completions for a template value: the shipped templates and the config's own. */
export function templateCompletionItems(text: string): { name: string; detail: string; documentation: string }[] {
  return templateCompletions(customTemplatesOf(text)).map((t) => ({
    name: t.name,
    detail: t.custom ? 'custom template' : t.families.length ? `template for ${t.families.join(', ')}` : 'template',
    documentation: t.description,
  }));
}

/** Markdown hover for a template name (the flat prompt it writes, its notes), from the core lint engine. */
export function templateHoverMarkdown(at: TemplateAt, text: string): string | undefined {
  if (!at.value) return undefined;
  return templateHover(at.value, at.model, customTemplatesOf(text));
}
