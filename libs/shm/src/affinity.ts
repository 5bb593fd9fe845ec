import { fromNativeError, ShmInvalidArgumentError } from './errors.js';
import { native } from './native.js';

/**
 * Pins every thread of this process (JS, libuv, V8 and ONNX Runtime threads alike) to `cpus`,
 * so a stage process stays on its own cores on a CPU-only host. Threads started later inherit
 * the mask from the thread that starts them. Returns how many threads were pinned.
 */
export function setProcessAffinity(cpus: readonly number[]): number {
  if (cpus.length === 0 || !cpus.every((c) => Number.isSafeInteger(c) && c >= 0 && c < 1024)) {
    throw new ShmInvalidArgumentError(`cpus must be a non-empty list of CPU indices in [0, 1024), got [${cpus.join(', ')}]`);
  }
  try {
    return native.setProcessAffinity(cpus);
  } catch (err) {
    throw fromNativeError(err, `cannot pin process to CPUs [${cpus.join(', ')}]`);
  }
}

/** The CPUs a thread may run on (default: the calling thread), to verify or log pinning. */
export function getAffinity(tid?: number): number[] {
  try {
    return tid === undefined ? native.getAffinity() : native.getAffinity(tid);
  } catch (err) {
    throw fromNativeError(err, `cannot read CPU affinity${tid === undefined ? '' : ` of thread ${tid}`}`);
  }
}
