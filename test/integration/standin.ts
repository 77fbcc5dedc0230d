// A stand-in for the VS Code executable that @vscode/test-electron's
// runTests({vscodeExecutablePath}) (and @vscode/test-cli's useInstallation.fromPath)
// start: it takes VS Code's usual test arguments
//   [workspace] --extensionDevelopmentPath=DIR --extensionTestsPath=FILE
//   --user-data-dir=DIR --extensions-dir=DIR [--disable-workspace-trust] …
// and runs the tests in a real VS Code: code-server (real workbench, real Node
// extension host) with the smoke-test driver, opened by headless Chromium with
// the test payload. The tests' output is printed; the exit code is theirs.
// Started through scripts/vscode-test-standin.sh (an executable file).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { format } from 'node:util';
import { launchBrowser, startCodeServer, tempDir, vscodeTestPaths, writeUserSettings } from '../e2e/vscode-harness';

interface StandinArgs {
  extensionDevelopmentPath?: string;
  extensionTestsPath?: string;
  userDataDir?: string;
  extensionsDir?: string;
  folder?: string;
  disableWorkspaceTrust: boolean;
}

export function parseStandinArgs(argv: string[]): StandinArgs {
  const out: StandinArgs = { disableWorkspaceTrust: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (!m) {
      out.folder ??= a;
      continue;
    }
    const value = () => m[2] ?? argv[++i];
    switch (m[1]) {
      case 'extensionDevelopmentPath':
        out.extensionDevelopmentPath = value();
        break;
      case 'extensionTestsPath':
        out.extensionTestsPath = value();
        break;
      case 'user-data-dir':
        out.userDataDir = value();
        break;
      case 'extensions-dir':
        out.extensionsDir = value();
        break;
      case 'folder-uri':
        out.folder ??= value().replace(/^file:\/\//, '');
        break;
      case 'disable-workspace-trust':
        out.disableWorkspaceTrust = true;
        break;
      default:
        // --no-sandbox, --disable-gpu-sandbox, --disable-updates, --skip-welcome, … mean nothing here.
        break;
    }
  }
  return out;
}

async function main(): Promise<number> {
  const a = parseStandinArgs(process.argv.slice(2));
  const { paths, missing } = vscodeTestPaths();
  if (!paths) {
    console.error(`vscode stand-in: ${missing}`);
    return 2;
  }
  if (!a.extensionDevelopmentPath || !a.extensionTestsPath) {
    console.error('vscode stand-in: --extensionDevelopmentPath and --extensionTestsPath are required');
    return 2;
  }
  const tmp = tempDir('cje-vscode-standin-');
  const userDataDir = path.resolve(a.userDataDir ?? path.join(tmp, 'user-data'));
  const extensionsDir = path.resolve(a.extensionsDir ?? path.join(tmp, 'extensions'));
  fs.mkdirSync(extensionsDir, { recursive: true });
  writeUserSettings(userDataDir);
  const server = await startCodeServer({
    paths,
    userDataDir,
    extensionsDir,
    homeDir: path.join(tmp, 'home'),
    folder: a.folder ? path.resolve(a.folder) : undefined,
    smokeTestDriver: true,
    disableWorkspaceTrust: a.disableWorkspaceTrust,
    log: process.env.CJE_STANDIN_VERBOSE ? (l) => console.error(`[code-server] ${l}`) : undefined,
  });
  const { ctx, external } = await launchBrowser(paths, path.join(tmp, 'chromium'));
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    let resolveExit!: (code: number) => void;
    const exited = new Promise<number>((r) => (resolveExit = r));
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      const text = format(...(Array.isArray(args) ? args : [args]));
      if (/^Ignoring fetching additional builtin extensions/.test(text)) return;
      (type === 'error' ? process.stderr : process.stdout).write(text + '\n');
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => resolveExit(code));
    page.on('pageerror', (e) => process.env.CJE_STANDIN_VERBOSE && console.error(`[page] ${e.message}`));
    const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${path.resolve(p).split(path.sep).join('/')}`;
    const payload = [
      ['extensionDevelopmentPath', remote(a.extensionDevelopmentPath)],
      ['extensionTestsPath', remote(a.extensionTestsPath)],
      ['skipWelcome', 'true'],
    ];
    const url = `${server.origin}/?${a.folder ? `folder=${encodeURIComponent(path.resolve(a.folder))}&` : ''}payload=${encodeURIComponent(JSON.stringify(payload))}`;
    await page.goto(url);
    const limit = Number(process.env.CJE_STANDIN_TIMEOUT_MS ?? 300_000);
    const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-1), limit).unref())]);
    if (code === -1) {
      console.error(`vscode stand-in: the tests did not finish within ${limit / 1000} s`);
      return 1;
    }
    if (external.length) {
      console.error(`vscode stand-in: the browser tried to reach ${external.length} address(es) off 127.0.0.1 (all aborted): ${[...new Set(external)].slice(0, 5).join(', ')}`);
      return 1;
    }
    return code;
  } finally {
    await ctx.close().catch(() => undefined);
    await server.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(`vscode stand-in: ${(e as Error).stack ?? e}`);
      process.exit(1);
    },
  );
}
