import { readdirSync, readFileSync } from 'node:fs';

import { native } from './native.js';
import { creatorPid, DEFAULT_SEGMENT_PREFIX, validatePrefix } from './names.js';

/** Where glibc's shm_open keeps POSIX shared memory on Linux. */
export const SHM_DIR = '/dev/shm';

/** What `sweepOrphanSegments` did: full segment names removed and kept (creator alive). */
export interface SweepResult {
  readonly removed: readonly string[];
  readonly kept: readonly string[];
}

/** Whether a segment's creator can still clean up after itself: true unless the process is gone
 * or a zombie (a SIGKILLed child that is not reaped yet still answers kill(pid, 0), but it will
 * never unlink anything). */
export function isProcessAlive(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (killErr) {
      return (killErr as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/**
 * Unlinks /dev/shm segments named `<prefix>-<pid>-…` whose creator is dead. A process cleans up
 * after itself on exit and SIGTERM, but not after SIGKILL, OOM or a native crash: the supervisor
 * calls this after it reaps a crashed stage (and at start-up) so tmpfs memory is not leaked.
 * Segments of live processes, and of the calling process, are kept. A recycled pid only delays
 * removal (the segment is kept while the unrelated process lives).
 */
export function sweepOrphanSegments(prefix: string = DEFAULT_SEGMENT_PREFIX): SweepResult {
  validatePrefix(prefix);
  const removed: string[] = [];
  const kept: string[] = [];
  for (const entry of readdirSync(SHM_DIR)) {
    const pid = creatorPid(entry, prefix);
    if (pid === undefined) continue;
    const name = `/${entry}`;
    if (pid === process.pid || isProcessAlive(pid)) {
      kept.push(name);
      continue;
    }
    if (native.shmUnlink(name)) removed.push(name);
  }
  return { removed, kept };
}
