// Runs a real VS Code for the tests: code-server (the VS Code workbench and
// Node extension host, installed by scripts/setup-vscode-test.sh into
// .vscode-test/) on 127.0.0.1, driven by Debian's headless Chromium through
// playwright-core. Every browser request not to 127.0.0.1 is aborted and
// recorded, so a test can assert there was none. Nothing here knows about CJE.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

type Ctx = import('playwright-core').BrowserContext;

export interface VsCodeTestPaths {
  node24: string;
  codeServer: string;
  chromium: string;
  codeServerVersion: string;
}

/** Project root: the folder of package.json above out/test/e2e or test/e2e. */
export const ROOT = (() => {
  for (let d = __dirname; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json')) && fs.existsSync(path.join(d, 'src', 'extension'))) return d;
    if (path.dirname(d) === d) throw new Error('project root not found');
  }
})();

/** What setup-vscode-test.sh installed, or why the real-VS-Code tests cannot run. */
export function vscodeTestPaths(): { paths?: VsCodeTestPaths; missing?: string } {
  const file = path.join(process.env.CJE_VSCODE_TEST_DIR ?? path.join(ROOT, '.vscode-test'), 'paths.json');
  if (!fs.existsSync(file)) return { missing: `${file} is absent: run scripts/setup-vscode-test.sh (installs chromium, Node 24 and code-server; .ci/run does)` };
  const paths = JSON.parse(fs.readFileSync(file, 'utf8')) as VsCodeTestPaths;
  for (const f of [paths.node24, paths.codeServer, paths.chromium]) if (!fs.existsSync(f)) return { missing: `${f} is absent: run scripts/setup-vscode-test.sh` };
  return { paths };
}

/** In CI a missing install fails the suite; elsewhere it is skipped with the reason. */
export function requireVsCodeInstall(ctx: Mocha.Context): void {
  const { missing } = vscodeTestPaths();
  if (!missing) return;
  if (process.env.CI) throw new Error(`real-VS-Code tests cannot run: ${missing}`);
  console.log(`    SKIPPED (not in CI): ${missing}`);
  ctx.skip();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function get(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A user settings.json that keeps VS Code quiet and offline. */
export function writeUserSettings(userDataDir: string, extra: Record<string, unknown> = {}): void {
  const dir = path.join(userDataDir, 'User');
  fs.mkdirSync(dir, { recursive: true });
  const settings = {
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'workbench.startupEditor': 'none',
    'workbench.enableExperiments': false,
    'workbench.tips.enabled': false,
    'chat.disableAIFeatures': true,
    'git.enabled': false,
    'npm.autoDetect': 'off',
    'typescript.disableAutomaticTypeAcquisition': true,
    'json.schemaDownload.enable': false,
    'workbench.colorTheme': 'Default Light Modern',
    'window.commandCenter': false,
    ...extra,
  };
  const f = path.join(dir, 'settings.json');
  const old = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, 'utf8') || '{}') : {};
  fs.writeFileSync(f, JSON.stringify({ ...old, ...settings }, null, 2));
}

export interface CodeServerOptions {
  paths: VsCodeTestPaths;
  userDataDir: string;
  extensionsDir: string;
  /** Folder for XDG_* dirs (code-server writes to the home folder otherwise). */
  homeDir: string;
  folder?: string;
  smokeTestDriver?: boolean;
  disableWorkspaceTrust?: boolean;
  log?: (line: string) => void;
}

