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
  | 'UNAUTHORIZED'
  | 'RATE_LIMITED'
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
  UNAUTHORIZED: 401,
  RATE_LIMITED: 429,
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
};

/**
 * An error the API answers with: `{error: {code, message, field, issues?}}` and the status from
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
  toJSON(): { error: { code: ApiErrorCode; message: string; field: string | null; issues?: readonly SpecIssue[] } } {
    return { error: { code: this.code, message: this.message, field: this.field, ...(this.extra.issues && { issues: this.extra.issues }) } };
  }
}

/** Converts anything thrown inside a request into an `ApiError` (unknown errors become INTERNAL). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof QueueError) {
    const code = FROM_QUEUE[err.code];
    const issues = (err as { issues?: readonly SpecIssue[] }).issues;
    return new ApiError(code, code === 'INTERNAL' ? 'internal error' : err.message, err.field ?? null, issues ? { issues } : {}, { cause: err });
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
