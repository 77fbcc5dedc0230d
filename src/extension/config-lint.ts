// Lint of cje config files for the editor, in one generic shape the vscode
// side turns into diagnostics, quick fixes, hovers and completions. Pure.
//
// The source of truth is src/core: parseConfig's problems (JSON syntax, the
// schema, chat-only providers, behavior/baseURL checks) and the templates
// in templates/. When the core lint engine (src/core/lint) is present its
// findings are used the same way.
import { getLocation, parseTree, findNodeAtLocation, type Node } from 'jsonc-parser';
import { parseConfig } from '../core/config';
import { listTemplates, loadTemplate } from '../core/templates';

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

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}

/** Template names closest to `name`, best first. */
export function closestTemplates(name: string, names = listTemplates(), max = 3): string[] {
  return names
    .map((n) => ({ n, d: levenshtein(name.toLowerCase(), n) }))
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, max)
    .map((x) => x.n);
}

function templateNodes(root: Node | undefined): { policy: string; node: Node }[] {
  const out: { policy: string; node: Node }[] = [];
  const policies = root && findNodeAtLocation(root, ['policies']);
  for (const prop of policies?.type === 'object' ? policies.children ?? [] : []) {
    const name = prop.children?.[0]?.value;
    const t = prop.children?.[1] && findNodeAtLocation(prop.children[1], ['template']);
    if (typeof name === 'string' && t) out.push({ policy: name, node: t });
  }
  return out;
}

/** Every finding for a config text: parseConfig's problems, then unknown template names. */
export function lintConfigText(text: string, file = 'cje.config.json'): LintFinding[] {
  const findings: LintFinding[] = [];
  const { problems } = parseConfig(text, file);
  for (const p of problems) {
    findings.push({
      code: 'config',
      severity: 'error',
      message: p.path ? `${p.path} ${p.message}` : p.message,
      offset: p.offset ?? 0,
      length: p.length ?? 0,
      fixes: [],
    });
  }
  const root = parseTree(text, [], { allowTrailingComma: true });
  const known = new Set(listTemplates());
  for (const { policy, node } of templateNodes(root)) {
    if (typeof node.value !== 'string' || !node.value || known.has(node.value)) continue;
    const best = closestTemplates(node.value, [...known]);
    findings.push({
      code: 'unknown-template',
      severity: 'error',
      message: `policies.${policy}.template "${node.value}" is not a known template (${[...known].sort().join(', ')})`,
      offset: node.offset,
      length: node.length,
      fixes: best.map((n, i) => ({ title: `Use template "${n}"`, edits: [{ offset: node.offset, length: node.length, content: JSON.stringify(n) }], preferred: i === 0 })),
    });
  }
  return findings;
}

export interface TemplateAt {
  /** The string value under the cursor, without quotes ('' when empty). */
  value: string;
  policy: string;
  /** Range of the value including its quotes. */
  offset: number;
  length: number;
}

/** The `policies.<name>.template` string value at `offset`, if the cursor is in one. */
export function templateAt(text: string, offset: number): TemplateAt | undefined {
  const loc = getLocation(text, offset);
  const p = loc.path;
  if (p.length !== 3 || p[0] !== 'policies' || p[2] !== 'template' || loc.isAtPropertyKey) return undefined;
  const node = loc.previousNode;
  if (!node || node.type !== 'string') return { value: '', policy: String(p[1]), offset, length: 0 };
  return { value: String(node.value), policy: String(p[1]), offset: node.offset, length: node.length };
}

/** Completions for a template value: every template with its one-line description. */
export function templateCompletionItems(): { name: string; detail: string }[] {
  return listTemplates().map((name) => {
    try {
      const t = loadTemplate(name) as unknown as { description?: string; family?: string };
      return { name, detail: t.description ?? t.family ?? name };
    } catch {
      return { name, detail: name };
    }
  });
}

/** Markdown hover for a template name: what the template file says about itself. */
export function templateHoverMarkdown(name: string): string | undefined {
  if (!listTemplates().includes(name)) return undefined;
  const t = loadTemplate(name) as unknown as Record<string, unknown>;
  const lines = [`**${name}** completions template`];
  if (typeof t.description === 'string') lines.push('', t.description);
  const notes = Array.isArray(t.notes) ? (t.notes as unknown[]).filter((n) => typeof n === 'string') : [];
  if (notes.length) lines.push('', ...notes.map((n) => `- ${n}`));
  return lines.join('\n');
}
