// Loads a causal LM from a local folder with @huggingface/transformers
// (transformers.js on onnxruntime-node), fully offline, and runs teacher-forced
// forward passes over padded batches. Never imports 'vscode'.
import * as fs from 'node:fs';
import * as path from 'node:path';

export type Device = 'auto' | 'cpu' | 'cuda';
export type Dtype = 'fp32' | 'fp16' | 'q8';

/** The ONNX file transformers.js loads for each dtype. */
export const DTYPE_FILES: Record<Dtype, string> = { fp32: 'model.onnx', fp16: 'model_fp16.onnx', q8: 'model_quantized.onnx' };

/** A startup failure with a one-line message meant for the user. */
export class WorkerStartupError extends Error {}

export interface LoadOptions {
  device?: Device;
  dtype?: Dtype;
  /** Called with one-line notes (device fallback and the like). */
  log?: (line: string) => void;
  /**
   * Whether onnxruntime's intra-op threads spin between runs (its default,
   * true). The model thread turns it off: spinning threads take the cores
   * from the reduction and from the HTTP thread between forward passes.
   */
  spinning?: boolean;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type TF = typeof import('@huggingface/transformers');

/** Checks the folder before anything is loaded, naming what is missing. */
export function checkModelFolder(dir: string, dtype: Dtype = 'fp32'): { config: any; tokenizerJson: any } {
  const abs = path.resolve(dir);
  if (!fs.existsSync(abs)) throw new WorkerStartupError(`model folder ${abs} does not exist`);
  if (!fs.statSync(abs).isDirectory()) throw new WorkerStartupError(`--model ${abs} is not a folder (expected a folder with config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx)`);
  const need = ['config.json', 'tokenizer.json', 'tokenizer_config.json', path.join('onnx', DTYPE_FILES[dtype])];
  const missing = need.filter((f) => !fs.existsSync(path.join(abs, f)));
  if (missing.length) {
    const onnxDir = path.join(abs, 'onnx');
    const have = fs.existsSync(onnxDir) ? fs.readdirSync(onnxDir).filter((f) => f.endsWith('.onnx')) : [];
    const hint = missing.some((m) => m.startsWith('onnx')) && have.length ? ` (onnx/ has ${have.join(', ')}: try another --dtype)` : '';
    throw new WorkerStartupError(`model folder ${abs} lacks ${missing.join(', ')}${hint}`);
  }
  const readJson = (f: string) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(abs, f), 'utf8'));
    } catch (e) {
      throw new WorkerStartupError(`model folder ${abs}: ${f} is not valid JSON (${(e as Error).message})`);
    }
  };
  const config = readJson('config.json');
  readJson('tokenizer_config.json');
  const tokenizerJson = readJson('tokenizer.json');
  if (!config.model_type) throw new WorkerStartupError(`model folder ${abs}: config.json has no model_type`);
  return { config, tokenizerJson };
}

/** GPT-2's byte ↔ unicode table, which byte-level BPE vocabularies are written in. */
function byteDecoder(): Map<string, number> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  return new Map(bs.map((b, i) => [String.fromCharCode(cs[i]), b]));
}

function hasByteLevel(node: any): boolean {
  if (!node || typeof node !== 'object') return false;
  if (node.type === 'ByteLevel') return true;
  return [...(node.decoders ?? []), ...(node.pretokenizers ?? [])].some(hasByteLevel);
}

export interface LoadedModel {
  id: string;
  dir: string;
  device: 'cpu' | 'cuda';
  dtype: Dtype;
  vocabSize: number;
  maxPositions: number;
  /** The bytes each token id stands for (added tokens: their content). */
  tokenBytes: Uint8Array[];
  /** Each token as text, as servers write it (partial UTF-8 sequences come out with U+FFFD). */
  tokenText: string[];
  /** Ids of added (special) tokens: zero-width when not in the text. */
  added: Set<number>;
  encode(text: string): number[];
  /**
   * One forward pass over right-padded sequences; resolves to the logits
   * [batch, maxLen, vocab] as a flat Float32Array (to be reduced at once and dropped).
   */
  forward(seqs: ArrayLike<number>[], maxLen: number): Promise<{ logits: Float32Array; vocab: number; dispose: () => void }>;
  dispose(): Promise<void>;
}

