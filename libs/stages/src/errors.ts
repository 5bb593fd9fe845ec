import { EngineError } from '@asyncdiff/asyncdiff';

/**
 * A stage process answered with an error (bad model, ORT failure, protocol misuse). Not
 * retryable by itself: the same component fails the same way; a crash is a StageCrashedError.
 */
export class StageFailedError extends EngineError {
  override readonly name = 'StageFailedError';
  constructor(
    readonly device: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('STAGE_FAILED', message, false, undefined, options);
  }
}
