import { QueueError, type QueueErrorCode, type SpecIssue } from '@asyncdiff/queue';

/** Stable codes of every error the API answers with. */
export type ApiErrorCode =
  | 'INVALID_JSON'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_REQUEST'
  | 'INVALID_SPEC'
  | 'INVALID_ID'
  | 'JOB_NOT_FOUND'
  | 'BATCH_NOT_FOUND'
  | 'NOT_RETRYABLE'
  | 'IDEMPOTENCY_CONFLICT'
  | 'WEBHOOK_TARGET_FORBIDDEN'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'AUTH_RATE_LIMITED'
  | 'WORK_RATE_LIMITED'
  | 'QUEUED_WORK_LIMIT'
  | 'QUEUE_FULL'
  | 'WORK_TOO_LARGE'
  | 'TOO_MANY_STREAMS'
  | 'NOT_FOUND'
  | 'URL_INVALID'
  | 'URL_EXPIRED'
  | 'METHOD_NOT_ALLOWED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** The one place that maps error codes to HTTP statuses. */
export const HTTP_STATUS: Readonly<Record<ApiErrorCode, number>> = {
  INVALID_JSON: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  INVALID_REQUEST: 400,
  INVALID_SPEC: 422,
  INVALID_ID: 400,
  JOB_NOT_FOUND: 404,
  BATCH_NOT_FOUND: 404,
  NOT_RETRYABLE: 409,
  IDEMPOTENCY_CONFLICT: 409,
  WEBHOOK_TARGET_FORBIDDEN: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  AUTH_RATE_LIMITED: 429,
  WORK_RATE_LIMITED: 429,
  QUEUED_WORK_LIMIT: 429,
  QUEUE_FULL: 429,
  WORK_TOO_LARGE: 422,
  TOO_MANY_STREAMS: 429,
  NOT_FOUND: 404,
  URL_INVALID: 403,
  URL_EXPIRED: 403,
  METHOD_NOT_ALLOWED: 405,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

/** How queue errors read to API clients. */
const FROM_QUEUE: Readonly<Record<QueueErrorCode, ApiErrorCode>> = {
  INVALID_SPEC: 'INVALID_SPEC',
  INVALID_ARGUMENT: 'INVALID_REQUEST',
  INVALID_OPTIONS: 'INTERNAL',
  JOB_NOT_FOUND: 'JOB_NOT_FOUND',
  INVALID_TRANSITION: 'INTERNAL',
  IDEMPOTENCY_CONFLICT: 'IDEMPOTENCY_CONFLICT',
  LEASE_LOST: 'INTERNAL',
  JOB_CANCELED: 'INTERNAL',
  WORKER_SHUTDOWN: 'INTERNAL',
  ENQUEUE_FAILED: 'UNAVAILABLE',
  BATCH_NOT_FOUND: 'BATCH_NOT_FOUND',
  NOT_RETRYABLE: 'NOT_RETRYABLE',
  QUEUED_WORK_LIMIT: 'QUEUED_WORK_LIMIT',
  QUEUE_FULL: 'QUEUE_FULL',
  WORK_TOO_LARGE: 'WORK_TOO_LARGE',
  WEBHOOK_TARGET_FORBIDDEN: 'WEBHOOK_TARGET_FORBIDDEN',
};

/**
 * When to try again after a queued-work refusal: queued work only shrinks as jobs end, which the
 * API cannot predict, so this is a polling hint rather than a promise.
 */
export const QUEUED_WORK_RETRY_AFTER_SEC = 10;

/**
 * An error the API answers with: `{error: {code, message, field, issues?, requestId}}` and the status from
 * `HTTP_STATUS`. `field` names the offending input (`output.format`, `limit`, `id`,
 * `Idempotency-Key`; `body` for a body that is not JSON at all).
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly field: string | null = null,
    readonly extra: { issues?: readonly SpecIssue[]; headers?: Readonly<Record<string, string>> } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = HTTP_STATUS[code];
  }

  /** The JSON body of the response. */
  toJSON(): ReturnType<ApiError['body']> {
    return this.body();
  }

  /** The JSON body of the response, with `requestId` (the response's `X-Request-Id`) when known. */
  body(requestId?: string): { error: { code: ApiErrorCode; message: string; field: string | null; issues?: readonly SpecIssue[]; requestId?: string } } {
    return {
      error: { code: this.code, message: this.message, field: this.field, ...(this.extra.issues && { issues: this.extra.issues }), ...(requestId !== undefined && { requestId }) },
    };
  }
}

/** Converts anything thrown inside a request into an `ApiError` (unknown errors become INTERNAL). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof QueueError) {
    const code = FROM_QUEUE[err.code];
    const issues = (err as { issues?: readonly SpecIssue[] }).issues;
    const headers = code === 'QUEUED_WORK_LIMIT' || code === 'QUEUE_FULL' ? { headers: { 'Retry-After': String(QUEUED_WORK_RETRY_AFTER_SEC) } } : {};
    return new ApiError(code, code === 'INTERNAL' ? 'internal error' : err.message, err.field ?? null, { ...(issues && { issues }), ...headers }, { cause: err });
  }
  const bodyError = fromBodyParser(err);
  if (bodyError) return bodyError;
  return new ApiError('INTERNAL', 'internal error', null, {}, { cause: err });
}

/**
 * body-parser errors (http-errors: a 4xx `status` with `expose` or a `type`, e.g. a body that
 * does not inflate) are the client's; never echo their internals.
 */
function fromBodyParser(err: unknown): ApiError | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { type, status, expose } = err as { type?: unknown; status?: unknown; expose?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500 || (typeof type !== 'string' && expose !== true)) return undefined;
  if (status === 413) return new ApiError('PAYLOAD_TOO_LARGE', 'request body is too large', 'body', {}, { cause: err });
  if (status === 415) return new ApiError('UNSUPPORTED_MEDIA_TYPE', 'unsupported body encoding or charset', 'Content-Type', {}, { cause: err });
  return new ApiError('INVALID_JSON', 'request body is not valid JSON', 'body', {}, { cause: err });
}
