import { fromNativeError, ShmDisposedError, ShmInvalidArgumentError } from './errors.js';
import { FUTEX_CANCELED, FUTEX_INTERRUPTED, type FutexResult, native } from './native.js';
import type { ShmSegment } from './segment.js';

/** Options for `Doorbell.wait` (blocks the calling thread). */
export interface DoorbellWaitOptions {
  /** Give up after this long. @defaultValue `Infinity` */
  readonly timeoutMs?: number;
  /**
   * Busy-poll the word for up to this long before sleeping in the kernel. Saves the futex
   * wake-up (a few µs) only when the waiter has a core of its own; on a shared core it steals
   * time from the producer. @defaultValue `0` (off)
   */
  readonly spinUs?: number;
}

/** Options for `Doorbell.waitAsync` (does not block the event loop). */
export interface DoorbellAsyncWaitOptions {
  /** Give up after this long. @defaultValue `Infinity` */
  readonly timeoutMs?: number;
  /** Abandons the wait; the promise rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/**
 * How a wait ended. `seq` is the sequence number seen last; pass it to the next wait.
 * - `rung`: the sequence moved past the one you had seen.
 * - `timed-out`: it did not within `timeoutMs`.
 * - `interrupted` (sync only): a signal arrived. Return to the event loop (e.g. `await
 *   setImmediate()`) so its handler — SIGTERM shutdown, say — can run, then wait again.
 */
export type DoorbellWaitResult =
  | { readonly status: 'rung'; readonly seq: number }
  | { readonly status: 'timed-out'; readonly seq: number }
  | { readonly status: 'interrupted'; readonly seq: number };

/** Result of `Doorbell.waitAsync`; signals cannot interrupt it. */
export type DoorbellAsyncWaitResult = Exclude<DoorbellWaitResult, { status: 'interrupted' }>;

const SEQ = 0;
const WAITERS = 1;

function checkTimeout(timeoutMs: number): number {
  if (Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new ShmInvalidArgumentError(`timeoutMs must be >= 0, got ${String(timeoutMs)}`);
  }
  return timeoutMs;
}

/**
 * A cross-process wake-up over two int32 words in shared memory: a sequence number and a count
 * of sleeping waiters. `ring()` bumps the sequence and wakes sleepers (skipping the syscall when
 * nobody sleeps); a waiter says which sequence it has already seen, so a ring that happens before
 * the wait starts is never lost. This replaces `process.send` as the "your input is ready" signal
 * between stage processes: a futex wake-up costs microseconds, an IPC message far more.
 *
 * The waiter count is only a hint: a waiter killed mid-wait leaves it high, which costs the
 * ringer a needless wake syscall, never a lost wake-up.
 */
export class Doorbell {
  /** Bytes a doorbell occupies in a segment (place it on its own 64-byte line if you can). */
  static readonly byteLength = 8;

  readonly #segment: ShmSegment;
  readonly #byteOffset: number;
  readonly #words: Int32Array;
  readonly #pending = new Set<number>();

