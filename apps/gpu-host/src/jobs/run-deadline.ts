import { JobTimeoutError } from '../errors.js';

/** A job run's stop signal with its `timeoutSec` folded in (see `startRunDeadline`). */
export interface RunDeadline {
  /** Aborts with the job's own reason (cancel, drain, lease lost) or with `JobTimeoutError`. */
  readonly signal: AbortSignal;
  /** The timeout, once it has fired. */
  readonly timedOut: JobTimeoutError | undefined;
  /** Stops the timer (call when the run ends, however it ends). */
  clear(): void;
}

/**
 * Starts the clock of one run: `timeoutSec` after the devices were granted, `signal` aborts with
 * `JobTimeoutError` (queue time and waiting for devices do not count: the job does not control
 * them). An abort of `parent` passes through with its reason.
 */
export function startRunDeadline(parent: AbortSignal, jobId: string, timeoutSec: number): RunDeadline {
  const controller = new AbortController();
  let timedOut: JobTimeoutError | undefined;
  const onParent = (): void => controller.abort(parent.reason);
  if (parent.aborted) onParent();
  else parent.addEventListener('abort', onParent, { once: true });
  const timer = setTimeout(() => {
    timedOut = new JobTimeoutError(jobId, timeoutSec);
    controller.abort(timedOut);
  }, timeoutSec * 1000);
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clear() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onParent);
    },
  };
}
