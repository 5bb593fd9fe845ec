import { isMainThread } from 'node:worker_threads';

import { releaseInstanceLocks } from './instance.js';
import { native } from './native.js';

/** Names of the segments this process created and has not unlinked yet. */
const created = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function unlinkAll(): void {
  for (const name of created) {
    try {
      native.shmUnlink(name);
    } catch {
      // Best effort at exit: a supervisor's sweepOrphanSegments catches what is left.
    }
  }
  created.clear();
  // Only now: a lock file without segments is harmless, a segment without one looks orphaned.
  releaseInstanceLocks();
}

function onSignal(signal: NodeJS.Signals): void {
  unlinkAll();
  // If we are the only listener, the process would otherwise ignore the signal: restore the
  // default action and re-raise it. If the application listens too, it owns shutdown and the
  // 'exit' hook covers whatever it creates until then.
  if (process.listenerCount(signal) === 1) {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    process.kill(process.pid, signal);
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', unlinkAll);
  // Signals reach only the main thread; a worker's segments go on its 'exit' or the main one's.
  if (isMainThread) for (const s of SIGNALS) process.on(s, onSignal);
}

/** Remembers a segment so it is unlinked on normal exit or SIGINT/SIGTERM/SIGHUP. */
export function trackCreated(name: string): void {
  install();
  created.add(name);
}

/** Forgets a segment that has been unlinked explicitly. */
export function untrackCreated(name: string): void {
  created.delete(name);
}

/** Whether this process created `name` and still owns it. */
export function isTracked(name: string): boolean {
  return created.has(name);
}
