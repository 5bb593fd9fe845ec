import { createRequire } from 'node:module';

/** Results of a futex wait, as numbers shared with native/futex.h. */
export const FUTEX_OK = 0;
export const FUTEX_NOT_EQUAL = 1;
export const FUTEX_TIMED_OUT = 2;
export const FUTEX_INTERRUPTED = 3;
export const FUTEX_CANCELED = 4;
export type FutexResult = 0 | 1 | 2 | 3 | 4;

/** The addon's surface (native/*.c). Internal: the public API wraps every call. */
export interface NativeShm {
  shmCreate(name: string, byteLength: number): ArrayBuffer;
  shmOpen(name: string): ArrayBuffer;
  shmClose(buffer: ArrayBuffer): boolean;
  shmUnlink(name: string): boolean;
  futexWait(buffer: ArrayBuffer, byteOffset: number, expected: number, timeoutMs: number, spinUs?: number): FutexResult;
  futexWake(buffer: ArrayBuffer, byteOffset: number, count?: number): number;
  futexWaitAsync(
    buffer: ArrayBuffer,
    byteOffset: number,
    expected: number,
    timeoutMs: number,
  ): { id: number; promise: Promise<FutexResult> };
  futexWaitAsyncCancel(id: number): boolean;
  setProcessAffinity(cpus: readonly number[]): number;
  getAffinity(tid?: number): number[];
  /** Creates/opens `path`, takes an exclusive flock, checks the path still names it; the fd. */
  lockAcquire(path: string): number;
  /** The fd holding the lock if it was free, -1 if held by someone, -2 if the file is missing. */
  lockTryTake(path: string): number;
  /** Unlinks `unlinkPath` if it still names the locked file, then closes `fd` (drops the lock). */
  lockRelease(fd: number, unlinkPath?: string | null): boolean;
}

// src/ (tests) and dist/ (production) both sit one level below the package root.
const require = createRequire(import.meta.url);

/** The loaded addon, built into build/Release by `node-gyp rebuild` at install time. */
export const native = require('../build/Release/asyncdiff_shm.node') as NativeShm;
