import type { JobStatus } from './job-status.js';

/** Stable codes for everything libs/queue itself can raise; the API maps them to HTTP statuses. */
export type QueueErrorCode =
  | 'INVALID_SPEC'
  | 'INVALID_ARGUMENT'
  | 'INVALID_OPTIONS'
  | 'JOB_NOT_FOUND'
  | 'INVALID_TRANSITION'
  | 'IDEMPOTENCY_CONFLICT'
  | 'LEASE_LOST'
  | 'JOB_CANCELED'
  | 'WORKER_SHUTDOWN'
  | 'ENQUEUE_FAILED'
  | 'BATCH_NOT_FOUND'
  | 'NOT_RETRYABLE'
  | 'QUEUED_WORK_LIMIT'
  | 'QUEUE_FULL'
  | 'WORK_TOO_LARGE'
  | 'WEBHOOK_TARGET_FORBIDDEN';

/**
 * Base of the queue's error hierarchy: a stable `code`, whether retrying the same operation can
 * help (`retryable`), and for input errors the offending `field` path (`parallel.stages`).
 */
export class QueueError extends Error {
  override name = 'QueueError';
  constructor(
    readonly code: QueueErrorCode,
    message: string,
    readonly retryable: boolean,
    readonly field?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One problem found in a job spec; `field` is a dotted path into the request body. */
export interface SpecIssue {
  readonly field: string;
  readonly code: string;
  readonly message: string;
}

/** A job spec failed validation (shape or cross-field checks against the model package). */
export class JobSpecError extends QueueError {
  override name = 'JobSpecError';
  constructor(readonly issues: readonly SpecIssue[]) {
    const first = issues[0] ?? { field: 'body', code: 'invalid', message: 'invalid job spec' };
    super('INVALID_SPEC', `${first.field}: ${first.message}`, false, first.field);
  }
}

/** A caller passed a bad argument (id, cursor, limit, option); names the argument. */
export class InvalidArgumentError extends QueueError {
  override name = 'InvalidArgumentError';
  constructor(field: string, message: string, code: 'INVALID_ARGUMENT' | 'INVALID_OPTIONS' = 'INVALID_ARGUMENT') {
    super(code, `${field}: ${message}`, false, field);
  }
}

/** No job record with that id (never existed, or its record TTL expired). */
export class JobNotFoundError extends QueueError {
  override name = 'JobNotFoundError';
  constructor(readonly jobId: string) {
    super('JOB_NOT_FOUND', `job ${jobId} not found`, false, 'id');
  }
}

/** No batch with that id (never existed, or its record TTL expired). */
export class BatchNotFoundError extends QueueError {
  override name = 'BatchNotFoundError';
  constructor(readonly batchId: string) {
    super('BATCH_NOT_FOUND', `batch ${batchId} not found`, false, 'id');
  }
}

/** Only failed or canceled jobs can be retried (a retry is a new job with the same spec). */
export class NotRetryableError extends QueueError {
  override name = 'NotRetryableError';
  constructor(
    readonly jobId: string,
    readonly status: JobStatus,
  ) {
    super('NOT_RETRYABLE', `job ${jobId} is ${status}; only failed or canceled jobs can be retried`, false, 'id');
  }
}

/**
 * Admitting a request would push queued work (units of jobs not yet ended) past a cap: the
 * owner's (`QUEUED_WORK_LIMIT`) or the fleet's (`QUEUE_FULL`). Retryable: work ends and frees room.
 */
export class QueuedWorkLimitError extends QueueError {
  override name = 'QueuedWorkLimitError';
  constructor(
    readonly scope: 'owner' | 'total',
    readonly requestedUnits: number,
    readonly queuedUnits: number,
    readonly capUnits: number,
  ) {
    super(
      scope === 'owner' ? 'QUEUED_WORK_LIMIT' : 'QUEUE_FULL',
      scope === 'owner'
        ? `this request needs ${requestedUnits} work units; your queued work is ${queuedUnits} of at most ${capUnits}`
        : `the fleet's queue is full (${queuedUnits} of ${capUnits} work units queued; this request needs ${requestedUnits})`,
      true,
      'body',
    );
  }
}

/** One request asks for more work than could ever be admitted at once (a cap or bucket size); split it. */
export class WorkTooLargeError extends QueueError {
  override name = 'WorkTooLargeError';
  constructor(
    readonly requestedUnits: number,
    readonly maxUnits: number,
  ) {
    super('WORK_TOO_LARGE', `this request needs ${requestedUnits} work units, more than the ${maxUnits} one request may ask for; split it`, false, 'body');
  }
}

/** A lifecycle transition the state machine forbids (e.g. succeeded → running). */
export class InvalidTransitionError extends QueueError {
  override name = 'InvalidTransitionError';
  constructor(
    readonly jobId: string,
    readonly from: JobStatus | undefined,
    readonly to: JobStatus,
  ) {
    super('INVALID_TRANSITION', `job ${jobId}: cannot go from ${from ?? '(none)'} to ${to}`, false);
  }
}

/** The same Idempotency-Key was reused with a different request body. */
export class IdempotencyConflictError extends QueueError {
  override name = 'IdempotencyConflictError';
  /** `jobId`: the job (or batch) the key already names. */
  constructor(
    readonly jobId: string,
    what: 'job' | 'batch' = 'job',
  ) {
    super('IDEMPOTENCY_CONFLICT', `Idempotency-Key already used for ${what} ${jobId} with a different request`, false, 'Idempotency-Key');
  }
}

/** This worker no longer owns the job's current run (another host took it over after a stall). */
export class LeaseLostError extends QueueError {
  override name = 'LeaseLostError';
  constructor(readonly jobId: string) {
    super('LEASE_LOST', `job ${jobId} is no longer owned by this run`, false);
  }
}

/** Abort reason given to a handler's signal when a user canceled its job. */
export class JobCanceledError extends QueueError {
  override name = 'JobCanceledError';
  constructor(readonly jobId: string) {
    super('JOB_CANCELED', `job ${jobId} was canceled`, false);
  }
}

/** Abort reason given to a handler's signal when its worker shuts down: the job is handed back. */
export class WorkerShutdownError extends QueueError {
  override name = 'WorkerShutdownError';
  constructor(readonly jobId: string) {
    super('WORKER_SHUTDOWN', `worker shutting down; job ${jobId} handed back to the queue`, true);
  }
}

/** The job record was written but BullMQ refused the job; the record is marked failed. */
export class EnqueueError extends QueueError {
  override name = 'EnqueueError';
  constructor(jobId: string, options?: { cause?: unknown }) {
    super('ENQUEUE_FAILED', `job ${jobId} could not be enqueued`, true, undefined, options);
  }
}

/** Why a webhook target was refused: bad URL, scheme, a `localhost` name, an address class, or no address at all. */
export type WebhookRefusal = 'url' | 'scheme' | 'localhost' | 'address' | 'unresolvable';

/**
 * A webhook URL the target policy refuses: not http(s), a `localhost` name, a host with no
 * address, or one resolving to (or being) an address outside what the policy allows. Raised at
 * submit (the API answers 400 naming `field`) and again at delivery, before any connection.
 * `retryable` only when the host did not resolve (DNS may recover); a refused address is final.
 */
export class WebhookTargetForbiddenError extends QueueError {
  override name = 'WebhookTargetForbiddenError';
  constructor(
    readonly refusal: WebhookRefusal,
    message: string,
    field = 'webhook',
    options?: { cause?: unknown },
  ) {
    super('WEBHOOK_TARGET_FORBIDDEN', `${field}: ${message}`, refusal === 'unresolvable', field, options);
  }
}

/**
 * What a job handler throws to fail a job with its own stable `code`. `retryable: false` fails
 * the job at once (BullMQ `UnrecoverableError`); otherwise it is retried with backoff. Any other
 * error that carries `retryable: false` (e.g. `ModelError`) is treated the same way.
 */
export class JobFailureError extends Error {
  override name = 'JobFailureError';
  readonly retryable: boolean;
  constructor(
    readonly code: string,
    message: string,
    options?: { retryable?: boolean; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options?.retryable ?? true;
  }
}

/** Whether a handler error may be retried: only an explicit `retryable: false` says no. */
export function isRetryable(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return true;
  if ((err as { name?: unknown }).name === 'UnrecoverableError') return false;
  return (err as { retryable?: unknown }).retryable !== false;
}

const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

/** The `{code, message}` stored on a failed job: the error's own stable code when it has one. */
export function errorInfo(err: unknown, fallbackCode = 'JOB_FAILED'): { code: string; message: string } {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return { code: typeof code === 'string' && CODE.test(code) ? code : fallbackCode, message: message.slice(0, 2000) };
}
