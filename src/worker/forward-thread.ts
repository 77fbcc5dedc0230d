// The model thread (node:worker_threads): loads a model folder's ONNX session
// and the reduction graph, and runs forward pass + reduction for one padded
// batch at a time, posting back only the per-position results (FlatScores,
// transferred). onnxruntime-node runs a session on the calling JS thread, so
// running it here leaves the main thread free for HTTP and JSON meanwhile.
// Started by thread.ts (ModelThread); never imported by anything else.
import { parentPort, workerData } from 'node:worker_threads';
import { loadSession, WorkerStartupError, type ModelSession } from './model';
import { reduceBatchFlat, type FlatScores } from './reduce';
import { loadOnnxReducer, reduceGraphPath, type BatchReducer } from './reduce-onnx';
import type { FromThread, ThreadInit, ToThread } from './thread';

const init = workerData as ThreadInit;
const port = parentPort!;
const post = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

let session: ModelSession;
let reducer: BatchReducer | undefined;
const queue: Extract<ToThread, { type: 'batch' }>[] = [];
let busy = false;
let closing = false;

/** Releases the sessions; with the port closed nothing keeps this thread alive, and it ends. */
function shutDown(): void {
  void Promise.allSettled([session?.dispose(), reducer?.dispose()]).then(() => port.close());
}

async function reduce(logits: Float32Array, vocab: number, maxLen: number, seqs: { ids: Int32Array; k: number }[]): Promise<FlatScores> {
  if (reducer) {
    try {
      return await reducer.reduceFlat(logits, [seqs.length, maxLen, vocab], seqs);
    } catch (e) {
      post({ type: 'log', line: `cje worker: the onnxruntime reduction failed (${(e as Error).message.split('\n')[0]}); reducing logits in JavaScript from now on` });
      void reducer.dispose().catch(() => undefined);
      reducer = undefined;
    }
  }
  return reduceBatchFlat(logits, vocab, maxLen, seqs);
}

/** One batch at a time: a single batch of logits is alive in this thread. */
async function drain(): Promise<void> {
  if (busy) return;
  busy = true;
  try {
    for (let msg = queue.shift(); msg; msg = queue.shift()) {
      const seqs: { ids: Int32Array; k: number }[] = [];
      for (let b = 0, o = 0; b < msg.lens.length; o += msg.lens[b++]) seqs.push({ ids: msg.ids.subarray(o, o + msg.lens[b]), k: msg.ks[b] });
      try {
        const { logits, vocab, dispose } = await session.forward(seqs.map((s) => s.ids), msg.maxLen);
        let flat: FlatScores;
        try {
          flat = await reduce(logits, vocab, msg.maxLen, seqs);
        } finally {
          dispose();
        }
        const f = flat;
        post({ type: 'result', id: msg.id, reduce: reducer ? 'onnx' : 'js', scores: f }, [f.start, f.topK, f.topStart, f.logprob, f.entropy, f.topIds, f.topLogprobs].map((a) => a.buffer as ArrayBuffer));
      } catch (e) {
        post({ type: 'error', id: msg.id, message: (e as Error).message ?? String(e) });
      }
    }
  } finally {
    busy = false;
    if (closing) shutDown();
  }
}

async function main(): Promise<void> {
  try {
    session = await loadSession(init.dir, init.config, { device: init.device, dtype: init.dtype, spinning: init.spinning, log: (line) => post({ type: 'log', line }) });
  } catch (e) {
    post({ type: 'startup-error', message: (e as Error).message, startup: e instanceof WorkerStartupError });
    return;
  }
  if (init.reduce === 'onnx') {
    try {
      reducer = await loadOnnxReducer({ threads: init.reduceThreads, file: init.reduceGraph });
    } catch (e) {
      post({ type: 'log', line: `cje worker: cannot load the onnxruntime reduction ${init.reduceGraph ?? reduceGraphPath()} (${(e as Error).message.split('\n')[0]}); reducing logits in JavaScript (slower)` });
    }
  }
  port.on('message', (msg: ToThread) => {
    if (msg.type === 'batch') {
      queue.push(msg);
      void drain();
    } else if (msg.type === 'close' && !closing) {
      closing = true;
      queue.length = 0;
      if (!busy) shutDown();
    }
  });
  post({ type: 'ready', device: session.device, reduce: reducer ? 'onnx' : 'js' });
}

void main();
