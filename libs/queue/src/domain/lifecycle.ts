import { InvalidTransitionError } from './errors.js';
import { JOB_STATUSES, type JobStatus } from './job-status.js';

export { isJobStatus, isTerminal, JOB_STATUSES, TERMINAL_STATUSES, type JobStatus, type TerminalJobStatus } from './job-status.js';

/**
 * Allowed transitions (`from` → `to`):
 * - queued → running (a worker starts it), canceled (user), failed (could not be enqueued, or
 *   BullMQ gave up on it).
 * - running → queued (handed back on shutdown, or a retry was scheduled), running (another host
 *   took the job over after the first one stalled), succeeded, failed, canceled.
 * The Redis scripts enforce exactly this table (see `allowedFrom`).
 */
const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  queued: ['running', 'canceled', 'failed'],
  running: ['queued', 'running', 'succeeded', 'failed', 'canceled'],
  succeeded: [],
  failed: [],
  canceled: [],
};

/** Whether the state machine allows `from` → `to`. */
export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The statuses a job may be in to move to `to` (what the Redis transition script checks). */
export function allowedFrom(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => canTransition(from, to));
}

/** Throws `InvalidTransitionError` unless `from` → `to` is allowed. */
export function assertTransition(jobId: string, from: JobStatus, to: JobStatus): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(jobId, from, to);
}
