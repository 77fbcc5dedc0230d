// The VS Code shell around src/core: commands, menus' targets, progress,
// secrets, workspace trust, the diagnostics panel and live config lint.
// Decisions live in src/core and in this folder's vscode-free modules.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { parseConfig } from '../core/config';
import type { FieldMap } from '../core/field-map';
import { formatIssue } from '../core/log-reader';
import { FIREWORKS_KEY_ENV, type SecretLookup } from '../core/providers';
import { defaultScoresPath } from '../core/score-store';
import { runScoring, type ScoreRunSummary } from '../core/score-run';
import { EndpointBlockedError } from '../core/endpoint-profile';
import { defaultExportPath, EXPORT_FORMATS, exportScores, nullLines, type ExportFormat, type ExportSummary } from '../core/export';
import { runDoctor } from '../doctor';
import { cheapProbes } from '../doctor/before-scoring';
import { formatDoctor } from '../doctor/format';
import { completionsScorerFactory } from '../scorers/make-scorer';
import { WorkerManager, withLocalWorkers } from '../worker/manager';
import { WORKER_RUNTIME_MISSING } from '../worker/runtime';
import { discoverConfig, orderCandidates, rememberKey, reportInputsFor, isScoresFile } from './config-discovery';
import { ConfigLint } from './lint-providers';
import { LogInsight } from './log-insight';
import { statusBarText } from './log-hover-text';
import { ReportPanels, type ReportPanel } from './panel';
import { errorMessage, redact } from './redact';
import { progressIncrement, progressMessage, summaryMessage, UNTRUSTED_MESSAGE } from './run-text';
import { applySettings, readSettings, type CjeSettings } from './settings';

/** A log the extension reads: JSONL, gzip-compressed JSONL or CSV. */
const LOG_FILE = /\.(?:jsonl|jsonl\.gz|csv|csv\.gz)$/i;

/** SecretStorage key of a secret that would otherwise come from the environment variable `name`. */
export function secretKey(name: string): string {
  return `cje.env.${name}`;
}

/** What activate() returns: a small API (used by the integration tests). */
export interface CjeApi {
  panels(): ReportPanel[];
  lastRun(): ScoreRunSummary | undefined;
  settings(): CjeSettings;
  /** Problems and hovers of logs. */
  logs: LogInsight;
}

