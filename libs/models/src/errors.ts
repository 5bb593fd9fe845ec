/** Stable codes for everything that can go wrong when loading or using a model package. */
export type ModelErrorCode = 'MODEL_NOT_FOUND' | 'MODEL_INVALID' | 'MODEL_UNKNOWN_PROMPT' | 'MODEL_WRONG_KIND';

/**
 * Raised for bad model packages and bad requests against them. `field` names the offending field
 * (a model.json path or a request field such as `prompt`) so callers can report it verbatim.
 * None of these are retryable: the same input fails the same way.
 */
export class ModelError extends Error {
  override readonly name = 'ModelError';
  readonly retryable = false;
  constructor(
    readonly code: ModelErrorCode,
    message: string,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