export interface CodeServer {
  port: number;
  origin: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export function codeServerEnv(paths: VsCodeTestPaths, homeDir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${path.dirname(paths.node24)}${path.delimiter}${process.env.PATH ?? ''}`,
    XDG_CONFIG_HOME: path.join(homeDir, 'config'),
    XDG_DATA_HOME: path.join(homeDir, 'data'),
    XDG_CACHE_HOME: path.join(homeDir, 'cache'),
    EXTENSIONS_GALLERY: '{}',
  };
  // Our own test harness variables and npm's must not leak into the editor.
  for (const k of Object.keys(env)) if (k.startsWith('npm_') || k === 'ELECTRON_RUN_AS_NODE') delete env[k];
  return env;
}

/** Starts code-server on a free 127.0.0.1 port and waits for /healthz. */
export async function startCodeServer(o: CodeServerOptions): Promise<CodeServer> {
  const port = await freePort();
  const args = [
    o.paths.codeServer,
    '--auth', 'none',
    '--bind-addr', `127.0.0.1:${port}`,
    '--user-data-dir', o.userDataDir,
    '--extensions-dir', o.extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-getting-started-override',
    '--disable-proxy',
    ...(o.smokeTestDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    ...(o.disableWorkspaceTrust ? ['--disable-workspace-trust'] : []),
    ...(o.folder ? [o.folder] : []),
  ];
  fs.mkdirSync(o.homeDir, { recursive: true });
  const proc = spawn(o.paths.node24, args, { env: codeServerEnv(o.paths, o.homeDir), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const lines: string[] = [];
  const onData = (d: Buffer) => {
    for (const l of d.toString().split('\n')) {
      if (!l.trim()) continue;
      lines.push(l);
      o.log?.(l);
    }
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let exited: number | null = null;
  proc.on('exit', (c) => (exited = c ?? -1));
  const origin = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (exited !== null) throw new Error(`code-server exited with ${exited} before it was ready:\n${lines.slice(-30).join('\n')}`);
    if ((await get(`${origin}/healthz`)) === 200) break;
    if (i > 600) throw new Error(`code-server did not answer ${origin}/healthz:\n${lines.slice(-30).join('\n')}`);
    await sleep(100);
  }
  return {
    port,
    origin,
    proc,
    async stop() {
      if (exited !== null) return;
      const done = new Promise<void>((r) => proc.once('exit', () => r()));
      try {
        process.kill(-proc.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-proc.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await done;
      clearTimeout(t);
    },
  };
}

/** Installs a .vsix into an extensions folder with code-server's CLI. */
export async function installVsix(o: { paths: VsCodeTestPaths; userDataDir: string; extensionsDir: string; homeDir: string; vsix: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(o.paths.node24, [o.paths.codeServer, '--user-data-dir', o.userDataDir, '--extensions-dir', o.extensionsDir, '--install-extension', o.vsix, '--force'], {
      env: codeServerEnv(o.paths, o.homeDir),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    p.on('exit', (c) => (c === 0 ? resolve(out) : reject(new Error(`install-extension exited ${c}: ${out}`))));
  });
}

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless Chromium with a fresh profile; requests not to 127.0.0.1 are aborted and listed in `external`. */
export async function launchBrowser(paths: VsCodeTestPaths, profileDir: string, viewport = { width: 1400, height: 900 }): Promise<{ ctx: Ctx; external: string[] }> {
  const pw: typeof import('playwright-core') = require('playwright-core');
  const ctx = await pw.chromium.launchPersistentContext(profileDir, { executablePath: paths.chromium, headless: true, args: CHROMIUM_ARGS, viewport, colorScheme: 'light' });
  const external: string[] = [];
  await ctx.route('**/*', (route) => {
    const url = route.request().url();
    if (/^(https?|wss?):\/\/127\.0\.0\.1[:/]/.test(url) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    external.push(url);
    return route.abort();
  });
  return { ctx, external };
}

/** Chromium on code-server's workbench for `folder`, waited for until the Explorer lists it. */
export async function openWorkbench(paths: VsCodeTestPaths, profileDir: string, origin: string, folder: string) {
  const { ctx, external } = await launchBrowser(paths, profileDir);
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(`${origin}/?folder=${encodeURIComponent(folder)}`);
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 120_000 });
  return { ctx, external, page };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Locators and actions on the workbench page that every real-VS-Code suite uses. */
export function workbench(page: () => import('playwright-core').Page) {
  const explorerRow = (name: string) => page().locator('.explorer-folders-view .monaco-list-row').filter({ hasText: new RegExp(`^${name.replace(/\./g, '\\.')}$`) });
  return {
    explorerRow,
    notification: (re: RegExp) => page().locator('.notifications-toasts .notification-toast').filter({ hasText: re }),
    /** Right-clicks an Explorer row until its context menu shows (the first click can land before the row is ready). */
    openContextMenu: async (name: string) => {
      const p = page();
      const menu = p.locator('.context-view .monaco-menu');
      for (let attempt = 0; ; attempt++) {
        await explorerRow(name).click({ button: 'right' });
        try {
          await menu.waitFor({ timeout: 5000 });
          return menu;
        } catch (e) {
          if (attempt >= 5) throw e;
          await p.keyboard.press('Escape');
        }
      }
    },
    /** Runs a palette command; the palette lists an extension's commands once the extension host has read them, so retry until it does. */
    runCommand: async (title: string) => {
      const p = page();
      for (let attempt = 0; ; attempt++) {
        await p.keyboard.press('Escape');
        await p.keyboard.press('F1');
        const input = p.locator('.quick-input-widget input');
        await input.waitFor();
        await input.fill(`>${title}`);
        const row = p.locator('.quick-input-widget .monaco-list-row').filter({ hasText: title }).first();
        try {
          await row.waitFor({ timeout: 5000 });
        } catch (e) {
          if (attempt >= 10) throw e;
          continue;
        }
        await row.click();
        return;
      }
    },
  };
}

