import { randomBytes } from 'node:crypto';

import { fromNativeError } from './errors.js';
import { lockFilePath } from './names.js';
import { native } from './native.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const ALNUM = `${LETTERS}0123456789`;

/** A fresh instance id: a letter and 11 letters or digits (~57 random bits). */
export function newInstanceId(): string {
  const bytes = randomBytes(12);
  let id = LETTERS[bytes[0]! % LETTERS.length]!;
  for (let i = 1; i < bytes.length; i++) id += ALNUM[bytes[i]! % ALNUM.length]!;
  return id;
}

/**
 * This process's instance id, drawn when the library loads (per thread: a worker thread loads
 * its own copy). Segment names carry it because a pid alone identifies nothing in containers
 * that share /dev/shm: each has its own pid 1.
 */
const INSTANCE = newInstanceId();

/** Lock descriptors this instance holds, by prefix. */
const held = new Map<string, number>();

/** The id in the names of the segments this process (thread) creates. */
export function currentInstance(): string {
  return INSTANCE;
}

/**
 * Takes this instance's lock file for `prefix` (once), before its first segment of that prefix
 * exists: a sweeper treats a segment whose instance lock it can take, or that has no lock file,
 * as an orphan. The lock lives as long as the process (the kernel drops it on any death).
 */
export function holdInstanceLock(prefix: string): void {
  if (held.has(prefix)) return;
  const path = lockFilePath(prefix, INSTANCE);
  try {
    held.set(prefix, native.lockAcquire(path));
  } catch (err) {
    throw fromNativeError(err, `cannot lock ${path}`);
  }
}

/** Removes this instance's lock files and drops the locks (after its segments are unlinked). */
export function releaseInstanceLocks(): void {
  for (const [prefix, fd] of held) {
    try {
      native.lockRelease(fd, lockFilePath(prefix, INSTANCE));
    } catch {
      // Best effort at exit: a later sweep removes a lock file nobody holds.
    }
  }
  held.clear();
}
