// The diagnostics panel: hosts the report bundle (out/webview/report.{js,css})
// in a webview, sends it ReportData from src/core/report-data.ts, and opens
// the log at a record when the view asks. Messages go through
// webview/protocol.ts only (see panel-messages.ts).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { buildReport } from '../core/report-data';
import type { RecordColumns } from '../core/record-pages';
import type { ReportData } from '../core/report-types';
import type { HostToView } from '../../webview/protocol';
import { handleViewMessage, type PanelAction } from './panel-messages';
import { panelHtml } from './webview-html';

export const PANEL_VIEW_TYPE = 'cje.report';
const LAST_PANEL_KEY = 'cje.panel.last';

/** What a panel shows; also its saved state, so it comes back after a reload. */
export interface PanelInputs {
  input: string;
  log?: string;
  config?: string;
}

function isPanelInputs(x: unknown): x is PanelInputs {
  return typeof x === 'object' && x !== null && typeof (x as PanelInputs).input === 'string';
}

export interface PanelDeps {
  context: vscode.ExtensionContext;
  log: (line: string) => void;
  tolerance: () => number;
}

export class ReportPanel {
  data: ReportData | null = null;
  /** The records behind the report, which the view pages through (typed columns and line offsets, no record objects). */
  pages: RecordColumns | null = null;
  ready = false;
  error: string | null = null;
  private loading: Promise<void> | null = null;

  constructor(
    readonly panel: vscode.WebviewPanel,
    public inputs: PanelInputs,
    private readonly deps: PanelDeps,
    private readonly onDispose: () => void,
  ) {
    const ext = deps.context.extensionUri;
    const bundle = vscode.Uri.joinPath(ext, 'out', 'webview');
    panel.webview.options = { enableScripts: true, localResourceRoots: [bundle, vscode.Uri.joinPath(ext, 'media')] };
    panel.iconPath = vscode.Uri.joinPath(ext, 'media', 'cje.svg');
    panel.webview.html = panelHtml({
      scriptUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(bundle, 'report.js')).toString(),
      styleUri: panel.webview.asWebviewUri(vscode.Uri.joinPath(bundle, 'report.css')).toString(),
      cspSource: panel.webview.cspSource,
      title: panel.title,
    });
    panel.webview.onDidReceiveMessage((m) => this.receive(m));
    panel.onDidDispose(() => onDispose());
  }

  /** Builds the report for the current inputs and sends it once the view is ready. */
  load(inputs: PanelInputs = this.inputs): Promise<void> {
    this.inputs = inputs;
    this.panel.title = `CJE: ${path.basename(inputs.log ?? inputs.input)}`;
    void this.deps.context.workspaceState.update(LAST_PANEL_KEY, inputs);
    const run = (async () => {
      this.deps.log(`report ${inputs.input}${inputs.log ? ` (log ${inputs.log})` : ''}${inputs.config ? ` (config ${inputs.config})` : ''}`);
      try {
        const built = await buildReport({ input: inputs.input, log: inputs.log, config: inputs.config, tolerance: this.deps.tolerance() });
        this.data = built.data;
        this.pages = built.columns;
        this.error = null;
        if (this.ready) await this.post({ type: 'data', data: this.data });
      } catch (e) {
        this.error = (e as Error).message;
        this.deps.log(`report failed: ${this.error}`);
        void vscode.window.showErrorMessage(`CJE: cannot build the report for ${path.basename(inputs.input)}: ${this.error}`);
      }
    })();
    this.loading = run;
    return run;
  }

  whenLoaded(): Promise<void> {
    return this.loading ?? Promise.resolve();
  }

  private post(msg: HostToView): Thenable<boolean> {
    return this.panel.webview.postMessage(msg);
  }

  /** Handles one message from the view (public for the integration tests, which send protocol messages through it). */
  async receive(raw: unknown): Promise<PanelAction> {
    const action = handleViewMessage(raw, this.data, undefined, this.pages);
    if ((raw as { type?: unknown })?.type === 'ready') this.ready = true;
    switch (action.kind) {
      case 'post':
        await this.post(action.message);
        break;
      case 'openLog': {
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(action.file));
        const line = Math.min(action.line - 1, doc.lineCount - 1);
        const range = new vscode.Range(line, 0, line, 0);
        await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: range, preserveFocus: false });
        break;
      }
      case 'notify':
        if (action.level === 'error') this.deps.log(action.message);
        void (action.level === 'error' ? vscode.window.showErrorMessage(action.message) : vscode.window.showWarningMessage(action.message));
        break;
      case 'ignore':
        break;
    }
    return action;
  }
}

export class ReportPanels implements vscode.Disposable {
  private readonly open = new Set<ReportPanel>();
  private readonly subs: vscode.Disposable[] = [];

  constructor(private readonly deps: PanelDeps) {
    this.subs.push(
      vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
        deserializeWebviewPanel: async (panel, state) => {
          const inputs = isPanelInputs(state) ? state : deps.context.workspaceState.get<PanelInputs>(LAST_PANEL_KEY);
          if (!inputs) {
            panel.dispose();
            return;
          }
          await this.adopt(panel, inputs).load();
        },
      }),
    );
  }

  list(): ReportPanel[] {
    return [...this.open];
  }

  private adopt(panel: vscode.WebviewPanel, inputs: PanelInputs): ReportPanel {
    const p: ReportPanel = new ReportPanel(panel, inputs, this.deps, () => this.open.delete(p));
    this.open.add(p);
    return p;
  }

  /** Shows the report for `inputs`: reuses the panel already showing the same input, else opens one beside the editor. */
  async show(inputs: PanelInputs): Promise<ReportPanel> {
    const same = [...this.open].find((p) => p.inputs.input === inputs.input);
    if (same) {
      same.panel.reveal(undefined, true);
      await same.load(inputs);
      return same;
    }
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, `CJE: ${path.basename(inputs.log ?? inputs.input)}`, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(this.deps.context.extensionUri, 'out', 'webview'), vscode.Uri.joinPath(this.deps.context.extensionUri, 'media')],
    });
    const p = this.adopt(panel, inputs);
    await p.load();
    return p;
  }

  dispose(): void {
    for (const p of this.open) p.panel.dispose();
    for (const s of this.subs) s.dispose();
  }
}
