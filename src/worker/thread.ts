// The main-thread side of the model thread (forward-thread.ts): starts it,
// sends it padded batches and resolves each with the per-sequence results it
// posts back. One thread per loaded model; it holds the ONNX sessions and one
// batch of logits at a time. It never keeps the process alive by itself: it
// is unref'd while no batch is pending, and close() ends it.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { WorkerStartupError, type Device, type Dtype } from './model';
import { seqScores, type FlatScores, type SeqScores } from './reduce';

/** workerData of the model thread. */
export interface ThreadInit {
  dir: string;
  /** The folder's config.json, as checkModelFolder read it. */
  config: unknown;
  device?: Device;
  dtype?: Dtype;
  reduce: 'onnx' | 'js';
  reduceThreads?: number;
  reduceGraph?: string;
  /** onnxruntime's intra-op spinning for the model session (model.ts LoadOptions.spinning). */
  spinning?: boolean;
}

export type ToThread = { type: 'batch'; id: number; ids: Int32Array; lens: Int32Array; ks: Int32Array; maxLen: number } | { type: 'close' };

export type FromThread =
  | { type: 'ready'; device: 'cpu' | 'cuda'; reduce: 'onnx' | 'js' }
  | { type: 'log'; line: string }
  | { type: 'startup-error'; message: string; startup: boolean }
  | { type: 'result'; id: number; reduce: 'onnx' | 'js'; scores: FlatScores }
  | { type: 'error'; id: number; message: string };

/** The compiled thread entry, beside this file's compiled form (out/src/worker/forward-thread.js). */
export function threadEntry(): string {
  return path.join(__dirname, 'forward-thread.js');
}

interface Pending {
  resolve: (s: SeqScores[]) => void;
  reject: (e: Error) => void;
}

export class ModelThread {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited = false;
  private exitError: Error | undefined;
  reduceMode: 'onnx' | 'js';

  private constructor(
    private readonly worker: Worker,
    readonly device: 'cpu' | 'cuda',
    reduce: 'onnx' | 'js',
    private readonly log?: (line: string) => void,
  ) {
    this.reduceMode = reduce;
    worker.on('message', (m: FromThread) => this.onMessage(m));
    worker.on('error', (e) => (this.exitError = e));
    worker.on('exit', (code) => {
      this.exited = true;
      const why = this.exitError ? `: ${this.exitError.message}` : ` (code ${code})`;
      for (const p of this.pending.values()) p.reject(new Error(`the model thread exited${why}`));
      this.pending.clear();
    });
    worker.unref();
  }

  /** Starts the thread and waits until it has loaded the model; startup failures are WorkerStartupErrors, as loadModel's. */
  static start(init: ThreadInit, log?: (line: string) => void): Promise<ModelThread> {
    return new Promise((resolve, reject) => {
      let worker: Worker;
      try {
        worker = new Worker(threadEntry(), { workerData: init, stdout: false, stderr: false });
      } catch (e) {
        return reject(new WorkerStartupError(`cannot start the model thread ${threadEntry()} (${(e as Error).message})`));
      }
      let error: Error | undefined;
      const onMessage = (m: FromThread) => {
        if (m.type === 'log') log?.(m.line);
        else if (m.type === 'startup-error') {
          error = m.startup ? new WorkerStartupError(m.message) : new Error(m.message);
          void worker.terminate();
        } else if (m.type === 'ready') {
          off();
          resolve(new ModelThread(worker, m.device, m.reduce, log));
        }
      };
      const onError = (e: Error) => (error = e);
      const onExit = (code: number) => {
        off();
        reject(error ?? new WorkerStartupError(`the model thread exited (code ${code}) before loading ${init.dir}`));
      };
      const off = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  private onMessage(m: FromThread): void {
    if (m.type === 'log') return this.log?.(m.line);
    if (m.type !== 'result' && m.type !== 'error') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (!this.pending.size) this.worker.unref();
    if (m.type === 'error') return p.reject(new Error(m.message));
    this.reduceMode = m.reduce;
    p.resolve(Array.from(m.scores.topK, (_, b) => seqScores(m.scores, b)));
  }

  /** Forward pass + reduction of one right-padded batch; resolves to each sequence's results. */
  run(seqs: { ids: number[]; k: number }[], maxLen: number): Promise<SeqScores[]> {
    if (this.exited) return Promise.reject(new Error(`the model thread has exited${this.exitError ? `: ${this.exitError.message}` : ''}`));
    const total = seqs.reduce((n, s) => n + s.ids.length, 0);
    const ids = new Int32Array(total);
    const lens = new Int32Array(seqs.length);
    const ks = new Int32Array(seqs.length);
    let o = 0;
    seqs.forEach((s, b) => {
      ids.set(s.ids, o);
      o += s.ids.length;
      lens[b] = s.ids.length;
      ks[b] = s.k;
    });
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      const msg: ToThread = { type: 'batch', id, ids, lens, ks, maxLen };
      this.worker.postMessage(msg, [ids.buffer, lens.buffer, ks.buffer]);
    });
  }

  /** Ends the thread (after releasing its sessions; terminated if that takes over 5 s). Pending batches are rejected. */
  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies ToThread);
    const t = setTimeout(() => void this.worker.terminate(), 5000);
    t.unref();
    this.worker.ref();
    await done;
    clearTimeout(t);
  }
}
