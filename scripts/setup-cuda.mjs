// Opt-in: fetch onnxruntime-node's CUDA 12 provider for the local worker on an
// NVIDIA GPU. The package's own installer does the download; `npm ci` skips it
// (see .npmrc) because its host is unreachable on many machines.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const require = createRequire(import.meta.url);
const pkgDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
const r = spawnSync(process.execPath, [path.join(pkgDir, 'script', 'install.js')], {
  stdio: 'inherit',
  cwd: pkgDir,
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12', npm_config_onnxruntime_node_install: 'cuda12' },
});
process.exit(r.status ?? 1);
