/**
 * One fuzz target in a worker thread, so the parent can stop it when an input never returns (an
 * infinite loop cannot be timed from inside). Each input is copied into a shared buffer first:
 * [0] inputs started, [1] length, then the bytes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fuzz, type FuzzOptions } from './engine.js';
import { targetByName } from './targets/index.js';

interface Job {
  target: string;
  opts: Omit<FuzzOptions, 'onInput' | 'onProgress'>;
  shared: SharedArrayBuffer;
}

const job = workerData as Job;
const head = new Int32Array(job.shared, 0, 2);
const bytes = new Uint8Array(job.shared, 8);

const result = await fuzz(targetByName(job.target), {
  ...job.opts,
  onInput(input) {
    const n = Math.min(input.length, bytes.length);
    bytes.set(input.subarray(0, n));
    Atomics.store(head, 1, n);
    Atomics.add(head, 0, 1);
  },
  onProgress: (p) => parentPort?.postMessage({ type: 'progress', ...p }),
});
parentPort?.postMessage({ type: 'done', result });
