/** Stable codes of engine errors. */
export type EngineErrorCode =
  | 'PLAN_INVALID_OPTION'
  | 'RUNNER_BAD_STEP'
  | 'RUNNER_CLOSED'
  | 'STAGE_CRASHED'
  | 'STAGE_FAILED'
  | 'STAGE_INVALID_TRANSITION'
  | 'SAMPLING_ABORTED'
  | 'SAMPLER_INVALID_OPTION';

/**
 * Base class of engine errors. `retryable` says whether running the same job again may succeed
 * (a crashed stage process: yes; a bad option: no), so callers never branch on message text.
 */
export class EngineError extends Error {
  override readonly name: string = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A caller-supplied option is out of range; `field` names it (e.g. `warmup`). */
export class InvalidOptionError extends EngineError {
  override readonly name = 'InvalidOptionError';
  constructor(code: 'PLAN_INVALID_OPTION' | 'SAMPLER_INVALID_OPTION', field: string, message: string) {
    super(code, message, false, field);
  }
}

/** A stage process died or stopped answering; the job can be resumed from the coordinator's latent. */
export class StageCrashedError extends EngineError {
  override readonly name = 'StageCrashedError';
  constructor(
    readonly device: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('STAGE_CRASHED', message, true, undefined, options);
  }
}

/** Sampling was stopped through its AbortSignal (job canceled or host draining). */
export class SamplingAbortedError extends EngineError {
  override readonly name = 'SamplingAbortedError';
  constructor(readonly step: number) {
    super('SAMPLING_ABORTED', `sampling aborted before step ${step}`, false);
  }
}
