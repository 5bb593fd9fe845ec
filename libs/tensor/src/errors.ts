/** Stable machine-readable codes of {@link TensorError}; branch on these, never on message text. */
export type TensorErrorCode =
  | 'INVALID_SEED'
  | 'INVALID_ARGUMENT'
  | 'SHAPE_MISMATCH'
  | 'DTYPE_MISMATCH'
  | 'TENSOR_DISPOSED';

/**
 * Base class of every error thrown by `@asyncdiff/tensor`. All of them are programming or input
 * errors, so none is worth retrying (`retryable` is always false).
 */
export class TensorError extends Error {
  /** Stable code that identifies the failure. */
  readonly code: TensorErrorCode;
  /** Whether repeating the same call could succeed; tensor errors are deterministic. */
  readonly retryable = false;

  constructor(code: TensorErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A seed or stream was not a non-negative integer within 2^53-1; the message names the field. */
export class InvalidSeedError extends TensorError {
  constructor(field: string, value: unknown) {
    super('INVALID_SEED', `${field} must be an integer in [0, 2^53-1], got ${String(value)}`);
  }
}

/** An argument was outside its allowed range; the message names the argument. */
export class InvalidArgumentError extends TensorError {
  constructor(field: string, detail: string) {
    super('INVALID_ARGUMENT', `${field} ${detail}`);
  }
}

/** Operands' shapes or lengths do not fit together; the message names the operand. */
export class ShapeMismatchError extends TensorError {
  constructor(field: string, detail: string) {
    super('SHAPE_MISMATCH', `${field}: ${detail}`);
  }
}

/** Operands have different dtypes where one dtype is required. */
export class DTypeMismatchError extends TensorError {
  constructor(field: string, detail: string) {
    super('DTYPE_MISMATCH', `${field}: ${detail}`);
  }
}

/** A tensor was used after `dispose()`. */
export class TensorDisposedError extends TensorError {
  constructor() {
    super('TENSOR_DISPOSED', 'tensor was used after dispose()');
  }
}
