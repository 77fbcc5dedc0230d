// Which command runs the local worker in each kind of install (src/worker/runtime.ts),
// the message where there is none (the universal .vsix), and the environment the
// manager starts it with (ELECTRON_RUN_AS_NODE=1: the extension host's own binary as node).
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WorkerManager } from '../../src/worker/manager';
import { runtimeMissingMessage, WORKER_RUNTIME_MISSING, WorkerRuntimeMissingError, workerScript } from '../../src/worker/runtime';

function touch(root: string, rel: string): void {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), '');
}

describe('packaging: the local worker runtime of an install', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cje-runtime-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a checkout or the npm package runs bin/cje.js', () => {
    touch(tmp, 'bin/cje.js');
    touch(tmp, 'out/src/cli/main.js');
    touch(tmp, 'out/dist/cje.js');
    assert.equal(workerScript(tmp), path.join(tmp, 'bin', 'cje.js'));
  });

  it('a platform .vsix runs out/dist/cje.js with its own onnxruntime for this platform', () => {
    touch(tmp, 'out/dist/cje.js');
    touch(tmp, 'out/dist/node_modules/@huggingface/transformers/package.json');
    touch(tmp, `out/dist/node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding.node`);
    assert.equal(workerScript(tmp), path.join(tmp, 'out', 'dist', 'cje.js'));
  });

  it("another platform's package or the universal .vsix: one error naming the package to install", () => {
    touch(tmp, 'out/dist/extension.js');
    const universal = (() => {
      try {
        workerScript(tmp);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(universal instanceof WorkerRuntimeMissingError);
    assert.equal((universal as WorkerRuntimeMissingError).code, WORKER_RUNTIME_MISSING);
    touch(tmp, 'out/dist/cje.js');
    touch(tmp, 'out/dist/node_modules/@huggingface/transformers/package.json');
    touch(tmp, 'out/dist/node_modules/onnxruntime-node/bin/napi-v6/no-such-os/no-such-arch/onnxruntime_binding.node');
    assert.throws(() => workerScript(tmp), WorkerRuntimeMissingError);

    const m = runtimeMissingMessage('linux', 'x64');
    assert.match(m, /cje-inspector-linux-x64\.vsix/);
    assert.match(m, /npm run package -- --target linux-x64/);
    assert.match(m, /cje worker --model DIR/);
    assert.match(m, /"baseURL"/);
    assert.match(runtimeMissingMessage('darwin', 'x64'), /no CJE Inspector package carries onnxruntime for darwin-x64/);
  });

  it('the manager starts the worker with ELECTRON_RUN_AS_NODE=1 in its environment', async () => {
    // A stand-in worker: reports its environment on stderr, then serves /health.
    const script = path.join(tmp, 'fake-worker.js');
    fs.writeFileSync(
      script,
      `process.stderr.write('ELECTRON_RUN_AS_NODE=' + process.env.ELECTRON_RUN_AS_NODE + '\\n');
       const s = require('http').createServer((q, r) => { r.setHeader('content-type', 'application/json'); r.end('{"status":"ok"}'); });
       s.listen(0, '127.0.0.1', () => process.stdout.write('listening http://127.0.0.1:' + s.address().port + '/v1\\n'));
       process.stdin.on('end', () => process.exit(0)); process.stdin.resume();`,
    );
    const m = new WorkerManager({ command: { exec: process.execPath, args: [script] }, startTimeoutMs: 20000 });
    try {
      const w = await m.get({ model: tmp });
      assert.match(w.log, /ELECTRON_RUN_AS_NODE=1/);
    } finally {
      await m.stopAll();
    }
  });
});
