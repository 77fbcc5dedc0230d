// Which command runs `cje worker` in this install, or why none can.
// - A checkout or the npm package: bin/cje.js (the compiled sources in out/src
//   and node_modules with @huggingface/transformers and onnxruntime-node).
// - A platform-specific .vsix (cje-inspector-<platform>-<arch>.vsix, packed by
//   scripts/package-vsix.mjs --target): the bundled CLI out/dist/cje.js and a
//   node_modules holding transformers.js and only this platform's onnxruntime.
// - The universal .vsix carries neither: WorkerRuntimeMissingError says what
//   to install instead. Never imports 'vscode'.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The vsce targets that have an onnxruntime-node binary (onnxruntime-node 1.30: no darwin-x64). */
export const WORKER_TARGETS = ['linux-x64', 'linux-arm64', 'darwin-arm64', 'win32-x64', 'win32-arm64'] as const;

export const WORKER_RUNTIME_MISSING = 'CJE_WORKER_RUNTIME_MISSING';

export class WorkerRuntimeMissingError extends Error {
  readonly code = WORKER_RUNTIME_MISSING;
}

/** This machine's vsce target name (linux-x64, darwin-arm64, …). */
export function platformTarget(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

/** Whether the folder `nodeModules` holds transformers.js and onnxruntime-node's native binding for this platform. */
export function hasOnnxRuntime(nodeModules: string, platform: string = process.platform, arch: string = process.arch): boolean {
  const bin = path.join(nodeModules, 'onnxruntime-node', 'bin');
  let napis: string[];
  try {
    napis = fs.readdirSync(bin).filter((d) => d.startsWith('napi-v'));
  } catch {
    return false;
  }
  return napis.some((d) => fs.existsSync(path.join(bin, d, platform, arch, 'onnxruntime_binding.node'))) && fs.existsSync(path.join(nodeModules, '@huggingface', 'transformers', 'package.json'));
}

/** The message for an install without the worker's runtime (the universal .vsix). */
export function runtimeMissingMessage(platform: string = process.platform, arch: string = process.arch): string {
  const target = platformTarget(platform, arch);
  const pkg = (WORKER_TARGETS as readonly string[]).includes(target)
    ? `install the ${target} package of CJE Inspector (cje-inspector-${target}.vsix, built by \`npm run package -- --target ${target}\`; Extensions: Install from VSIX…), which carries the worker and onnxruntime for this platform`
    : `no CJE Inspector package carries onnxruntime for ${target}`;
  return (
    `the local worker ("provider": "local" with a model folder) is not in this CJE Inspector package: it carries no onnxruntime. ` +
    `To score such policies, ${pkg}; or run \`cje worker --model DIR\` from a checkout or the npm package and give the policy "baseURL": "http://127.0.0.1:PORT/v1"`
  );
}

/** The script that runs the cje CLI (and so `cje worker`) in the install rooted at `root`; throws WorkerRuntimeMissingError where there is none. */
export function workerScript(root: string): string {
  const bin = path.join(root, 'bin', 'cje.js');
  if (fs.existsSync(bin) && fs.existsSync(path.join(root, 'out', 'src', 'cli', 'main.js'))) return bin;
  const bundled = path.join(root, 'out', 'dist', 'cje.js');
  // Node resolves the bundle's externals from out/dist/node_modules first: the platform .vsix puts them there.
  if (fs.existsSync(bundled) && hasOnnxRuntime(path.join(root, 'out', 'dist', 'node_modules'))) return bundled;
  throw new WorkerRuntimeMissingError(runtimeMissingMessage());
}
