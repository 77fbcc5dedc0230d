// Starts `cje worker` processes for "local" policies that give a model folder
// instead of a baseURL: one worker per (folder, device, dtype), reused by every
// policy on that model, stopped when the owner asks or when this process exits
// (and, should this process die, the worker notices its stdin close and exits).
// Used by `cje score` and by the VS Code extension. Never imports 'vscode'.
import { spawn, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { scorerSettings } from '../scorers/make-scorer';
import { packageRoot } from '../core/package-root';
import type { PolicyConfig } from '../core/types';
import { CompletionsScorer } from '../scorers/completions';
import type { Scorer } from '../scorers/scorer';
import type { Device, Dtype } from './model';
import { workerScript } from './runtime';

export interface WorkerSpec {
  /** The model folder (resolved to an absolute path). */
  model: string;
  device?: Device;
  dtype?: Dtype;
  maxBatchTokens?: number;
}

export interface ManagedWorker {
  baseURL: string;
  model: string;
  pid: number;
  /** The worker's stderr so far (its startup lines). */
  log: string;
}

export interface WorkerManagerOptions {
  /** How long loading may take before giving up. Default 120 s. */
  startTimeoutMs?: number;
  /**
   * The node binary and script that run `cje worker`. Default: this process's
   * own binary (process.execPath: node for the CLI, the extension host's
   * Electron or node in an editor, run as plain node through
   * ELECTRON_RUN_AS_NODE=1) and the install's script (runtime.ts: bin/cje.js
   * in a checkout, out/dist/cje.js in a platform .vsix; none in the
   * universal .vsix, which fails with WorkerRuntimeMissingError).
   */
  command?: { exec: string; args: string[] };
  /** One-line notes (started, stopped, device fallback). */
  log?: (line: string) => void;
}

interface Entry {
  key: string;
  promise: Promise<ManagedWorker>;
  child?: ChildProcess;
}

function getJson(url: string, timeoutMs: number): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (data += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: data });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

export class WorkerManager {
  private readonly entries = new Map<string, Entry>();
  private readonly onExit = () => this.killAllSync();

  constructor(private readonly opts: WorkerManagerOptions = {}) {}

  private keyOf(spec: WorkerSpec): string {
    return JSON.stringify([path.resolve(spec.model), spec.device ?? 'auto', spec.dtype ?? 'fp32', spec.maxBatchTokens ?? null]);
  }

  /** A running worker for the model folder: the one already started, or a new one. */
  get(spec: WorkerSpec): Promise<ManagedWorker> {
    const key = this.keyOf(spec);
    const have = this.entries.get(key);
    if (have) return have.promise;
    const entry: Entry = { key, promise: Promise.resolve(null as unknown as ManagedWorker) };
    entry.promise = this.start(spec, entry);
    // A failed start is not cached: the next get() tries again.
    entry.promise.catch(() => this.entries.get(key) === entry && this.entries.delete(key));
    this.entries.set(key, entry);
    if (this.entries.size === 1) process.once('exit', this.onExit);
    return entry.promise;
  }

  private start(spec: WorkerSpec, entry: Entry): Promise<ManagedWorker> {
    const model = path.resolve(spec.model);
    let cmd: { exec: string; args: string[] };
    try {
      cmd = this.opts.command ?? { exec: process.execPath, args: [workerScript(packageRoot())] };
    } catch (e) {
      return Promise.reject(e);
    }
    const args = [...cmd.args, 'worker', '--model', model, '--port', '0', '--exit-with-stdin'];
    if (spec.device) args.push('--device', spec.device);
    if (spec.dtype) args.push('--dtype', spec.dtype);
    if (spec.maxBatchTokens) args.push('--max-batch-tokens', String(spec.maxBatchTokens));
    // ELECTRON_RUN_AS_NODE: under desktop VS Code process.execPath is Electron, which runs a script as node only with it; node ignores it.
    const child = spawn(cmd.exec, args, { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    entry.child = child;
    let log = '';
    return new Promise<ManagedWorker>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => fail(new Error(`the cje worker for ${model} did not start within ${(this.opts.startTimeoutMs ?? 120000) / 1000} s`)), this.opts.startTimeoutMs ?? 120000);
      const fail = (e: Error) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        child.kill('SIGTERM');
        reject(e);
      };
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => {
        log += d;
        if (log.length > 20000) log = log.slice(-20000);
      });
      let out = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (d: string) => {
        out += d;
        const m = /listening (http:\/\/\S+)/.exec(out);
        if (!m || done) return;
        const baseURL = m[1];
        getJson(baseURL.replace(/\/v1$/, '') + '/health', 10000).then(
          ({ status }) => {
            if (status !== 200) return fail(new Error(`the cje worker for ${model} answered /health with HTTP ${status}`));
            done = true;
            clearTimeout(timer);
            for (const line of log.split('\n')) if (/CUDA|fallback|cpu/i.test(line) && line.trim()) this.opts.log?.(line.trim());
            resolve({ baseURL, model, pid: child.pid!, log });
          },
          (e) => fail(new Error(`the cje worker for ${model} does not answer /health: ${(e as Error).message}`)),
        );
      });
      child.on('error', (e) => fail(new Error(`cannot start the cje worker: ${e.message}`)));
      child.on('exit', (code, signal) => {
        if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
        const last = log.trim().split('\n').filter(Boolean).pop() ?? '';
        fail(new Error(last ? last.replace(/^cje worker: /, 'cje worker: ') : `the cje worker for ${model} exited (${signal ?? `code ${code}`}) before it listened`));
      });
      // The worker exits when its stdin closes; ignore EPIPE when it is already gone.
      child.stdin!.on('error', () => undefined);
    });
  }

  /** Stops every worker this manager started and waits for them to exit. */
  async stopAll(): Promise<void> {
    const entries = [...this.entries.values()];
    this.entries.clear();
    process.off('exit', this.onExit);
    await Promise.all(
      entries.map(
        (e) =>
          new Promise<void>((resolve) => {
            const c = e.child;
            if (!c || c.exitCode !== null || c.signalCode !== null) return resolve();
            const t = setTimeout(() => c.kill('SIGKILL'), 5000);
            c.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.kill('SIGTERM');
          }),
      ),
    );
  }

  private killAllSync(): void {
    for (const e of this.entries.values()) e.child?.kill('SIGTERM');
  }
}

/** The manager one process shares (the CLI and the extension each have one). */
export const workers = new WorkerManager();

/**
 * Wraps a makeScorer (runScoring's) so that a "local" policy without baseURL
 * is scored by a worker started for its model folder (resolved against
 * `baseDir`, the config file's folder); every other policy goes to `inner`.
 */
export function withLocalWorkers<S extends Scorer>(
  inner: (policy: PolicyConfig, name: string) => Promise<S>,
  opts: { baseDir: string; manager?: WorkerManager; spec?: Omit<WorkerSpec, 'model'>; onStart?: (name: string, dir: string, w: ManagedWorker) => void },
): (policy: PolicyConfig, name: string) => Promise<S | CompletionsScorer> {
  return async (policy, name) => {
    if (policy.provider !== 'local' || policy.baseURL) return inner(policy, name);
    const dir = path.resolve(opts.baseDir, policy.model);
    const w = await (opts.manager ?? workers).get({ ...opts.spec, model: dir });
    opts.onStart?.(name, dir, w);
    return new CompletionsScorer({ ...(await scorerSettings(policy, opts.baseDir)), baseURL: w.baseURL });
  };
}
