/**
 * Storage errors. Callers branch on `code` (stable, documented) and `retryable` (encoded in the
 * class), never on message text; the API maps codes to HTTP statuses in one place.
 */

/** Every stable error code this lib throws. */
export type StorageErrorCode =
  | 'STORAGE_INVALID_KEY'
  | 'STORAGE_PATH_ESCAPE'
  | 'STORAGE_KEY_CONFLICT'
  | 'STORAGE_NOT_FOUND'
  | 'STORAGE_INVALID_ARGUMENT'
  | 'STORAGE_INVALID_CONFIG'
  | 'STORAGE_URL_MALFORMED'
  | 'STORAGE_URL_BAD_SIGNATURE'
  | 'STORAGE_URL_EXPIRED'
  | 'STORAGE_BACKEND';

/** Base class of every storage error, so callers can catch the whole family with one check. */
export abstract class StorageError extends Error {
  abstract readonly code: StorageErrorCode;
  /** Whether repeating the same call may succeed (transient backend trouble). */
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Why a key was refused; lets tests and logs tell escape attempts from typos. */
export type InvalidKeyReason =
  | 'empty'
  | 'too-long'
  | 'absolute'
  | 'backslash'
  | 'control-char'
  | 'empty-segment'
  | 'dot-segment'
  | 'segment-too-long'
  | 'reserved'
  | 'not-a-string';

/** A key (or prefix) is not acceptable to every backend, or could escape the local root. */
export class InvalidKeyError extends StorageError {
  readonly code = 'STORAGE_INVALID_KEY' as const;
  readonly retryable = false;
  constructor(
    /** The offending field, e.g. `key` or `prefix`. */
    readonly field: string,
    readonly reason: InvalidKeyReason,
    detail: string,
  ) {
    super(`${field} is invalid (${reason}): ${detail}`);
  }
}

/** A local key resolves through a symlink (or otherwise) to a path outside the store's root. */
export class PathEscapeError extends StorageError {
  readonly code = 'STORAGE_PATH_ESCAPE' as const;
  readonly retryable = false;
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`key ${JSON.stringify(key)} escapes the storage root: ${detail}`);
  }
}

/** The local folder cannot hold the key because a file sits where a folder must (or vice versa). */
export class KeyConflictError extends StorageError {
  readonly code = 'STORAGE_KEY_CONFLICT' as const;
  readonly retryable = false;
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`key ${JSON.stringify(key)} conflicts with an existing object or prefix`, options);
  }
}

/** The object does not exist (get/getStream). `head` returns null instead. */
export class ObjectNotFoundError extends StorageError {
  readonly code = 'STORAGE_NOT_FOUND' as const;
  readonly retryable = false;
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super(`object ${JSON.stringify(key)} not found`, options);
  }
}

/** A call argument other than the key is out of range; `field` names it. */
export class InvalidArgumentError extends StorageError {
  readonly code = 'STORAGE_INVALID_ARGUMENT' as const;
  readonly retryable = false;
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field} is invalid: ${detail}`);
  }
}

/** Store options or environment variables are inconsistent; `field` names the option/variable. */
export class StorageConfigError extends StorageError {
  readonly code = 'STORAGE_INVALID_CONFIG' as const;
  readonly retryable = false;
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field} is invalid: ${detail}`);
  }
}

/** Why a local signed URL was refused; maps to 400 / 403 / 410-ish responses in the API. */
export type LocalUrlErrorCode = 'STORAGE_URL_MALFORMED' | 'STORAGE_URL_BAD_SIGNATURE' | 'STORAGE_URL_EXPIRED';

/** A local signed URL is malformed, forged, or expired. */
export class LocalUrlError extends StorageError {
  readonly retryable = false;
  constructor(
    readonly code: LocalUrlErrorCode,
    detail: string,
  ) {
    super(detail);
  }
}

/** The backend (S3 or the file system) failed; `retryable` says whether a retry may help. */
export class StorageBackendError extends StorageError {
  readonly code = 'STORAGE_BACKEND' as const;
  constructor(
    readonly operation: string,
    readonly retryable: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation} failed: ${message}`, options);
  }
}
