// Counts the sample prompts of a scoring run's token rate in a worker thread:
// the o200k vocabulary (about 150 MB) then lives and dies with this thread
// and never sits in the scoring process's heap (see OffThreadTokenRate).
import { parentPort, workerData } from 'node:worker_threads';
import { estimateTokens } from './token-estimate';

parentPort?.postMessage((workerData as string[]).map((t) => estimateTokens(t)));
