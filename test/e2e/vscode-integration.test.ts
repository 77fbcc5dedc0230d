// (a) The extension's mocha integration tests (test/integration/) inside a
// real VS Code extension host, started the standard way: @vscode/test-electron's
// runTests with vscodeExecutablePath = scripts/vscode-test-standin.sh, which runs
// code-server (real workbench + Node extension host) under headless Chromium.
// The scoring backend is the loopback completions server of test/support.
// Needs scripts/setup-vscode-test.sh (.ci/run calls it). In CI a missing
// install fails; elsewhere the suite is skipped with the reason.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTests } from '@vscode/test-electron';
import { startCompletionsServer, type CompletionsServer } from '../support/completions-server';
import { requireVsCodeInstall, ROOT, tempDir } from './vscode-harness';
import { makeVsCodeWorkspace, TEST_API_KEY } from './vscode-workspace';

describe('extension integration tests in a real VS Code (code-server, runTests)', function () {
  this.timeout(600_000);
  let server: CompletionsServer;
  let tmp: string;

  before(async function () {
    requireVsCodeInstall(this);
    server = await startCompletionsServer({ requireApiKey: TEST_API_KEY });
    tmp = tempDir('cje-vscode-it-');
  });

  after(async () => {
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('test/integration passes inside the extension host', async () => {
    const ws = makeVsCodeWorkspace(path.join(tmp, 'ws'), server.baseURL);
    const code = await runTests({
      vscodeExecutablePath: path.join(ROOT, 'scripts', 'vscode-test-standin.sh'),
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: path.join(ROOT, 'out', 'test', 'integration', 'index.js'),
      launchArgs: [ws.dir, `--user-data-dir=${path.join(tmp, 'user-data')}`, `--extensions-dir=${path.join(tmp, 'extensions')}`],
      extensionTestsEnv: { CJE_IT_WORKSPACE: ws.dir, CJE_IT_BASEURL: server.baseURL, FIREWORKS_API_KEY: TEST_API_KEY },
    });
    assert.equal(code, 0);
    const posts = server.requests.filter((r) => r.method === 'POST' && r.path === '/v1/completions');
    assert.ok(posts.length > 0, 'the extension scored against the loopback server');
    assert.ok(posts.every((r) => r.headers.authorization === 'present'), 'with the key from FIREWORKS_API_KEY');
  });
});
