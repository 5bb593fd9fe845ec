import { readdirSync, readFileSync } from 'node:fs';

import { currentInstance } from './instance.js';
import { native } from './native.js';
import { DEFAULT_SEGMENT_PREFIX, lockFilePath, parseShmEntry, SHM_DIR, validatePrefix } from './names.js';

export { SHM_DIR } from './names.js';

/** Options of `sweepOrphanSegments`. */
export interface SweepOptions {
  /** Which segments to sweep. @defaultValue `'asyncdiff'` */
  readonly prefix?: string;
  /** Told about every entry the sweep could not handle; the sweep carries on regardless. @defaultValue ignore */
  readonly onError?: (name: string, err: unknown) => void;
}

/** An entry a sweep could not handle (another user's file: EPERM/EACCES), and why. */
export interface SweepFailure {
  readonly name: string;
  readonly code: string;
  readonly message: string;
}

/** What `sweepOrphanSegments` did: segment names removed, kept (creator alive), and entries that failed. */
export interface SweepResult {
  readonly removed: readonly string[];
  readonly kept: readonly string[];
  readonly failed: readonly SweepFailure[];
}

/** The system calls a sweep makes; tests replace `unlink` to cause a fault they cannot cause as root. */
export interface SweepDeps {
  readonly unlink: (name: string) => boolean;
  readonly lockTryTake: (path: string) => number;
  readonly lockRelease: (fd: number, unlinkPath: string | null) => boolean;
}

const NATIVE_DEPS: SweepDeps = {
  unlink: (name) => native.shmUnlink(name),
  lockTryTake: (path) => native.lockTryTake(path),
  lockRelease: (fd, path) => native.lockRelease(fd, path),
};

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
 * Unlinks /dev/shm segments of `prefix` whose creator is gone. A process cleans up after itself
 * on exit and SIGINT/SIGTERM/SIGHUP, but not after SIGKILL, OOM or a native crash: GPU hosts
 * (and so `serve`) sweep at start-up and periodically, runners after replacing a crashed stage.
 *
 * A segment is `<prefix>-<instance>-<pid>-<label>`; its creator holds an exclusive flock on
 * `<prefix>-<instance>.lock` for its whole life, so "gone" means the sweep can take that lock
 * (or the file is missing: it is removed only after the creator's segments). This holds across
 * containers sharing /dev/shm, where every main process is pid 1 and a pid proves nothing. The
 * dead instance's lock file goes last, once all its segments are gone. Pre-instance names
 * (`<prefix>-<pid>-<label>`) fall back to the pid (zombies count as dead). An entry that cannot
 * be handled (EPERM on another user's file) is reported in `failed` and to `onError`, and
 * never stops the sweep: it does not throw.
 */
export function sweepOrphanSegments(options: string | SweepOptions = {}, deps: SweepDeps = NATIVE_DEPS): SweepResult {
  const o: SweepOptions = typeof options === 'string' ? { prefix: options } : options;
  const prefix = validatePrefix(o.prefix ?? DEFAULT_SEGMENT_PREFIX);
  const removed: string[] = [];
  const kept: string[] = [];
  const failed: SweepFailure[] = [];
  const fail = (name: string, err: unknown): void => {
    const e = err as { code?: unknown; message?: unknown };
    failed.push({ name, code: typeof e?.code === 'string' ? e.code : 'UNKNOWN', message: typeof e?.message === 'string' ? e.message : String(err) });
    try {
      o.onError?.(name, err);
    } catch {
      // A failing reporter must not stop the sweep either.
    }
  };
  const unlink = (name: string): boolean => {
    try {
      if (deps.unlink(name)) removed.push(name);
      return true;
    } catch (err) {
      fail(name, err);
      return false;
    }
  };

  let entries: string[];
  try {
    entries = readdirSync(SHM_DIR);
  } catch (err) {
    fail(SHM_DIR, err);
    return { removed, kept, failed };
  }
  // Segments by instance; an instance seen only through its lock file has an empty list.
  const instances = new Map<string, string[]>();
  for (const entry of entries) {
    const e = parseShmEntry(entry, prefix);
    if (!e) continue;
    const name = `/${entry}`;
    if (e.kind === 'legacy') {
      if (e.pid === process.pid || isProcessAlive(e.pid)) kept.push(name);
      else unlink(name);
      continue;
    }
    const list = instances.get(e.instance) ?? [];
    if (e.kind === 'segment') list.push(name);
    instances.set(e.instance, list);
  }

  for (const [instance, segments] of instances) {
    if (instance === currentInstance()) {
      kept.push(...segments);
      continue;
    }
    // Checked even when the listing showed no lock file: readdir is no snapshot, and a live
    // creator's lock file always exists before its first segment does.
    const lockPath = lockFilePath(prefix, instance);
    let fd: number;
    try {
      fd = deps.lockTryTake(lockPath);
    } catch (err) {
      fail(lockPath, err);
      kept.push(...segments);
      continue;
    }
    if (fd === -1) {
      kept.push(...segments);
      continue;
    }
    let all = true;
    for (const name of segments) all = unlink(name) && all;
    if (fd < 0) continue;
    try {
      // Keep the lock file while a segment is left, so the next sweep tries that one again.
      deps.lockRelease(fd, all ? lockPath : null);
    } catch (err) {
      fail(lockPath, err);
    }
  }
  return { removed, kept, failed };
}
