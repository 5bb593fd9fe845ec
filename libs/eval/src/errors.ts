/** Stable machine-readable codes of {@link EvalError}; branch on these, never on message text. */
export type EvalErrorCode =
  | 'INVALID_ARGUMENT'
  | 'SHAPE_MISMATCH'
  | 'NOT_CONVERGED'
  | 'PACKAGE_NOT_FOUND'
  | 'PACKAGE_INVALID'
  | 'REFERENCE_INVALID'
  | 'EVALUATOR_CLOSED';

/**
 * Base class of every error thrown by `@asyncdiff/eval`. `field` names the argument or model.json
 * field at fault. Only a missing package file may be worth retrying later (`retryable`).
 */
export class EvalError extends Error {
  /** Stable code that identifies the failure. */
  readonly code: EvalErrorCode;
  /** The argument, option or model.json field at fault. */
  readonly field: string;
  /** Whether repeating the call later could succeed (a package still being written). */
  readonly retryable: boolean;

  constructor(code: EvalErrorCode, field: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.field = field;
    this.retryable = code === 'PACKAGE_NOT_FOUND';
  }
}

/** Throws `INVALID_ARGUMENT` naming `field` unless `value` is an integer ≥ `min`. */
export function checkInteger(value: number, field: string, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new EvalError('INVALID_ARGUMENT', field, `${field} must be an integer ≥ ${min}, got ${String(value)}`);
  }
}

/** Throws `SHAPE_MISMATCH` naming `field` unless `array` has exactly `expected` elements. */
export function checkLength(array: ArrayLike<unknown>, expected: number, field: string, what: string): void {
  if (array.length !== expected) {
    throw new EvalError('SHAPE_MISMATCH', field, `${field} has ${array.length} elements, expected ${expected} (${what})`);
  }
}
