import { BATCH_ID_PATTERN, isBatchId, isJobId, isJobStatus, JOB_ID_PATTERN, JOB_STATUSES, toSpecIssues, type JobStatus } from '@asyncdiff/queue';
import type { Request } from 'express';
import { z } from 'zod';

import { ApiError } from '../errors.js';

/** The `:id` path parameter, checked against the job id format (a malformed id is 400, not 404). */
export function jobIdParam(req: Request): string {
  const id = req.params['id'];
  if (!isJobId(id)) throw new ApiError('INVALID_ID', `id must match ${JOB_ID_PATTERN.source}`, 'id');
  return id;
}

/** The `:id` path parameter of batch routes. */
export function batchIdParam(req: Request): string {
  const id = req.params['id'];
  if (!isBatchId(id)) throw new ApiError('INVALID_ID', `id must match ${BATCH_ID_PATTERN.source}`, 'id');
  return id;
}

/** Query of `GET /v1/batches` (no status filter). */
export const batchListQuerySchema = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer 1…100')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .optional(),
  cursor: z.string().min(1).max(128).optional(),
});

/** Validates `GET /v1/batches`'s query. */
export function parseBatchListQuery(query: unknown): { limit: number; cursor?: string } {
  const parsed = batchListQuerySchema.safeParse(query ?? {});
  if (!parsed.success) throw queryError(parsed.error, query);
  return { limit: parsed.data.limit ?? 20, ...(parsed.data.cursor !== undefined && { cursor: parsed.data.cursor }) };
}

/** Body of `POST /v1/batches/:id/retry-failed` (optional). */
export const retryFailedBodySchema = z.strictObject({
  include: z.array(z.enum(['failed', 'canceled'])).min(1).max(2).optional(),
});

function queryError(error: z.ZodError, input: unknown): ApiError {
  const issues = toSpecIssues(error, input);
  const first = issues[0];
  return new ApiError('INVALID_REQUEST', first ? `${first.field}: ${first.message}` : 'invalid query', first?.field ?? 'query', { issues });
}

/** Query of `GET /v1/jobs`; unknown parameters are rejected like unknown body fields. */
export const listQuerySchema = z.strictObject({
  status: z.enum(JOB_STATUSES as [JobStatus, ...JobStatus[]]).optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer 1…100')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .optional(),
  cursor: z.string().min(1).max(128).optional(),
});

/** Parsed listing query. */
export interface ListQuery {
  readonly status?: JobStatus;
  readonly limit: number;
  readonly cursor?: string;
}

/** Validates the listing query; every problem names its parameter. */
export function parseListQuery(query: unknown): ListQuery {
  const parsed = listQuerySchema.safeParse(query ?? {});
  if (!parsed.success) {
    const issues = toSpecIssues(parsed.error, query);
    const first = issues[0];
    throw new ApiError('INVALID_REQUEST', first ? `${first.field}: ${first.message}` : 'invalid query', first?.field ?? 'query', { issues });
  }
  const { status, limit, cursor } = parsed.data;
  return { ...(isJobStatus(status) && { status }), limit: limit ?? 20, ...(cursor !== undefined && { cursor }) };
}

/** The optional `Idempotency-Key` header (validated by the queue when used). */
export function idempotencyKeyHeader(req: Request): string | undefined {
  const value = req.headers['idempotency-key'];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw new ApiError('INVALID_REQUEST', 'Idempotency-Key must be given once', 'Idempotency-Key');
  return value;
}

/** Requires a JSON content type on requests with a body. */
export function requireJson(req: Request): void {
  const mediaType = (req.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mediaType !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(mediaType)) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json', 'Content-Type');
  }
}
