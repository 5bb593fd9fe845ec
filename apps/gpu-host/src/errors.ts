/** Stable codes of everything the GPU host itself raises. */
export type GpuHostErrorCode =
  | 'INVALID_OPTIONS'
  | 'INVALID_ENV'
  | 'NO_DEVICES'
  | 'NVIDIA_SMI_FAILED'
  | 'UNSUPPORTED_SAMPLE'
  | 'HOST_CLOSED'
  | 'ENGINE_BUSY'
  | 'TIMEOUT'
  | 'METRICS_LISTEN_FAILED';

/**
 * Base of the host's errors: a stable `code`, whether retrying can help (`retryable`, the same
 * flag the queue worker reads to fail a job at once) and, for bad input, the offending `field`.
 */
export class GpuHostError extends Error {
  override readonly name: string = 'GpuHostError';
  constructor(
    readonly code: GpuHostErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An option or environment variable is out of range; names it. Never retryable. */
export class GpuHostConfigError extends GpuHostError {
  override readonly name = 'GpuHostConfigError';
  constructor(code: 'INVALID_OPTIONS' | 'INVALID_ENV', field: string, message: string) {
    super(code, `${field}: ${message}`, false, field);
  }
}

/**
 * A job's run held its devices longer than its `timeoutSec`: the generation was stopped, the
 * devices freed, and the job fails for good (`TIMEOUT`): running it again would take as long.
 */
export class JobTimeoutError extends GpuHostError {
  override readonly name = 'JobTimeoutError';
  constructor(
    readonly jobId: string,
    readonly timeoutSec: number,
  ) {
    super('TIMEOUT', `job ${jobId} ran longer than its timeoutSec (${timeoutSec} s)`, false, 'timeoutSec');
  }
}
