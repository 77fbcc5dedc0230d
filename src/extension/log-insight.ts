// The log itself in the editor: its bad lines as Problems (the words of
// src/core/log-reader, as the CLI prints them), and on a scored line a hover
// with the line's log-prob under each policy and its log-weights.
//
// Large logs: a file on disk is streamed (src/core/log-problems lets the event
// loop through as it goes), at most DEFAULT_PROBLEM_LIMIT problems are kept,
// edits are checked after a pause in typing, and a newer check stops an older
// one. Logs too large for VS Code to hand to extensions as documents are still
// checked from disk when their tab opens.
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import { DEFAULT_PROBLEM_LIMIT, logFileProblems, logTextProblems, type LogProblems } from '../core/log-problems';
import type { FieldMap } from '../core/field-map';
import { readLogLines } from '../core/log-reader';
import { lineWeights, ScoreIndex } from '../core/score-index';
import { defaultScoresPath } from '../core/score-store';
import type { LogIssue } from '../core/types';
import { isScoresFile } from './config-discovery';
import { lineHoverMarkdown } from './log-hover-text';

const EDIT_DEBOUNCE_MS = 400;
const DISK_DEBOUNCE_MS = 1000;
/** Sampled responses of one line shown in its hover. */
const MAX_SAMPLES_IN_HOVER = 8;

export interface LogInsightOptions {
  /** The behavior policy of a log (from its config), or why there is none. */
  behaviorOf(logFile: string): { behavior?: string; missing?: string; fields?: FieldMap };
  log(line: string): void;
}

export function isLogUri(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && /\.jsonl$/i.test(uri.fsPath) && !isScoresFile(uri.fsPath);
}

export class LogInsight implements vscode.Disposable {
  readonly collection = vscode.languages.createDiagnosticCollection('cje-log');
  private readonly subs: vscode.Disposable[] = [];
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Bumped by every check of a file: an older check sees it changed and stops. */
  private readonly generation = new Map<string, number>();
  private readonly indexes = new Map<string, { size: number; mtimeMs: number; index: Promise<ScoreIndex> }>();
  /** The last finished check of each log (read by the tests through the API). */
  readonly lastCheck = new Map<string, LogProblems & { seconds: number; from: 'disk' | 'editor' }>();