  /** A doorbell over the 8 bytes at `byteOffset` (4-byte aligned) of `segment`. */
  constructor(segment: ShmSegment, byteOffset: number) {
    if (!Number.isSafeInteger(byteOffset) || byteOffset < 0 || byteOffset % 4 !== 0 || byteOffset + 8 > segment.byteLength) {
      throw new ShmInvalidArgumentError(
        `byteOffset must be a 4-byte aligned offset with 8 bytes inside the ${segment.byteLength}-byte segment, got ${String(byteOffset)}`,
      );
    }
    this.#segment = segment;
    this.#byteOffset = byteOffset;
    this.#words = new Int32Array(segment.buffer, byteOffset, 2);
    segment.onDispose(() => {
      for (const id of this.#pending) native.futexWaitAsyncCancel(id);
    });
  }

  #checkLive(): void {
    if (this.#segment.disposed) throw new ShmDisposedError(`doorbell in ${this.#segment.name} is disposed`);
  }

  /** The current sequence number (JS Atomics on shared pages are atomic across processes). */
  get seq(): number {
    this.#checkLive();
    return Atomics.load(this.#words, SEQ);
  }

  /** Bumps the sequence and wakes every waiter, in any process. Returns the new sequence. */
  ring(): number {
    this.#checkLive();
    const seq = (Atomics.add(this.#words, SEQ, 1) + 1) | 0;
    if (Atomics.load(this.#words, WAITERS) > 0) native.futexWake(this.#segment.buffer, this.#byteOffset);
    return seq;
  }

  /**
   * Blocks the calling thread until the sequence differs from `seen`. For stage processes whose
   * thread has nothing else to do; never call it on an event loop that serves anything.
   */
  wait(seen: number, options: DoorbellWaitOptions = {}): DoorbellWaitResult {
    this.#checkLive();
    const timeoutMs = checkTimeout(options.timeoutMs ?? Infinity);
    const spinUs = options.spinUs ?? 0;
    const deadline = performance.now() + timeoutMs;
    const buffer = this.#segment.buffer;
    for (;;) {
      const seq = Atomics.load(this.#words, SEQ);
      if (seq !== seen) return { status: 'rung', seq };
      const remaining = deadline - performance.now();
      if (remaining <= 0) return { status: 'timed-out', seq };
      Atomics.add(this.#words, WAITERS, 1);
      let rc: FutexResult;
      try {
        rc = native.futexWait(buffer, this.#byteOffset + SEQ * 4, seen, remaining === Infinity ? -1 : remaining, spinUs);
      } catch (err) {
        throw fromNativeError(err, 'futex wait failed');
      } finally {
        Atomics.sub(this.#words, WAITERS, 1);
      }
      if (rc === FUTEX_INTERRUPTED) return { status: 'interrupted', seq: Atomics.load(this.#words, SEQ) };
      // ok, not-equal, timed-out: re-check the word (and the deadline) at the top of the loop.
    }
  }

  /**
   * Resolves when the sequence differs from `seen`, without blocking the event loop: a helper
   * thread sleeps on the futex. For the coordinator and any process that also serves I/O.
   * A pending wait keeps the process alive (like a pending socket read). Rejects with
   * `ShmDisposedError` if the segment is disposed meanwhile, or with `signal.reason`.
   */
  async waitAsync(seen: number, options: DoorbellAsyncWaitOptions = {}): Promise<DoorbellAsyncWaitResult> {
    this.#checkLive();
    const timeoutMs = checkTimeout(options.timeoutMs ?? Infinity);
    const { signal } = options;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      signal?.throwIfAborted();
      this.#checkLive();
      const seq = Atomics.load(this.#words, SEQ);
      if (seq !== seen) return { status: 'rung', seq };
      const remaining = deadline - performance.now();
      if (remaining <= 0) return { status: 'timed-out', seq };
      const rc = await this.#sleep(seen, remaining, signal);
      if (rc === FUTEX_CANCELED) {
        signal?.throwIfAborted();
        this.#checkLive();
      }
      // ok, not-equal, timed-out: re-check the word (and the deadline) at the top of the loop.
    }
  }

  async #sleep(seen: number, remainingMs: number, signal: AbortSignal | undefined): Promise<FutexResult> {
    Atomics.add(this.#words, WAITERS, 1);
    let handle: { id: number; promise: Promise<FutexResult> };
    try {
      handle = native.futexWaitAsync(this.#segment.buffer, this.#byteOffset + SEQ * 4, seen, remainingMs === Infinity ? -1 : remainingMs);
    } catch (err) {
      Atomics.sub(this.#words, WAITERS, 1);
      throw fromNativeError(err, 'async futex wait failed');
    }
    const { id } = handle;
    this.#pending.add(id);
    const onAbort = (): void => {
      native.futexWaitAsyncCancel(id);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await handle.promise;
    } catch (err) {
      throw fromNativeError(err, 'async futex wait failed');
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#pending.delete(id);
      if (!this.#segment.disposed) Atomics.sub(this.#words, WAITERS, 1);
    }
  }
}
