import { fromNativeError, ShmDisposedError, ShmInvalidArgumentError } from './errors.js';
import { currentInstance, holdInstanceLock } from './instance.js';
import { native } from './native.js';
import { DEFAULT_SEGMENT_PREFIX, segmentName, validateSegmentName } from './names.js';
import { trackCreated, untrackCreated } from './registry.js';

/** Options for `ShmSegment.create`. */
export interface ShmSegmentCreateOptions {
  /** Caller-chosen part of the name, unique within the process (e.g. `stage1-out`). */
  readonly label: string;
  /** Size in bytes; every page is reserved up front, so a full /dev/shm fails here. */
  readonly byteLength: number;
  /** First part of the name, used by `sweepOrphanSegments`. @defaultValue `'asyncdiff'` */
  readonly prefix?: string;
}

/**
 * A POSIX shared-memory segment mapped into this process: the memory stage processes share
 * tensors through. `buffer` is an external ArrayBuffer over the mapping, so typed arrays on it
 * (and ONNX Runtime tensors over those) read and write the shared pages directly.
 *
 * The creator owns the name: its `dispose()` also unlinks it, and the name is unlinked when the
 * process exits or is terminated by SIGINT/SIGTERM/SIGHUP. Openers only map and unmap.
 * `dispose()` unmaps at once and detaches `buffer`; views taken earlier become empty instead of
 * dangling, and any further use of the segment throws `ShmDisposedError`.
 */
export class ShmSegment {
  readonly name: string;
  readonly byteLength: number;
  /** True in the process that created (and will unlink) the segment. */
  readonly owner: boolean;
  #buffer: ArrayBuffer | undefined;
  readonly #disposeHooks = new Set<() => void>();

  private constructor(name: string, buffer: ArrayBuffer, owner: boolean) {
    this.name = name;
    this.byteLength = buffer.byteLength;
    this.owner = owner;
    this.#buffer = buffer;
  }

  /**
   * Creates `/<prefix>-<instance>-<pid>-<label>` (holding the instance's lock file first, see
   * `sweepOrphanSegments`); throws `ShmExistsError` if the name is taken.
   */
  static create(options: ShmSegmentCreateOptions): ShmSegment {
    const prefix = options.prefix ?? DEFAULT_SEGMENT_PREFIX;
    const name = segmentName(options.label, prefix, currentInstance());
    const { byteLength } = options;
    if (!Number.isSafeInteger(byteLength) || byteLength <= 0) {
      throw new ShmInvalidArgumentError(`byteLength must be a positive integer, got ${String(byteLength)}`);
    }
    holdInstanceLock(prefix);
    let buffer: ArrayBuffer;
    try {
      buffer = native.shmCreate(name, byteLength);
    } catch (err) {
      throw fromNativeError(err, `cannot create shm segment ${name}`);
    }
    trackCreated(name);
    return new ShmSegment(name, buffer, true);
  }

  /** Maps an existing segment by its full name (as the creator reported it). */
  static open(name: string): ShmSegment {
    validateSegmentName(name);
    let buffer: ArrayBuffer;
    try {
      buffer = native.shmOpen(name);
    } catch (err) {
      throw fromNativeError(err, `cannot open shm segment ${name}`);
    }
    return new ShmSegment(name, buffer, false);
  }

  /** The mapped memory. Throws `ShmDisposedError` after `dispose()`. */
  get buffer(): ArrayBuffer {
    if (this.#buffer === undefined) throw new ShmDisposedError(`shm segment ${this.name} is disposed`);
    return this.#buffer;
  }

  get disposed(): boolean {
    return this.#buffer === undefined;
  }

  /** Removes the name now (mappings stay valid). Returns false if it was already gone. */
  unlink(): boolean {
    untrackCreated(this.name);
    try {
      return native.shmUnlink(this.name);
    } catch (err) {
      throw fromNativeError(err, `cannot unlink shm segment ${this.name}`);
    }
  }

  /** Registers cleanup to run before the mapping goes away (used to cancel pending waits). */
  onDispose(hook: () => void): () => void {
    this.#disposeHooks.add(hook);
    return () => this.#disposeHooks.delete(hook);
  }

  /** Unmaps now (and unlinks, for the owner). Safe to call more than once. */
  dispose(): void {
    const buffer = this.#buffer;
    if (buffer === undefined) return;
    for (const hook of this.#disposeHooks) {
      try {
        hook();
      } catch {
        // A failing hook must not keep the mapping alive.
      }
    }
    this.#disposeHooks.clear();
    this.#buffer = undefined;
    native.shmClose(buffer);
    if (this.owner) {
      untrackCreated(this.name);
      try {
        native.shmUnlink(this.name);
      } catch {
        // Already unlinked by someone else (e.g. a sweep) — nothing left to do.
      }
    }
  }
}