  constructor(private readonly opts: LogInsightOptions) {
    this.subs.push(
      vscode.workspace.onDidOpenTextDocument((d) => this.onOpen(d)),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length && isLogUri(e.document.uri)) this.soon(e.document.uri.fsPath, EDIT_DEBOUNCE_MS, () => this.checkDocument(e.document));
      }),
      vscode.workspace.onDidCloseTextDocument((d) => {
        // Problems of unsaved text that was thrown away would be wrong: go back to the file.
        if (isLogUri(d.uri) && d.isDirty) void this.checkFile(d.uri.fsPath);
      }),
      vscode.window.tabGroups.onDidChangeTabs((e) => {
        for (const t of e.opened) this.onTab(t);
      }),
      vscode.languages.registerHoverProvider({ scheme: 'file', pattern: '**/*.jsonl' }, { provideHover: (doc, pos) => this.hover(doc, pos) }),
    );
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.jsonl', true, false, true);
    this.subs.push(
      watcher,
      watcher.onDidChange((u) => {
        if (!isLogUri(u)) return;
        const doc = this.openDocument(u);
        // An open document with edits is checked from its text; a file written outside is checked again.
        if (doc?.isDirty) return;
        if (doc || this.collection.has(u)) this.soon(u.fsPath, DISK_DEBOUNCE_MS, () => this.checkFile(u.fsPath));
      }),
    );
    for (const d of vscode.workspace.textDocuments) this.onOpen(d);
    for (const g of vscode.window.tabGroups.all) for (const t of g.tabs) this.onTab(t);
  }

  private openDocument(uri: vscode.Uri): vscode.TextDocument | undefined {
    return vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  }

  private onOpen(d: vscode.TextDocument): void {
    if (!isLogUri(d.uri)) return;
    if (d.isDirty) void this.checkDocument(d);
    else void this.checkFile(d.uri.fsPath);
  }

  private onTab(t: vscode.Tab): void {
    const input = t.input;
    if (!(input instanceof vscode.TabInputText) || !isLogUri(input.uri)) return;
    // Open documents are handled by onOpen; this catches files too large to be synced as documents.
    if (this.openDocument(input.uri)) return;
    void this.checkFile(input.uri.fsPath);
  }

  private soon(key: string, ms: number, f: () => unknown): void {
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        void f();
      }, ms),
    );
  }

  private begin(file: string): () => boolean {
    const g = (this.generation.get(file) ?? 0) + 1;
    this.generation.set(file, g);
    return () => this.generation.get(file) !== g;
  }

  /** Checks a log on disk (opened, scored, changed outside the editor) and shows its problems. */
  async checkFile(file: string): Promise<LogProblems | undefined> {
    const uri = vscode.Uri.file(file);
    const doc = this.openDocument(uri);
    if (doc?.isDirty) return this.checkDocument(doc);
    const stale = this.begin(file);
    const t0 = Date.now();
    const found = await logFileProblems(file, { cancelled: stale, fields: this.opts.behaviorOf(file).fields });
    if (stale()) return undefined;
    this.show(uri, found, (Date.now() - t0) / 1000, 'disk');
    return found;
  }

  /** Checks the text an editor holds (unsaved edits included). */
  async checkDocument(doc: vscode.TextDocument): Promise<LogProblems | undefined> {
    if (doc.isClosed) return undefined;
    const file = doc.uri.fsPath;
    const stale = this.begin(file);
    const t0 = Date.now();
    const version = doc.version;
    const found = await logTextProblems(file, doc.getText(), { cancelled: () => stale() || doc.version !== version, fields: this.opts.behaviorOf(file).fields });
    if (stale() || doc.version !== version) return undefined;
    this.show(doc.uri, found, (Date.now() - t0) / 1000, 'editor');
    return found;
  }

  private show(uri: vscode.Uri, found: LogProblems, seconds: number, from: 'disk' | 'editor'): void {
    const doc = this.openDocument(uri);
    const range = (i: LogIssue) => {
      const line = Math.max(0, i.line - 1);
      if (doc && line < doc.lineCount) {
        const l = doc.lineAt(line);
        return new vscode.Range(line, l.firstNonWhitespaceCharacterIndex, line, l.range.end.character);
      }
      // Not open (or not synced: too large): the editor clamps the end to the line when it shows the file.
      return new vscode.Range(line, 0, line, Number.MAX_SAFE_INTEGER);
    };
    const diags = found.issues.map((i) => {
      const d = new vscode.Diagnostic(range(i), i.reason, vscode.DiagnosticSeverity.Error);
      d.source = 'cje';
      return d;
    });
    if (found.total > found.issues.length) {
      const d = new vscode.Diagnostic(
        range({ file: uri.fsPath, line: 1, reason: '' }),
        `${found.total} bad lines; the first ${found.issues.length} are shown here. \`cje score --dry-run\` lists them all.`,
        vscode.DiagnosticSeverity.Information,
      );
      d.source = 'cje';
      diags.push(d);
    }
    this.collection.set(uri, diags);
    this.lastCheck.set(uri.fsPath, { ...found, seconds, from });
    if (found.total) this.opts.log(`${uri.fsPath}: ${found.total} bad line(s) of ${found.records + found.total}, checked from ${from} in ${seconds.toFixed(2)} s${found.total > DEFAULT_PROBLEM_LIMIT ? ` (first ${DEFAULT_PROBLEM_LIMIT} shown)` : ''}`);
  }

  /** The score index of a scores file, read on from where it was when the file grew (a run in progress). */
  async scoreIndex(scoresFile: string): Promise<ScoreIndex | undefined> {
    let st: fs.Stats;
    try {
      st = await fs.promises.stat(scoresFile);
    } catch {
      this.indexes.delete(scoresFile);
      return undefined;
    }
    const have = this.indexes.get(scoresFile);
    if (have && have.size === st.size && have.mtimeMs === st.mtimeMs) return have.index;
    const index = (async () => {
      const old = await have?.index.catch(() => undefined);
      if (old && (await old.refresh(scoresFile, st.size))) return old;
      return ScoreIndex.load(scoresFile);
    })();
    this.indexes.set(scoresFile, { size: st.size, mtimeMs: st.mtimeMs, index });
    return index;
  }

  private async hover(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover | undefined> {
    if (!isLogUri(doc.uri)) return undefined;
    const scoresFile = defaultScoresPath(doc.uri.fsPath);
    const index = await this.scoreIndex(scoresFile);
    if (!index) return undefined;
    const lineNo = pos.line + 1;
    const text = doc.lineAt(pos.line).text;
    if (!text.trim()) return undefined;
    const scores = index.at(lineNo);
    // A line holds one record, or one item per sampled response (RECORD#i).
    const ids: string[] = [];
    for await (const item of readLogLines(doc.uri.fsPath, [{ line: lineNo, text, bytes: Buffer.byteLength(text), unterminated: false, offset: 0 }], { fields: this.opts.behaviorOf(doc.uri.fsPath).fields })) {
      if (item.kind !== 'record') break;
      ids.push(item.record.id);
    }
    // A bad line has its Problem; a line that is not scored yet says so only when the index is complete.
    if (!ids.length) return undefined;
    const recordId = ids[0];
    const range = new vscode.Range(pos.line, 0, pos.line, text.length);
    const md = new vscode.MarkdownString(undefined, true);
    md.isTrusted = false;
    md.supportHtml = false;
    if (!scores.length) {
      md.appendMarkdown(`**CJE** · line ${lineNo}: no scores in ${scoresFile.split(/[\\/]/).pop()} yet${index.dropped ? ' (or past the lines the editor keeps of a very large scores file)' : ''}.`);
      return new vscode.Hover(md, range);
    }
    const { behavior, missing } = this.opts.behaviorOf(doc.uri.fsPath);
    if (ids.length === 1) {
      const w = lineWeights(scores, behavior, recordId);
      md.appendMarkdown(lineHoverMarkdown({ line: lineNo, recordId, scoresFile, behavior, behaviorMissing: missing, rows: w.rows, stale: w.stale }));
      return new vscode.Hover(md, range);
    }
    // One section per sample (the first few); scores of ids the line no longer has are stale.
    const known = new Set(ids);
    const stale = scores.filter((s) => !known.has(s.record));
    ids.slice(0, MAX_SAMPLES_IN_HOVER).forEach((id, k) => {
      const w = lineWeights(scores.filter((s) => s.record === id), behavior, id);
      if (k) md.appendMarkdown('\n\n---\n\n');
      md.appendMarkdown(lineHoverMarkdown({ line: lineNo, recordId: id, scoresFile, behavior, behaviorMissing: missing, rows: w.rows, stale: k === 0 ? stale : [] }));
    });
    if (ids.length > MAX_SAMPLES_IN_HOVER) md.appendMarkdown(`\n\n… and ${ids.length - MAX_SAMPLES_IN_HOVER} more sampled responses on this line (the report lists them all).`);
    return new vscode.Hover(md, range);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    for (const s of this.subs) s.dispose();
    this.collection.dispose();
  }
}