let tfPromise: Promise<TF> | undefined;
/** transformers.js, loaded once, offline. */
export function transformers(): Promise<TF> {
  if (!tfPromise) {
    tfPromise = import('@huggingface/transformers').then((tf) => {
      tf.env.allowRemoteModels = false;
      tf.env.allowLocalModels = true;
      return tf;
    });
  }
  return tfPromise;
}

async function loadOnDevice(tf: TF, abs: string, device: 'cpu' | 'cuda', dtype: Dtype, quiet = false, spinning = true): Promise<any> {
  tf.env.localModelPath = path.dirname(abs) + path.sep;
  // A CUDA probe that fails logs a native error of its own; keep it to our one line.
  const session_options: Record<string, unknown> | undefined =
    quiet || !spinning ? { ...(quiet ? { logSeverityLevel: 4 } : {}), ...(spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }) } : undefined;
  return tf.AutoModelForCausalLM.from_pretrained(path.basename(abs), { local_files_only: true, dtype, device, session_options } as any);
}

/** Why onnxruntime-node cannot use CUDA here, or null when its CUDA provider library is present. */
export function cudaUnavailableReason(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `onnxruntime-node has CUDA only on linux x64 (this is ${process.platform} ${process.arch})`;
  let dir: string;
  try {
    dir = path.dirname(require.resolve('onnxruntime-node/package.json'));
  } catch {
    return 'onnxruntime-node is not installed';
  }
  const lib = path.join(dir, 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime_providers_cuda.so');
  return fs.existsSync(lib) ? null : 'onnxruntime-node was installed without its CUDA provider (ONNXRUNTIME_NODE_INSTALL=skip or no network at install)';
}

/** The tokenizer side of a model folder: what the HTTP server needs, no ONNX session. */
export type ModelInfo = Omit<LoadedModel, 'forward' | 'dispose' | 'device'> & { config: any };

/** Checks the folder and loads its tokenizer and token tables (no ONNX session). */
export async function loadTokenizer(dir: string, opts: { dtype?: Dtype } = {}): Promise<ModelInfo> {
  const dtype = opts.dtype ?? 'fp32';
  const abs = path.resolve(dir);
  const { config, tokenizerJson } = checkModelFolder(abs, dtype);
  const tf = await transformers();
  tf.env.localModelPath = path.dirname(abs) + path.sep;
  const name = path.basename(abs);
  let tokenizer: any;
  try {
    tokenizer = await tf.AutoTokenizer.from_pretrained(name, { local_files_only: true });
  } catch (e) {
    throw new WorkerStartupError(`model folder ${abs}: cannot load the tokenizer (${(e as Error).message.split('\n')[0]})`);
  }
  // Token id → bytes and text.
  const vocabMap: Map<string, number> = tokenizer.get_vocab();
  let size = 0;
  for (const id of vocabMap.values()) size = Math.max(size, id + 1);
  const vocabSize = Math.max(size, config.vocab_size ?? 0);
  const addedList: { id: number; content: string }[] = tokenizerJson.added_tokens ?? [];
  const added = new Set(addedList.map((t) => t.id));
  const byteLevel = hasByteLevel(tokenizerJson.decoder) || hasByteLevel(tokenizerJson.pre_tokenizer);
  const bd = byteDecoder();
  const enc = new TextEncoder();
  const dec = new TextDecoder('utf-8', { fatal: false });
  const tokenBytes: Uint8Array[] = new Array(vocabSize).fill(new Uint8Array(0));
  for (const [tok, id] of vocabMap) {
    if (added.has(id)) tokenBytes[id] = enc.encode(tok);
    else if (byteLevel && [...tok].every((c) => bd.has(c))) tokenBytes[id] = Uint8Array.from([...tok].map((c) => bd.get(c)!));
    else if (/^<0x[0-9A-Fa-f]{2}>$/.test(tok)) tokenBytes[id] = Uint8Array.of(parseInt(tok.slice(3, 5), 16));
    else tokenBytes[id] = enc.encode(tok.replace(/\u2581/g, ' '));
  }
  const tokenText = tokenBytes.map((b) => dec.decode(b));

  const maxPositions = Number(config.max_position_embeddings ?? config.n_positions ?? config.max_seq_len ?? tokenizer.model_max_length ?? 2048);
  return {
    id: name,
    dir: abs,
    dtype,
    config,
    vocabSize,
    maxPositions: Number.isFinite(maxPositions) ? maxPositions : 2048,
    tokenBytes,
    tokenText,
    added,
    encode: (text: string) => tokenizer.encode(text, { add_special_tokens: true }) as number[],
  };
}

/** A model's ONNX session: teacher-forced forward passes, nothing of the tokenizer. */
export interface ModelSession {
  device: 'cpu' | 'cuda';
  forward: LoadedModel['forward'];
  dispose(): Promise<void>;
}

/**
 * Loads the folder's onnx/model file on the device asked for (auto: CUDA where
 * onnxruntime-node has it, else cpu, with one log line). Expects a folder
 * checkModelFolder accepted; `config` is its config.json.
 */
export async function loadSession(dir: string, config: any, opts: LoadOptions = {}): Promise<ModelSession> {
  const dtype = opts.dtype ?? 'fp32';
  const abs = path.resolve(dir);
  const tf = await transformers();
  let model: any;
  let device: 'cpu' | 'cuda' = opts.device === 'cuda' ? 'cuda' : 'cpu';
  const want = opts.device ?? 'auto';
  try {
    const noCuda = want === 'cpu' ? null : cudaUnavailableReason();
    if (want === 'cuda' && noCuda) throw new WorkerStartupError(`--device cuda: ${noCuda}; use --device cpu, or for GPUs a vLLM server`);
    if (want === 'auto' && noCuda) opts.log?.(`cje worker: CUDA is not available (${noCuda}); running on cpu`);
    if (want === 'cpu' || noCuda) model = await loadOnDevice(tf, abs, 'cpu', dtype, false, opts.spinning);
    else {
      try {
        model = await loadOnDevice(tf, abs, 'cuda', dtype, want === 'auto', opts.spinning);
        device = 'cuda';
      } catch (e) {
        const why = (e as Error).message.split('\n')[0].slice(0, 200);
        if (want === 'cuda') throw new WorkerStartupError(`--device cuda: onnxruntime-node cannot use CUDA here (${why}); use --device cpu, or for GPUs a vLLM server`);
        opts.log?.(`cje worker: CUDA is not available (${why}); running on cpu`);
        model = await loadOnDevice(tf, abs, 'cpu', dtype, false, opts.spinning);
        device = 'cpu';
      }
    }
  } catch (e) {
    if (e instanceof WorkerStartupError) throw e;
    throw new WorkerStartupError(`model folder ${abs}: cannot load onnx/${DTYPE_FILES[dtype]} (${(e as Error).message.split('\n')[0]})`);
  }
  const { Tensor } = tf;
  return {
    device,
    async forward(seqs, maxLen) {
      const B = seqs.length;
      const ids = new BigInt64Array(B * maxLen);
      const mask = new BigInt64Array(B * maxLen);
      const pos = new BigInt64Array(B * maxLen);
      const pad = BigInt(config.pad_token_id ?? 0);
      for (let b = 0; b < B; b++) {
        const s = seqs[b];
        for (let t = 0; t < maxLen; t++) {
          const i = b * maxLen + t;
          if (t < s.length) {
            ids[i] = BigInt(s[t]);
            mask[i] = 1n;
            pos[i] = BigInt(t);
          } else {
            // Right padding: pads come after every real token, so causal attention never sees them.
            ids[i] = pad;
            pos[i] = BigInt(t);
          }
        }
      }
      const out = await model({
        input_ids: new Tensor('int64', ids, [B, maxLen]),
        attention_mask: new Tensor('int64', mask, [B, maxLen]),
        position_ids: new Tensor('int64', pos, [B, maxLen]),
      });
      for (const [k, v] of Object.entries(out)) if (k !== 'logits') (v as any)?.dispose?.();
      const logits = out.logits;
      return { logits: logits.data as Float32Array, vocab: logits.dims[2], dispose: () => logits.dispose?.() };
    },
    dispose: () => model.dispose(),
  };
}

/** Tokenizer and ONNX session in this thread (the server runs the session in a worker thread: forward-thread.ts). */
export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<LoadedModel> {
  const info = await loadTokenizer(dir, { dtype: opts.dtype });
  const session = await loadSession(info.dir, info.config, opts);
  return { ...info, device: session.device, forward: session.forward, dispose: session.dispose };
}
