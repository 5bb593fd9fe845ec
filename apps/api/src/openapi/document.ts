import { JOB_STATUSES, jobSpecInputSchema, PRIORITY_DEFAULT } from '@asyncdiff/queue';
import { z } from 'zod';

import { errorSchema, jobListSchema, jobViewSchema, modelListSchema, readinessSchema } from './schemas.js';

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
  404: 'No such job.',
  409: 'Idempotency-Key reused with a different body.',
  413: 'Body larger than the limit.',
  415: 'Body is not application/json.',
  422: 'Valid JSON but not a valid job; `issues` lists every problem.',
  429: 'Rate limit exceeded; see Retry-After.',
  503: 'Redis or the queue is unavailable.',
};

const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^job_[0-9A-HJKMNP-TV-Z]{26}$' } };
const secured = [{ bearer: [] }];

/** Every route the API serves (method + OpenAPI path); the tests check the app serves exactly these. */
export const API_ROUTES: ReadonlyArray<readonly [method: string, path: string]> = [
  ['post', '/v1/jobs'],
  ['get', '/v1/jobs'],
  ['get', '/v1/jobs/{id}'],
  ['post', '/v1/jobs/{id}/cancel'],
  ['get', '/v1/jobs/{id}/events'],
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
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', minLength: 1, maxLength: 255 },
              description: 'A repeat with the same key and body within 24 h returns the same job (header Idempotent-Replayed: true).',
            },
          ],
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