export function activate(context: vscode.ExtensionContext): CjeApi {
  const output = vscode.window.createOutputChannel('CJE');
  const settings = () => readSettings((k) => vscode.workspace.getConfiguration('cje').get(k));
  const seenSecrets = new Set<string>();
  const clean = (s: string) => redact(s, [...seenSecrets]);
  const log = (s: string) => output.appendLine(clean(s));
  const lint = new ConfigLint(
    () => settings().configGlob,
    (configFile) => localModelBase(settings(), configFile),
  );
  const panels = new ReportPanels({ context, log, tolerance: () => settings().identicalTolerance });
  let lastRun: ScoreRunSummary | undefined;
  // Local workers (provider "local" with a model folder): started on demand, only from a
  // trusted workspace's scoring run, reused across runs, stopped when the extension stops.
  let manager: WorkerManager | undefined;
  const workerManager = () => (manager ??= new WorkerManager({ log: (l) => log(`worker: ${l}`) }));
  const running = new Set<string>();
  const logs = new LogInsight({ behaviorOf, log });

  /** SecretStorage first, then the environment. Values are remembered only to redact them. */
  const secrets: SecretLookup = async (name) => {
    const v = (await context.secrets.get(secretKey(name))) || process.env[name] || undefined;
    if (v) seenSecrets.add(v);
    return v;
  };

  async function pickLog(uri: unknown): Promise<vscode.Uri | undefined> {
    if (uri instanceof vscode.Uri) return uri;
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active && LOG_FILE.test(active.fsPath)) return active;
    const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Logs: ['jsonl', 'gz', 'csv'] }, openLabel: 'Score with CJE' });
    return picked?.[0];
  }

  async function chooseConfig(logFile: string, ask: boolean): Promise<string | undefined> {
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(logFile))?.uri.fsPath;
    const key = rememberKey(logFile, folder);
    const remembered = context.workspaceState.get<string>(key);
    const found = discoverConfig({ logFile, workspaceFolder: folder, remembered, exists: (f) => fs.existsSync(f) });
    if (found.kind === 'found') {
      log(`config ${found.file} (${found.reason})`);
      return found.file;
    }
    if (!ask) return undefined;
    const files = (await vscode.workspace.findFiles(settings().configGlob, '**/node_modules/**', 50)).map((u) => u.fsPath);
    const ordered = orderCandidates(files, logFile, remembered);
    const browse = '$(folder-opened) Browse…';
    const items: vscode.QuickPickItem[] = [
      ...ordered.map((f) => ({ label: path.basename(f), description: vscode.workspace.asRelativePath(f), detail: f })),
      { label: browse, description: 'choose a config file' },
    ];
    const pick = await vscode.window.showQuickPick(items, { title: `CJE: which config scores ${path.basename(logFile)}?`, placeHolder: 'No cje.config.json beside the log: pick the policy config', ignoreFocusOut: true });
    if (!pick) return undefined;
    let file = pick.detail;
    if (pick.label === browse) {
      const u = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'CJE config': ['json', 'jsonc'] }, openLabel: 'Use this config' });
      file = u?.[0]?.fsPath;
    }
    if (file) {
      await context.workspaceState.update(key, file);
      log(`config ${file} (picked; remembered for ${vscode.workspace.asRelativePath(logFile)})`);
    }
    return file;
  }

  /** Where relative model folders of "local" policies are found: the setting (relative to the workspace folder) or the config's folder. */
  function localModelBase(s: CjeSettings, configFile: string): string {
    if (!s.localWorkerModelPath) return path.dirname(configFile);
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(configFile))?.uri.fsPath ?? path.dirname(configFile);
    return path.resolve(folder, s.localWorkerModelPath);
  }

  function configText(file: string): string {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.scheme === 'file' && d.uri.fsPath === file);
    return open ? open.getText() : fs.readFileSync(file, 'utf8');
  }

  /** The behavior policy of a log's config, found without asking (for the log's hover). */
  function behaviorOf(logFile: string): { behavior?: string; missing?: string; fields?: FieldMap } {
    const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(logFile))?.uri.fsPath;
    const remembered = context.workspaceState.get<string>(rememberKey(logFile, folder));
    const found = discoverConfig({ logFile, workspaceFolder: folder, remembered, exists: (f) => fs.existsSync(f) });
    if (found.kind !== 'found') return { missing: 'no cje.config.json found for this log (beside it, above it, or picked when scoring)' };
    let text: string;
    try {
      text = configText(found.file);
    } catch (e) {
      return { missing: `cannot read ${vscode.workspace.asRelativePath(found.file)}: ${(e as Error).message}` };
    }
    const parsed = parseConfig(text.replace(/^\uFEFF/, ''), found.file);
    if (!parsed.config) return { missing: `${vscode.workspace.asRelativePath(found.file)} has errors` };
    return { behavior: parsed.config.behavior, fields: parsed.config.fields };
  }

  async function score(arg?: unknown): Promise<ScoreRunSummary | undefined> {
    const uri = await pickLog(arg);
    if (!uri) return undefined;
    if (uri.scheme !== 'file' || !LOG_FILE.test(uri.fsPath) || isScoresFile(uri.fsPath)) {
      void vscode.window.showErrorMessage(`CJE: "Score with CJE" scores a log on disk (.jsonl, .jsonl.gz or .csv); ${path.basename(uri.fsPath)} is not one${isScoresFile(uri.fsPath) ? ' (it is a scores file: open the diagnostics panel on it)' : ''}.`);
      return undefined;
    }
    const logFile = uri.fsPath;
    if (!vscode.workspace.isTrusted) {
      log(`score ${logFile}: refused, the workspace is not trusted`);
      const manage = 'Manage Workspace Trust';
      void vscode.window.showWarningMessage(UNTRUSTED_MESSAGE, manage).then((c) => c === manage && vscode.commands.executeCommand('workbench.trust.manage'));
      return undefined;
    }
    if (running.has(logFile)) {
      void vscode.window.showInformationMessage(`CJE: ${path.basename(logFile)} is being scored already.`);
      return undefined;
    }
    const configFile = await chooseConfig(logFile, true);
    if (!configFile) return undefined;

    const text = configText(configFile);
    const errors = lint.lintText(vscode.Uri.file(configFile), text).filter((f) => f.severity === 'error');
    const parsed = parseConfig(text.replace(/^\uFEFF/, ''), configFile);
    if (errors.length || !parsed.config) {
      log(`score ${logFile}: refused, ${configFile} has ${errors.length || parsed.problems.length} error(s)`);
      const show = 'Show Problems';
      void vscode.window
        .showErrorMessage(`CJE: ${vscode.workspace.asRelativePath(configFile)} has ${errors.length || parsed.problems.length} error(s); fix them before scoring.`, show)
        .then(async (c) => {
          if (c !== show) return;
          const doc = await vscode.workspace.openTextDocument(configFile);
          const first = errors[0];
          const pos = first ? doc.positionAt(first.offset) : new vscode.Position(0, 0);
          await vscode.window.showTextDocument(doc, { selection: new vscode.Range(pos, pos) });
          await vscode.commands.executeCommand('workbench.actions.view.problems');
        });
      return undefined;
    }
    const s = settings();
    const config = applySettings(parsed.config, s);
    log(`score ${logFile} with ${configFile}: behavior ${config.behavior}, policies ${Object.keys(config.policies).join(', ')}`);

    running.add(logFile);
    // The log's bad lines are Problems from the start of its run, open in an editor or not.
    void logs.checkFile(logFile);
    // A run's progress stays in sight in the status bar when its notification is hidden; a click shows it.
    const status = vscode.window.createStatusBarItem(`cje.run.${running.size}`, vscode.StatusBarAlignment.Left, 50);
    status.name = 'CJE scoring';
    status.text = statusBarText(undefined);
    status.tooltip = `CJE: scoring ${path.basename(logFile)}; click to show the progress`;
    status.command = 'cje.showProgress';
    status.show();
    void vscode.commands.executeCommand('setContext', 'cje.scoring', true);
    let summary: ScoreRunSummary | undefined;
    try {
      summary = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `CJE: scoring ${path.basename(logFile)}`, cancellable: true },
        async (progress, token) => {
          const controller = new AbortController();
          const sub = token.onCancellationRequested(() => {
            log('cancel requested');
            controller.abort(new Error('cancelled'));
          });
          let prevDone = 0;
          progress.report({ message: 'counting records…' });
          try {
            return await runScoring({
              logFile,
              config,
              signal: controller.signal,
              probe: cheapProbes(controller.signal),
              makeScorer: withLocalWorkers(
                completionsScorerFactory(secrets, (name, ep) => log(`  ${name}: POST ${ep.baseURL}/completions${ep.keySource ? ` (API key from ${ep.keySource})` : ''}`), {
                  baseDir: path.dirname(configFile),
                }),
                {
                  baseDir: localModelBase(s, configFile),
                  get manager() {
                    if (!vscode.workspace.isTrusted) throw new Error(UNTRUSTED_MESSAGE);
                    return workerManager();
                  },
                  onStart: (name, dir, w) => log(`  ${name}: local worker for ${dir} at ${w.baseURL} (pid ${w.pid})`),
                },
              ),
              onIssue: (i) => log(formatIssue(i)),
              onProgress: (p) => {
                progress.report({ message: progressMessage(p), increment: progressIncrement(prevDone, p) });
                status.text = statusBarText(p);
                status.tooltip = `CJE: scoring ${path.basename(logFile)}: ${progressMessage(p)}. Click to show the progress.`;
                prevDone = p.done;
              },
            });
          } finally {
            sub.dispose();
          }
        },
      );
    } catch (e) {
      const msg = errorMessage(e, [...seenSecrets]);
      log(`score ${logFile} failed: ${msg}`);
      const showOut = 'Show Output';
      if (e instanceof EndpointBlockedError) {
        const check = 'Check Endpoints';
        void vscode.window
          .showErrorMessage(`CJE: ${msg}. Nothing was sent from the log.`, check, showOut)
          .then((c) => (c === check ? vscode.commands.executeCommand('cje.checkEndpoints', vscode.Uri.file(configFile)) : c === showOut && output.show(true)));
        return undefined;
      }
      // The universal .vsix has no worker runtime: nothing was scored, say what to install instead.
      if ((e as { code?: string }).code === WORKER_RUNTIME_MISSING) {
        void vscode.window.showErrorMessage(`CJE: cannot score ${path.basename(logFile)}: ${msg}.`, showOut).then((c) => c === showOut && output.show(true));
        return undefined;
      }
      void vscode.window.showErrorMessage(`CJE: scoring ${path.basename(logFile)} failed: ${msg}. What was scored is kept; run again to resume.`, showOut).then((c) => c === showOut && output.show(true));
      return undefined;
    } finally {
      running.delete(logFile);
      status.dispose();
      if (!running.size) void vscode.commands.executeCommand('setContext', 'cje.scoring', false);
    }
    lastRun = summary;
    const m = summaryMessage(summary);
    log(`${m.text} (${summary.seconds.toFixed(1)} s)`);
    for (const e of summary.errors.slice(0, 10)) log(`  ${e.count}× ${e.message}`);
    if (m.level === 'info') void vscode.window.showInformationMessage(m.text);
    else void vscode.window.showWarningMessage(m.text, 'Show Output').then((c) => c && output.show(true));
    // A cancelled run's report would be partial: the panel opens when a run ends, not when it is cut short.
    if (!summary.cancelled && summary.scored + summary.skipped + summary.reused > 0) {
      await panels.show({ input: summary.outFile, log: logFile, config: configFile });
    }
    return summary;
  }

  async function openPanel(arg?: unknown): Promise<ReportPanel | undefined> {
    let uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (!uri || !/\.jsonl$/i.test(uri.fsPath)) {
      const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'Scores or CJE log': ['jsonl'] }, openLabel: 'Open Diagnostics' });
      uri = picked?.[0];
    }
    if (!uri) return undefined;
    const inputs = reportInputsFor(uri.fsPath, (f) => fs.existsSync(f), defaultScoresPath);
    const config = inputs.log ?? (isScoresFile(inputs.input) ? undefined : inputs.input) ? await chooseConfig(inputs.log ?? inputs.input, false) : undefined;
    return panels.show({ ...inputs, ...(config ? { config } : {}) });
  }

  /** "CJE: Check Scoring Endpoints": the doctor's probes on every endpoint of a config, shown in the CJE output. */
  async function checkEndpoints(arg?: unknown): Promise<unknown> {
    let uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    if (!uri || !/\.jsonc?$/i.test(uri.fsPath) || /\.scores\.jsonl$/i.test(uri.fsPath)) {
      const files = (await vscode.workspace.findFiles(settings().configGlob, '**/node_modules/**', 50)).map((u) => vscode.Uri.file(u.fsPath));
      uri = files.length === 1 ? files[0] : (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'CJE config': ['json', 'jsonc'] }, openLabel: 'Check Endpoints' }))?.[0];
    }
    if (!uri) return undefined;
    const configFile = uri.fsPath;
    const parsed = parseConfig(configText(configFile).replace(/^\uFEFF/, ''), configFile);
    if (!parsed.config) throw new Error(`${vscode.workspace.asRelativePath(configFile)} has ${parsed.problems.length} error(s); fix them first`);
    const config = applySettings(parsed.config, settings());
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'CJE: checking scoring endpoints', cancellable: true },
      async (progress, token) => {
        const controller = new AbortController();
        const sub = token.onCancellationRequested(() => controller.abort(new Error('cancelled')));
        try {
          return await runDoctor(config, {
            secrets,
            signal: controller.signal,
            localBaseURL: async (policy) => {
              if (!vscode.workspace.isTrusted) throw new Error(UNTRUSTED_MESSAGE);
              return (await workerManager().get({ model: path.resolve(localModelBase(settings(), configFile), policy.model) })).baseURL;
            },
            onEndpoint: (e) => progress.report({ message: `${e.baseURL} (${e.policies.join(', ')})` }),
          });
        } finally {
          sub.dispose();
        }
      },
    );
    log(`cje doctor ${configFile}`);
    for (const line of formatDoctor(report.endpoints).trimEnd().split('\n')) log(line);
    output.show(true);
    const blocked = report.endpoints.filter((e) => e.blockers.length);
    const warned = report.endpoints.reduce((n, e) => n + e.warnings.length, 0);
    const text = blocked.length
      ? `CJE: ${blocked.length} of ${report.endpoints.length} endpoint(s) cannot teacher-force: ${blocked[0].blockers[0]}`
      : `CJE: ${report.endpoints.length} endpoint(s) can teacher-force${warned ? ` (${warned} warning(s) in the CJE output)` : ''}.`;
    if (blocked.length) void vscode.window.showErrorMessage(text);
    else if (warned) void vscode.window.showWarningMessage(text);
    else void vscode.window.showInformationMessage(text);
    return report;
  }

  /** "CJE: Export Scores": a log's scores as a cje-eval log, a weights CSV or log-weights for PSIS (src/core/export.ts). */
  async function exportCommand(arg?: unknown, formatArg?: unknown): Promise<ExportSummary | undefined> {
    const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
    const logUri = uri && LOG_FILE.test(uri.fsPath) && !isScoresFile(uri.fsPath) ? uri : (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { Logs: ['jsonl', 'gz', 'csv'] }, openLabel: 'Export its scores' }))?.[0];
    if (!logUri) return undefined;
    const logFile = logUri.fsPath;
    const scores = defaultScoresPath(logFile);
    if (!fs.existsSync(scores)) throw new Error(`${path.basename(logFile)} has no scores file (${path.basename(scores)}): score it first`);
    const configFile = await chooseConfig(logFile, true);
    if (!configFile) return undefined;
    const parsed = parseConfig(configText(configFile).replace(/^\uFEFF/, ''), configFile);
    if (!parsed.config) throw new Error(`${vscode.workspace.asRelativePath(configFile)} has errors: fix them first`);
    let format = typeof formatArg === 'string' && (EXPORT_FORMATS as readonly string[]).includes(formatArg) ? (formatArg as ExportFormat) : undefined;
    if (!format) {
      const what: Record<ExportFormat, string> = {
        cje: 'the log with the rescored log-probs, for cje-eval (IPS, DR)',
        'weights-csv': 'one row per record: log-weight, weight, self-normalised weight per target',
        arviz: 'log-weights per target for arviz.psislw / loo::psis',
      };
      const pick = await vscode.window.showQuickPick(EXPORT_FORMATS.map((f) => ({ label: f, description: what[f] })), { title: `CJE: export the scores of ${path.basename(logFile)} as` });
      if (!pick) return undefined;
      format = pick.label as ExportFormat;
    }
    const out = defaultExportPath(logFile, format);
    const summary = await exportScores({ log: logFile, scores, config: parsed.config, format, out, onIssue: (i) => log(formatIssue(i)) });
    log(`cje export ${logFile} --format ${format} --config ${configFile}: ${summary.items} item(s) to ${out}`);
    for (const line of nullLines(summary)) log(`  ${line}`);
    const nulls = summary.nulls.reduce((n, c) => n + c.failed + c.suspect + c.missing, 0);
    const text = `CJE: wrote ${vscode.workspace.asRelativePath(out)} (${summary.items} items${nulls ? `; ${nulls} log-prob(s) null: failed, suspect or not scored, see the CJE output` : ''}).`;
    if (nulls) void vscode.window.showWarningMessage(text);
    else void vscode.window.showInformationMessage(text);
    return summary;
  }

  async function setKey(): Promise<void> {
    const key = await vscode.window.showInputBox({
      title: 'CJE: Fireworks API key',
      prompt: `Stored in VS Code's SecretStorage (never in settings). Used for provider "fireworks" before the ${FIREWORKS_KEY_ENV} environment variable. Leave empty to remove it.`,
      password: true,
      ignoreFocusOut: true,
      placeHolder: 'fw_…',
    });
    if (key === undefined) return;
    if (key.trim()) {
      seenSecrets.add(key.trim());
      await context.secrets.store(secretKey(FIREWORKS_KEY_ENV), key.trim());
      log('Fireworks API key stored in SecretStorage');
      void vscode.window.showInformationMessage('CJE: Fireworks API key stored in SecretStorage.');
    } else {
      await context.secrets.delete(secretKey(FIREWORKS_KEY_ENV));
      log('Fireworks API key removed from SecretStorage');
      void vscode.window.showInformationMessage('CJE: Fireworks API key removed from SecretStorage.');
    }
  }

  const cmd = (id: string, fn: (...a: unknown[]) => unknown) =>
    vscode.commands.registerCommand(id, async (...a: unknown[]) => {
      log(`command ${id}${a[0] instanceof vscode.Uri ? ` ${a[0].fsPath}` : ''}`);
      try {
        return await fn(...a);
      } catch (e) {
        const msg = errorMessage(e, [...seenSecrets]);
        log(`${id} failed: ${msg}`);
        void vscode.window.showErrorMessage(`CJE: ${msg}`);
        return undefined;
      }
    });

  context.subscriptions.push(
    { dispose: () => void manager?.stopAll() },
    output,
    lint,
    panels,
    cmd('cje.score', score),
    cmd('cje.openPanel', openPanel),
    cmd('cje.setFireworksApiKey', setKey),
    cmd('cje.checkEndpoints', checkEndpoints),
    cmd('cje.exportScores', exportCommand),
    // The run's progress lives in its notification: the notification centre shows it again when it was hidden.
    cmd('cje.showProgress', () => vscode.commands.executeCommand('notifications.showList')),
    logs,
    vscode.workspace.onDidGrantWorkspaceTrust(() => log('workspace trusted: scoring enabled')),
  );
  log(`CJE activated (workspace ${vscode.workspace.isTrusted ? 'trusted' : 'not trusted: no scoring, no workers'})`);
  return { panels: () => panels.list(), lastRun: () => lastRun, settings, logs };
}

export function deactivate(): void {
  /* disposables are in context.subscriptions */
}
