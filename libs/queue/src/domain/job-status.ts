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

/** Whether a status is terminal. */
export function isTerminal(status: JobStatus): status is TerminalJobStatus {
  return (TERMINAL_STATUSES as readonly JobStatus[]).includes(status);
}

/** Type guard for untrusted strings (query parameters, Redis fields). */
export function isJobStatus(value: unknown): value is JobStatus {
  return typeof value === 'string' && (JOB_STATUSES as readonly string[]).includes(value);
}
