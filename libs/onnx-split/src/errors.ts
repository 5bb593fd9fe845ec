/**
 * Errors thrown by the partitioner. Callers branch on `code` (stable) or on the class, never on
 * the message. None of them is worth retrying unchanged: they describe the options, the model file
 * or a plan on disk, so `retryable` is always false (kept on the type so every lib answers the same
 * question the same way).
 */

/** Stable machine-readable error codes of `@asyncdiff/onnx-split`. */
export type SplitErrorCode =
  | 'SPLIT_INVALID_STAGES'
  | 'SPLIT_INVALID_OPTION'
  | 'SPLIT_UNKNOWN_LATENT_INPUT'
  | 'SPLIT_BAD_ASSIGNMENT'
  | 'SPLIT_MODEL_UNREADABLE'
  | 'SPLIT_UNSUPPORTED_GRAPH'
  | 'SPLIT_TYPE_UNKNOWN'
  | 'SPLIT_PROFILE_FAILED'
  | 'SPLIT_PLAN_INVALID'
  | 'SPLIT_CACHE_UNWRITABLE';

/** Base class of every error this lib throws on purpose. */
export class SplitError extends Error {
  /** Stable code to branch on. */
  readonly code: SplitErrorCode;
  /** The option, field or file the error is about (e.g. `stages`, `latentInputs`, `plan.stages[1].file`). */
  readonly field: string | undefined;
  /** Whether repeating the same call can succeed. Always false for split errors. */
  readonly retryable: boolean = false;

  constructor(code: SplitErrorCode, message: string, options: { field?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.field = options.field;
  }
}

/** An option passed to the partitioner is invalid (bad stage count, unknown latent input, bad shapes…). */
export class SplitOptionsError extends SplitError {}

/** An explicit node → stage assignment is incomplete, names unknown nodes, or makes data flow backwards. */
export class SplitAssignmentError extends SplitError {
  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('SPLIT_BAD_ASSIGNMENT', message, options);
  }
}

/** The model file cannot be read, decoded, or is a graph the partitioner cannot cut. */
export class SplitModelError extends SplitError {}

/** ONNX Runtime failed while profiling the model or timing a stage. */
export class SplitProfileError extends SplitError {
  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('SPLIT_PROFILE_FAILED', message, options);
  }
}

/** The cache directory cannot be created or written (e.g. it sits in a read-only model folder). */
export class SplitCacheError extends SplitError {
  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('SPLIT_CACHE_UNWRITABLE', message, options);
  }
}

/** A plan.json on disk does not match the plan format. */
export class SplitPlanError extends SplitError {
  constructor(message: string, options: { field?: string; cause?: unknown } = {}) {
    super('SPLIT_PLAN_INVALID', message, options);
  }
}
