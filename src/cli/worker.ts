import type { Device, Dtype } from '../worker/model';
import { WorkerStartupError } from '../worker/model';
import { startWorker } from '../worker/server';
import { defineCommand, runCommand, UsageError, type Io } from './command';

const DEVICES: Device[] = ['auto', 'cpu', 'cuda'];
const DTYPES: Dtype[] = ['fp32', 'fp16', 'q8'];

/**
 * `cje worker --model DIR`: serves the completions echo protocol on 127.0.0.1
 * until SIGTERM/SIGINT, or until its parent process goes away.
 */
export const WORKER_COMMAND = defineCommand({
  name: 'worker',
  summary: 'Serve a local model folder (transformers.js/ONNX) on 127.0.0.1 with the completions echo protocol.',
  description: `Serves a model folder on 127.0.0.1 with the same /v1/completions echo protocol as Fireworks and
vLLM, fully offline, until SIGTERM or Ctrl-C. Prints one line, listening http://127.0.0.1:PORT/v1.
cje score starts one by itself for "local" policies with a model folder; run it by hand to share
one worker between runs (give the policies its baseURL).`,
  positionals: null,
  options: {
    model: { type: 'string', short: 'm', value: 'DIR', required: true, summary: 'a folder with config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx' },
    port: { type: 'string', short: 'p', value: 'N', summary: 'the port (default 0: any free port)' },
    device: { type: 'string', value: DEVICES.join('|'), summary: 'where the model runs (default auto: CUDA where available, else cpu)' },
    dtype: { type: 'string', value: DTYPES.join('|'), summary: 'which onnx/ file: model.onnx, model_fp16.onnx, model_quantized.onnx (default fp32)' },
    'max-batch-tokens': { type: 'string', value: 'N', summary: 'batch size × longest prompt per forward pass (default 4096)' },
    // Set by the manager that spawns the worker: exit when stdin closes (the parent died).
    'exit-with-stdin': { type: 'boolean', internal: true, summary: 'exit when stdin closes (set by the process that starts the worker)' },
  },
  run: async ({ values }, io) => {
    const model = values.model!;
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer 0..65535 (0 = any free port), got ${values.port}`);
    const device = (values.device ?? 'auto') as Device;
    if (!DEVICES.includes(device)) throw new UsageError(`--device must be one of ${DEVICES.join(', ')}, got ${values.device}`);
    const dtype = (values.dtype ?? 'fp32') as Dtype;
    if (!DTYPES.includes(dtype)) throw new UsageError(`--dtype must be one of ${DTYPES.join(', ')}, got ${values.dtype}`);
    const maxBatchTokens = values['max-batch-tokens'] === undefined ? 4096 : Number(values['max-batch-tokens']);
    if (!Number.isInteger(maxBatchTokens) || maxBatchTokens < 1) throw new UsageError(`--max-batch-tokens must be a positive integer, got ${values['max-batch-tokens']}`);

    let worker;
    try {
      worker = await startWorker({ model, port, device, dtype, maxBatchTokens, log: (l) => io.err.write(l + '\n') });
    } catch (e) {
      if (e instanceof WorkerStartupError || /port .* is in use/.test((e as Error).message)) {
        io.err.write(`cje worker: ${(e as Error).message}\n`);
        return 2;
      }
      throw e;
    }
    const m = worker.model;
    io.err.write(`cje worker: ${m.id} (${m.dir}) on ${m.device}, ${m.dtype}, vocabulary ${m.vocabSize}, context ${m.maxPositions}, batches of ≤ ${maxBatchTokens} tokens\n`);
    io.out.write(`listening ${worker.baseURL}\n`);

    return await new Promise<number>((resolve) => {
      let stopping = false;
      const parent = process.ppid;
      const stop = (why: string) => {
        if (stopping) return;
        stopping = true;
        clearInterval(watch);
        io.err.write(`cje worker: stopping (${why})\n`);
        worker.close().then(
          () => resolve(0),
          () => resolve(0),
        );
      };
      const onSigterm = () => stop('SIGTERM');
      const onSigint = () => stop('SIGINT');
      process.once('SIGTERM', onSigterm);
      process.once('SIGINT', onSigint);
      // Orphaned (the parent died without stopping us): the parent pid changes.
      const watch = setInterval(() => {
        if (process.ppid !== parent) stop('parent process exited');
      }, 1000);
      watch.unref();
      if (values['exit-with-stdin']) {
        process.stdin.on('end', () => stop('parent closed stdin'));
        process.stdin.on('error', () => stop('parent closed stdin'));
        process.stdin.resume();
      }
    });
  },
});

/** `cje worker ARGS...` (main() dispatches here through COMMANDS). */
export function workerCommand(argv: string[], io: Io): Promise<number> {
  return runCommand(WORKER_COMMAND, argv, io);
}
