import { InvalidTransitionError } from './errors.js';

/**
 * A job's lifecycle.
 * - `queued`: accepted, waiting in BullMQ (also while a retry's backoff runs, and after a host
 *   handed the job back on shutdown).
 * - `running`: a worker holds it (`host` says which).
 * - `succeeded` | `failed` | `canceled`: terminal; nothing changes them.
 */
export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

/** Every status, in lifecycle order (for validation and metrics). */
export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'canceled'];

/** Terminal statuses: the job is done and its record only expires. */
export type TerminalJobStatus = Extract<JobStatus, 'succeeded' | 'failed' | 'canceled'>;

/** The terminal statuses, for membership checks. */
export const TERMINAL_STATUSES: readonly TerminalJobStatus[] = ['succeeded', 'failed', 'canceled'];

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

/** Whether a status is terminal. */
export function isTerminal(status: JobStatus): status is TerminalJobStatus {
  return (TERMINAL_STATUSES as readonly JobStatus[]).includes(status);
}

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

/** Type guard for untrusted strings (query parameters, Redis fields). */
export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === 'string' && (JOB_STATUSES as readonly string[]).includes(value);
}
