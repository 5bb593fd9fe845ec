import { BATCH_LIMITS, BATCH_PRIORITY_DEFAULT, batchRequestSchema, JOB_STATUSES, jobSpecInputSchema, PRIORITY_DEFAULT } from '@asyncdiff/queue';
import { z } from 'zod';

import { batchJobListSchema, batchListSchema, batchRetrySchema, batchViewSchema, errorSchema, jobListSchema, jobViewSchema, modelListSchema, readinessSchema } from './schemas.js';

type Json = Record<string, unknown>;

const schema = (s: z.ZodType, io: 'input' | 'output' = 'output'): Json => {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(s, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Json;
  return rest;
};
const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (s: Json, description: string): Json => ({ description, content: { 'application/json': { schema: s } } });
const errors = (...statuses: number[]): Json =>
  Object.fromEntries(statuses.map((s) => [String(s), json(ref('Error'), ERROR_TEXT[s] ?? 'error')]));

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed request (bad JSON, parameter or id); `field` names it.',
  401: 'Missing or unknown API key (when keys are configured).',
  404: 'No such job (or batch).',
  409: 'Idempotency-Key reused with a different body.',
  413: 'Body larger than the limit.',
  415: 'Body is not application/json.',
  422: 'Valid JSON but not a valid job; `issues` lists every problem.',
  429: 'Rate limit exceeded; see Retry-After.',
  503: 'Redis or the queue is unavailable.',
};

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^job_[0-9A-HJKMNP-TV-Z]{26}$' } };
const batchIdParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^batch_[0-9A-HJKMNP-TV-Z]{26}$' } };
const idempotencyHeader = (what: string) => ({
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  schema: { type: 'string', minLength: 1, maxLength: 255 },
  description: `A repeat with the same key and body within 24 h returns the same ${what} (header Idempotent-Replayed: true).`,
});
const pageParams = [
  { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
  { name: 'cursor', in: 'query', required: false, schema: { type: 'string', maxLength: 128 }, description: 'Opaque; from nextCursor.' },
];

const BATCH_TEXT =
  'A batch is either `jobs` (a list of job specs of one type) or `matrix` (every combination of `prompts` × `seeds` × the optional ' +
  '`steps`/`guidance`/`scheduler` lists, nested in that order, last varying fastest: child i is predictable), with a shared `parallel`, ' +
  `\`priority\` (default ${BATCH_PRIORITY_DEFAULT}) and \`webhook\` (called once when the batch ends). At most ${BATCH_LIMITS.children} children. ` +
  'Each child is an ordinary job (GET /v1/jobs/{id} works; `batchId` names the batch). Fairness: every waiting single job runs before any ' +
  'batch child; batches of equal priority share hosts child by child (start-time fair queuing). A batch finishes even when children fail ' +
  '(`completed_with_errors`) and then writes `manifest.json` and a contact sheet to storage.';
const secured = [{ bearer: [] }];

/** Every route the API serves (method + OpenAPI path); the tests check the app serves exactly these. */
export const API_ROUTES: ReadonlyArray<readonly [method: string, path: string]> = [
  ['post', '/v1/jobs'],
  ['get', '/v1/jobs'],
  ['get', '/v1/jobs/{id}'],
  ['post', '/v1/jobs/{id}/cancel'],
  ['get', '/v1/jobs/{id}/events'],
  ['post', '/v1/batches'],
  ['get', '/v1/batches'],
  ['get', '/v1/batches/{id}'],
  ['get', '/v1/batches/{id}/jobs'],
  ['post', '/v1/batches/{id}/cancel'],
  ['post', '/v1/batches/{id}/retry-failed'],
  ['get', '/v1/models'],
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
  ['get', '/openapi.json'],
];

/** The OpenAPI 3.1 document of the API, with request/response schemas generated from zod. */
export function openApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'asyncdiff fleet API',
      version: '1.0.0',
      description:
        'Submit class-conditional image and video generation jobs, follow them, fetch outputs. ' +
        `Priorities: 0…100, higher runs sooner, default ${PRIORITY_DEFAULT}. Errors: {error: {code, message, field}}.`,
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Only when the server has API keys configured.' } },
      schemas: {
        JobSpecInput: schema(jobSpecInputSchema, 'input'),
        BatchRequest: schema(batchRequestSchema, 'input'),
        Batch: schema(batchViewSchema),
        BatchList: schema(batchListSchema),
        BatchJobList: schema(batchJobListSchema),
        BatchRetry: schema(batchRetrySchema),
        Job: schema(jobViewSchema),
        JobList: schema(jobListSchema),
        ModelList: schema(modelListSchema),
        Error: schema(errorSchema),
        Readiness: schema(readinessSchema),
      },
    },
    paths: {
      '/v1/jobs': {
        post: {
          operationId: 'createJob',
          summary: 'Submit a job',
          security: secured,
          parameters: [idempotencyHeader('job')],
          requestBody: { required: true, content: { 'application/json': { schema: ref('JobSpecInput') } } },
          responses: { '202': json(ref('Job'), 'Accepted; Location names the job.'), ...errors(400, 401, 409, 413, 415, 422, 429, 503) },
        },
        get: {
          operationId: 'listJobs',
          summary: 'List jobs, newest first',
          security: secured,
          parameters: [
            { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: JOB_STATUSES } },
            { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } },
            { name: 'cursor', in: 'query', required: false, schema: { type: 'string', maxLength: 128 }, description: 'Opaque; from nextCursor.' },
          ],
          responses: { '200': json(ref('JobList'), 'A page of jobs.'), ...errors(400, 401, 429) },
        },
      },
      '/v1/jobs/{id}': {
        get: {
          operationId: 'getJob',
          summary: 'A job: status, progress, queue position, timings, outputs with URLs, error',
          security: secured,
          parameters: [idParam],
          responses: { '200': json(ref('Job'), 'The job.'), ...errors(400, 401, 404, 429) },
        },
      },
      '/v1/jobs/{id}/cancel': {
        post: {
          operationId: 'cancelJob',
          summary: 'Cancel a job (idempotent)',
          security: secured,
          parameters: [idParam],
          responses: {
            '200': json(ref('Job'), 'The job in its final state (a finished job is returned unchanged).'),
            '202': json(ref('Job'), 'A running job was told to stop; it ends canceled within one step.'),
            ...errors(400, 401, 404, 429),
          },
        },
      },
      '/v1/jobs/{id}/events': {
        get: {
          operationId: 'jobEvents',
          summary: 'Server-Sent Events: `job` (current state first, final state last), `progress`, `state`, `cancel-requested`',
          security: secured,
          parameters: [idParam],
          responses: {
            '200': { description: 'An event stream that ends after the terminal state.', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            ...errors(400, 401, 404, 429),
          },
        },
      },
      '/v1/batches': {
        post: {
          operationId: 'createBatch',
          summary: 'Submit a batch of jobs (a list or a matrix)',
          description: BATCH_TEXT,
          security: secured,
          parameters: [idempotencyHeader('batch')],
          requestBody: { required: true, content: { 'application/json': { schema: ref('BatchRequest') } } },
          responses: { '202': json(ref('Batch'), 'Accepted; Location names the batch.'), ...errors(400, 401, 409, 413, 415, 422, 429, 503) },
        },
        get: {
          operationId: 'listBatches',
          summary: 'List batches, newest first',
          security: secured,
          parameters: pageParams,
          responses: { '200': json(ref('BatchList'), 'A page of batches.'), ...errors(400, 401, 429) },
        },
      },
      '/v1/batches/{id}': {
        get: {
          operationId: 'getBatch',
          summary: 'A batch: counts by state, progress, ETA, failed children, manifest and contact sheet when done',
          security: secured,
          parameters: [batchIdParam],
          responses: { '200': json(ref('Batch'), 'The batch.'), ...errors(400, 401, 404, 429) },
        },
      },
      '/v1/batches/{id}/jobs': {
        get: {
          operationId: 'listBatchJobs',
          summary: 'The children of a batch in index order, optionally by status',
          security: secured,
          parameters: [batchIdParam, { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: JOB_STATUSES } }, ...pageParams],
          responses: { '200': json(ref('BatchJobList'), 'A page of children.'), ...errors(400, 401, 404, 429) },
        },
      },
      '/v1/batches/{id}/cancel': {
        post: {
          operationId: 'cancelBatch',
          summary: 'Cancel every child that has not ended (idempotent)',
          security: secured,
          parameters: [batchIdParam],
          responses: {
            '200': json(ref('Batch'), 'Nothing is left running (a finished batch is returned unchanged).'),
            '202': json(ref('Batch'), 'Running children were told to stop; the batch ends canceled within a step.'),
            ...errors(400, 401, 404, 429),
          },
        },
      },
      '/v1/batches/{id}/retry-failed': {
        post: {
          operationId: 'retryFailedBatchJobs',
          summary: 'Re-run failed children (also canceled ones with {"include": ["failed", "canceled"]}) as new jobs',
          description: 'Each retried child gets a new job id (`retryOf` names the old one); the batch reopens and finalises again.',
          security: secured,
          parameters: [batchIdParam],
          requestBody: {
            required: false,
            content: { 'application/json': { schema: { type: 'object', additionalProperties: false, properties: { include: { type: 'array', items: { enum: ['failed', 'canceled'] } } } } } },
          },
          responses: {
            '202': json(ref('BatchRetry'), 'Children were re-queued.'),
            '200': json(ref('BatchRetry'), 'Nothing to retry.'),
            ...errors(400, 401, 404, 415, 429, 503),
          },
        },
      },
      '/v1/models': {
        get: {
          operationId: 'listModels',
          summary: 'Models, their prompts, sample shapes and defaults',
          security: secured,
          responses: { '200': json(ref('ModelList'), 'The models.'), ...errors(401, 429) },
        },
      },
      '/healthz': { get: { operationId: 'health', summary: 'The process is up', responses: { '200': { description: 'OK' } } } },
      '/readyz': {
        get: {
          operationId: 'ready',
          summary: 'Redis (and the injected check) answer',
          responses: { '200': json(ref('Readiness'), 'Ready.'), '503': json(ref('Readiness'), 'Not ready.') },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          responses: { '200': { description: 'Text exposition format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
      '/openapi.json': { get: { operationId: 'openapi', summary: 'This document', responses: { '200': { description: 'OpenAPI 3.1' } } } },
    },
  };
}
