/** Stable machine-readable codes of {@link SchedulerError}; branch on these, never on message text. */
export type SchedulerErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_CONFIG'
  | 'UNSUPPORTED_CONFIG'
  | 'INVALID_INPUT'
  | 'MISSING_NOISE'
  | 'STEP_OUT_OF_RANGE'
  | 'STEP_OUT_OF_ORDER'
  | 'INVALID_STATE';

/**
 * Base class of every error thrown by `@asyncdiff/schedulers`. They are all caused by the
 * caller's arguments, so none is worth retrying as is (`retryable` is always false).
 */
export class SchedulerError extends Error {
  /** Stable code that identifies the failure. */
  readonly code: SchedulerErrorCode;
  /** The option, argument or state field at fault. */
  readonly field: string;
  /** Whether repeating the same call could succeed; scheduler errors are deterministic. */
  readonly retryable = false;

  constructor(code: SchedulerErrorCode, field: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.field = field;
  }
}

/** A scheduler or noise-schedule option is invalid; `field` and the message name the option. */
export class InvalidSchedulerOptionError extends SchedulerError {
  constructor(option: string, detail: string) {
    super('INVALID_OPTION', option, `${option} ${detail}`);
  }
}

/**
 * A diffusers `scheduler_config.json` cannot be used: a value is malformed (`INVALID_CONFIG`) or
 * asks for something these schedulers do not implement (`UNSUPPORTED_CONFIG`, e.g. thresholding,
 * an LMS scheduler). `field` is the config key, spelled as in the file.
 */
export class SchedulerConfigError extends SchedulerError {
  constructor(code: 'INVALID_CONFIG' | 'UNSUPPORTED_CONFIG', key: string, detail: string) {
    super(code, key, `scheduler_config.json ${key} ${detail}`);
  }
}
