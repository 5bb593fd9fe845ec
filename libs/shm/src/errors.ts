/** Stable, machine-readable reasons an shm operation failed. Branch on these, never on messages. */
export type ShmErrorCode =
  | 'SHM_NOT_FOUND'
  | 'SHM_NOT_READY'
  | 'SHM_EXISTS'
  | 'SHM_INVALID_NAME'
  | 'SHM_INVALID_ARGUMENT'
  | 'SHM_INVALID_STATE'
  | 'SHM_LAYOUT_MISMATCH'
  | 'SHM_SLOT_OVERWRITTEN'
  | 'SHM_DISPOSED'
  | 'SHM_TIMEOUT'
  | 'SHM_INTERRUPTED'
  | 'SHM_SYSTEM';

/** Base of every error this library throws, so callers can catch the family and read `code`;
 * `retryable` says whether the same call may succeed later without changing anything. */
export abstract class ShmError extends Error {
  abstract readonly code: ShmErrorCode;
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The named segment does not exist (yet): the producer may not have created it. */
export class ShmNotFoundError extends ShmError {
  readonly code = 'SHM_NOT_FOUND';
  readonly retryable = true;
}

/** The segment exists but its creator has not finished initialising it. */
export class ShmNotReadyError extends ShmError {
  readonly code = 'SHM_NOT_READY';
  readonly retryable = true;
}

/** A segment with that name already exists (usually a label reused within one process). */
export class ShmExistsError extends ShmError {
  readonly code = 'SHM_EXISTS';
  readonly retryable = false;
}

/** A segment name, label or prefix does not follow the naming rules. */
export class ShmInvalidNameError extends ShmError {
  readonly code = 'SHM_INVALID_NAME';
  readonly retryable = false;
}

/** An argument (size, offset, tensor spec, CPU list, …) is out of range or malformed. */
export class ShmInvalidArgumentError extends ShmError {
  readonly code = 'SHM_INVALID_ARGUMENT';
  readonly retryable = false;
}

/** The call is not allowed in the object's current state (e.g. a consumer publishing). */
export class ShmInvalidStateError extends ShmError {
  readonly code = 'SHM_INVALID_STATE';
  readonly retryable = false;
}

/** A channel header is not what this reader understands or expects. */
export class ShmLayoutMismatchError extends ShmError {
  readonly code = 'SHM_LAYOUT_MISMATCH';
  readonly retryable = false;
}

/** A reader asked for a step whose slot the producer has already reused for a later step. */
export class ShmSlotOverwrittenError extends ShmError {
  readonly code = 'SHM_SLOT_OVERWRITTEN';
  readonly retryable = false;
}

/** The segment (or something living in it) was used after `dispose()`. */
export class ShmDisposedError extends ShmError {
  readonly code = 'SHM_DISPOSED';
  readonly retryable = false;
}

/** Nothing was published within the caller's timeout (the producer may be slow or dead). */
export class ShmTimeoutError extends ShmError {
  readonly code = 'SHM_TIMEOUT';
  readonly retryable = true;
}

/** A blocking wait was cut short by a signal: return to the event loop so its handler (e.g.
 * SIGTERM shutdown) runs, then wait again. */
export class ShmInterruptedError extends ShmError {
  readonly code = 'SHM_INTERRUPTED';
  readonly retryable = true;
}

/** An operating-system call failed; `errno` and `syscall` say which and why. */
export class ShmSystemError extends ShmError {
  readonly code = 'SHM_SYSTEM';
  readonly retryable = false;
  readonly errno: string | undefined;
  readonly syscall: string | undefined;

  constructor(message: string, options: { cause?: unknown; errno?: string; syscall?: string } = {}) {
    super(message, { cause: options.cause });
    this.errno = options.errno;
    this.syscall = options.syscall;
  }
}

interface NativeErrorShape {
  code?: unknown;
  message?: unknown;
  syscall?: unknown;
}

/** Maps an error thrown by the addon (errno name in `code`) onto the hierarchy. */
export function fromNativeError(err: unknown, context: string): ShmError {
  if (err instanceof ShmError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as NativeErrorShape;
  const code = typeof e.code === 'string' ? e.code : '';
  const detail = typeof e.message === 'string' ? e.message : String(err);
  const message = `${context}: ${detail}`;
  switch (code) {
    case 'ENOENT':
      return new ShmNotFoundError(message, { cause: err });
    case 'EEXIST':
      return new ShmExistsError(message, { cause: err });
    case 'ENODATA':
      return new ShmNotReadyError(message, { cause: err });
    case 'ENAMETOOLONG':
      return new ShmInvalidNameError(message, { cause: err });
    case 'ERR_INVALID_ARG':
      return new ShmInvalidArgumentError(message, { cause: err });
    default:
      return new ShmSystemError(message, {
        cause: err,
        ...(code !== '' ? { errno: code } : {}),
        ...(typeof e.syscall === 'string' ? { syscall: e.syscall } : {}),
      });
  }
}
