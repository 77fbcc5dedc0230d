// Live lint of cje config files: diagnostics as the user types (debounced),
// quick fixes from the findings' fixes, hovers and completions for template
// names. The findings come from config-lint.ts (src/core/lint underneath).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { lintConfigText, templateAt, templateCompletionItems, templateHoverMarkdown, type LintFinding, type Severity } from './config-lint';
import { CONFIG_FILE_NAME } from './config-discovery';

const SEVERITY: Record<Severity, vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
  hint: vscode.DiagnosticSeverity.Hint,
};

const DEBOUNCE_MS = 250;

export class ConfigLint implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('cje');
  private readonly findings = new Map<string, { diagnostic: vscode.Diagnostic; finding: LintFinding }[]>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    private readonly configGlob: () => string,
    /** Where a config's relative local model folders are resolved (as the scoring run resolves them). */
    private readonly modelBase: (configFile: string) => string = (f) => path.dirname(f),
  ) {
    const selector: vscode.DocumentSelector = [
      { scheme: 'file', language: 'json' },
      { scheme: 'file', language: 'jsonc' },
      { scheme: 'untitled', language: 'jsonc' },
    ];
    this.subs.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.lintNow(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.lintSoon(e.document)),
      vscode.workspace.onDidCloseTextDocument((d) => this.forget(d.uri)),
      // The model-folder setting changes where CJE080 looks: lint open configs again.
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('cje')) for (const d of vscode.workspace.textDocuments) this.lintNow(d);
      }),
      vscode.languages.registerCodeActionsProvider(selector, { provideCodeActions: (doc, range, ctx) => this.codeActions(doc, range, ctx) }, {
        providedCodeActionKinds: [vscode.CodeActionKind.QuickFix],
      }),
      vscode.languages.registerHoverProvider(selector, { provideHover: (doc, pos) => this.hover(doc, pos) }),
      vscode.languages.registerCompletionItemProvider(selector, { provideCompletionItems: (doc, pos) => this.completions(doc, pos) }, '"'),
    );
    for (const d of vscode.workspace.textDocuments) this.lintNow(d);
  }

  isConfig(doc: vscode.TextDocument): boolean {
    if (doc.uri.scheme !== 'file') return false;
    if (path.basename(doc.uri.fsPath) === CONFIG_FILE_NAME) return true;
    return vscode.languages.match({ scheme: 'file', pattern: this.configGlob() }, doc) > 0;
  }

  lintSoon(doc: vscode.TextDocument): void {
    if (!this.isConfig(doc)) return;
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        if (!doc.isClosed) this.lintNow(doc);
      }, DEBOUNCE_MS),
    );
  }

  lintNow(doc: vscode.TextDocument): LintFinding[] {
    if (!this.isConfig(doc)) return [];
    return this.setFindings(doc.uri, doc.getText(), (o) => doc.positionAt(o));
  }

  /** Lints a file that may not be open (before scoring), from the given text. */
  lintText(uri: vscode.Uri, text: string): LintFinding[] {
    const lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
    const positionAt = (o: number) => {
      let lo = 0;
      let hi = lineStarts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (lineStarts[mid] <= o) lo = mid;
        else hi = mid - 1;
      }
      return new vscode.Position(lo, o - lineStarts[lo]);
    };
    return this.setFindings(uri, text, positionAt);
  }

  private setFindings(uri: vscode.Uri, text: string, positionAt: (o: number) => vscode.Position): LintFinding[] {
    const found = lintConfigText(text.replace(/^\uFEFF/, ''), uri.fsPath, this.modelBase(uri.fsPath));
    const bom = text.startsWith('\uFEFF') ? 1 : 0;
    const entries = found.map((finding) => {
      const range = new vscode.Range(positionAt(finding.offset + bom), positionAt(finding.offset + bom + finding.length));
      const diagnostic = new vscode.Diagnostic(range, finding.message, SEVERITY[finding.severity]);
      diagnostic.source = 'cje';
      diagnostic.code = finding.code;
      return { diagnostic, finding: { ...finding, offset: finding.offset + bom, fixes: finding.fixes.map((f) => ({ ...f, edits: f.edits.map((e) => ({ ...e, offset: e.offset + bom })) })) } };
    });
    this.findings.set(uri.toString(), entries);
    this.collection.set(uri, entries.map((e) => e.diagnostic));
    return found;
  }

  private forget(uri: vscode.Uri): void {
    clearTimeout(this.timers.get(uri.toString()));
    this.timers.delete(uri.toString());
  }

  private codeActions(doc: vscode.TextDocument, range: vscode.Range | vscode.Selection, ctx: vscode.CodeActionContext): vscode.CodeAction[] {
    const entries = this.findings.get(doc.uri.toString()) ?? [];
    const actions: vscode.CodeAction[] = [];
    for (const { diagnostic, finding } of entries) {
      if (!diagnostic.range.intersection(range) && !ctx.diagnostics.includes(diagnostic)) continue;
      for (const fix of finding.fixes) {
        const a = new vscode.CodeAction(fix.title, vscode.CodeActionKind.QuickFix);
        a.diagnostics = [diagnostic];
        a.isPreferred = fix.preferred;
        a.edit = new vscode.WorkspaceEdit();
        for (const e of fix.edits) a.edit.replace(doc.uri, new vscode.Range(doc.positionAt(e.offset), doc.positionAt(e.offset + e.length)), e.content);
        actions.push(a);
      }
    }
    // The static lint cannot tell what a server does: one click asks it (the doctor).
    if (this.isConfig(doc)) {
      const a = new vscode.CodeAction('Check scoring endpoints (cje doctor)', vscode.CodeActionKind.QuickFix);
      a.command = { command: 'cje.checkEndpoints', title: 'Check scoring endpoints', arguments: [doc.uri] };
      a.diagnostics = ctx.diagnostics.filter((d) => d.source === 'cje');
      actions.push(a);
    }
    return actions;
  }

  private hover(doc: vscode.TextDocument, pos: vscode.Position): vscode.Hover | undefined {
    if (!this.isConfig(doc)) return undefined;
    const text = doc.getText();
    const at = templateAt(text, doc.offsetAt(pos));
    if (!at || !at.value) return undefined;
    const md = templateHoverMarkdown(at, text);
    if (!md) return undefined;
    const m = new vscode.MarkdownString(md);
    m.isTrusted = false;
    m.supportHtml = false;
    return new vscode.Hover(m, new vscode.Range(doc.positionAt(at.offset), doc.positionAt(at.offset + at.length)));
  }

  private completions(doc: vscode.TextDocument, pos: vscode.Position): vscode.CompletionItem[] | undefined {
    if (!this.isConfig(doc)) return undefined;
    const text = doc.getText();
    const at = templateAt(text, doc.offsetAt(pos));
    if (!at) return undefined;
    const range = at.length ? new vscode.Range(doc.positionAt(at.offset), doc.positionAt(at.offset + at.length)) : undefined;
    return templateCompletionItems(text).map(({ name, detail, documentation }) => {
      const item = new vscode.CompletionItem(name, vscode.CompletionItemKind.EnumMember);
      item.detail = detail;
      item.documentation = documentation;
      item.insertText = JSON.stringify(name);
      item.filterText = JSON.stringify(name);
      if (range) item.range = range;
      return item;
    });
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const s of this.subs) s.dispose();
    this.collection.dispose();
  }
}
