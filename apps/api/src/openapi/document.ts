import { BATCH_LIMITS, BATCH_PRIORITY_DEFAULT, batchRequestSchema, JOB_STATUSES, jobSpecInputSchema, PRIORITY_DEFAULT } from '@asyncdiff/queue';

import { DOCS_PATH } from '../docs/routes.js';
import { jsonContent, operation, ref, REQUEST_ID_PARAMETER, RESPONSE_HEADERS, schema, type Json, type OperationInput } from './builders.js';
import { JOB_STREAM_EVENTS, JOB_STREAM_TEXT } from './job-stream.js';
import { batchJobListSchema, batchListSchema, batchRetrySchema, batchViewSchema, errorSchema, jobListSchema, jobViewSchema, modelListSchema, readinessSchema } from './schemas.js';

const ERROR_TEXT: Record<number, string> = {
  400: 'Malformed request (bad JSON, parameter or id); `field` names it. `WEBHOOK_TARGET_FORBIDDEN`: the `webhook` URL is not http(s) or its host is (or resolves to) an address webhooks may not reach (loopback, private, link-local, …).',
  401: 'Missing or unknown API key (when keys are configured).',
  404: 'No such job (or batch) — also for one that another API key created: its existence is not disclosed.',
  409: 'Idempotency-Key reused with a different body.',
  413: 'Body larger than the limit.',
  415: 'Body is not application/json.',
  422: 'Valid JSON but not a valid job (INVALID_SPEC; `issues` lists every problem), or more work than one request may ask for (WORK_TOO_LARGE: split it).',
  429:
    'Too much, too fast; see Retry-After. RATE_LIMITED: requests per key; WORK_RATE_LIMITED: work units per key; QUEUED_WORK_LIMIT: ' +
    'your jobs not yet ended already hold your queued-work cap; QUEUE_FULL: the fleet-wide cap; TOO_MANY_STREAMS: event streams per key; ' +
    'AUTH_RATE_LIMITED: too many failed authentications from this address.',
  403: 'This key may not do that (admin keys only).',
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
const preferHeader = {
  name: 'Prefer',
  in: 'header',
  required: false,
  schema: { type: 'string', pattern: '^wait(=([1-9]|[1-5][0-9]|60))?$', example: 'wait=10' },
  description:
    'Sync mode, as Replicate documents it: `wait` (60 s) or `wait=N` (N 1…60 s) holds the response until the job ends or N seconds pass. ' +
    'Ended in time: 200 with the finished job; else 202 with the job as it is (follow Location or links.events). Both carry ' +
    '`Preference-Applied: wait=N`. Other preferences are ignored (RFC 7240); a `wait` outside this form is 400 INVALID_REQUEST (field `Prefer`). ' +
    'The wait ends early (202) when the server shuts down.',
};

const WEBHOOK_TEXT =
  'Webhooks (`webhook`, `webhookEvents` or its alias `webhook_events`: any of start, preview, completed; default completed) are POSTed ' +
  'signed per Standard Webhooks: `webhook-id` (same on retries), `webhook-timestamp`, `webhook-signature` (`v1,<base64 HMAC-SHA256>` over ' +
  '`id.timestamp.body`, one per secret during a rotation); verify with any Standard Webhooks library and the secret from ' +
  'GET /v1/webhooks/default/secret. Bodies: `{type: "job.<status>", event: "completed", id, at, job}`, `{type: "job.running", event: "start", id, at, job}`, ' +
  '`{type: "job.preview", event: "preview", id, at, preview}` (the SSE preview data). The older `Asyncdiff-Signature` header is deprecated and sent only with WEBHOOK_LEGACY_SIGNATURE=1.';

const AUTH_TEXT =
  'With API keys configured (API_KEYS, API_ADMIN_KEYS) every /v1 call needs `Authorization: Bearer <key>`. Each key sees only what it ' +
  'created: another key\'s job or batch is 404 for every call, listings show only the caller\'s, Idempotency-Keys are per key. Admin keys ' +
  'see everything. Output URLs are signed, expiring capabilities (like S3 presigned URLs), handed only to whoever may see the job. ' +
  'Cost follows work: a job costs `steps × count × frames × ⌈height × width / 256⌉ + 50` work units (the model\'s sample size; for text-to-image models the latent, width and height ÷ 8), a batch ' +
  'the sum of its children; submissions are charged against a per-key work-unit bucket and a cap on queued (not yet ended) work per key ' +
  'and in total. Without keys there is one anonymous owner and everything is visible.';

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
  ['get', '/v1/webhooks/default/secret'],
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
  ['get', '/openapi.json'],
];

const errorText = (status: number): string => ERROR_TEXT[status] ?? 'error';

/** The tags, in the order the docs page lists them. */
const TAGS = [
  { name: 'Jobs', description: 'One generation each: submit, follow (poll or Server-Sent Events), cancel, fetch outputs through their signed URLs.' },
  { name: 'Batches', description: 'Many jobs submitted together (a list or a prompt × seed matrix), followed and finished as one, with a manifest and a contact sheet.' },
  { name: 'Models', description: 'What can be generated: the models, their prompts, sizes and defaults.' },
  { name: 'Operations', description: 'Probes, Prometheus metrics and this document; no API key needed.' },
] as const;

type Tag = (typeof TAGS)[number]['name'];

/** The SSE frames of the job stream: one schema per event name, discriminated on `event`. */
function jobStreamSchemas(): Json {
  const frames: Json = {};
  const mapping: Record<string, string> = {};
  for (const [event, { component, when }] of Object.entries(JOB_STREAM_EVENTS)) {
    const name = `JobStream${component.replace(/^Job/, '').replace(/Event$/, '') || 'Job'}Frame`;
    mapping[event] = `#/components/schemas/${name}`;
    frames[name] = {
      type: 'object',
      title: event,
      description: `\`event: ${event}\` — ${when}`,
      required: ['id', 'event', 'data'],
      properties: {
        id: { type: 'string', pattern: '^[1-9][0-9]*$', description: 'Sequence number of the event within this stream.' },
        event: { type: 'string', const: event },
        data: ref(component),
      },
    };
  }
  return {
    ...frames,
    JobStreamEvent: {
      description: `One event of the job stream, shown as its fields (on the wire: \`id:\`, \`event:\`, \`data:\` lines and a blank line). ${JOB_STREAM_TEXT}`,
      oneOf: Object.values(mapping).map((r) => ({ $ref: r })),
      discriminator: { propertyName: 'event', mapping },
    },
  };
}

/** The event data schemas that are not already components (`job` carries a Job). */
function jobStreamDataSchemas(): Json {
  return Object.fromEntries(Object.values(JOB_STREAM_EVENTS).filter((e) => e.component !== 'Job').map((e) => [e.component, schema(e.schema)]));
}

/** Every operation by path and method. */
function paths(): Record<string, Record<string, Json>> {
  const op = (tag: Tag, input: Omit<OperationInput, 'tag'>): Json => operation({ ...input, tag }, errorText);
  const json = (schemaJson: Json, description: string) => ({ description, content: jsonContent(schemaJson) });
  const created = (schemaJson: Json, description: string) => ({ ...json(schemaJson, description), headers: ['Location', 'Idempotent-Replayed'] as const });
  return {
    '/v1/jobs': {
      post: op('Jobs', {
        operationId: 'createJob',
        summary: 'Submit a job',
        description: WEBHOOK_TEXT,
        access: 'key',
        parameters: [idempotencyHeader('job'), preferHeader],
        requestBody: { required: true, content: jsonContent(ref('JobSpecInput')) },
        responses: {
          '200': { ...json(ref('Job'), 'With `Prefer: wait`: the job ended within the wait.'), headers: ['Location', 'Preference-Applied'] as const },
          '202': { ...created(ref('Job'), 'Accepted; Location names the job (with `Prefer: wait`: still running after the wait, and Preference-Applied is set).'), headers: ['Location', 'Idempotent-Replayed', 'Preference-Applied'] as const },
        },
        errors: [400, 401, 409, 413, 415, 422, 429, 503],
      }),
      get: op('Jobs', {
        operationId: 'listJobs',
        summary: 'List jobs, newest first',
        access: 'key',
        parameters: [{ name: 'status', in: 'query', required: false, schema: { type: 'string', enum: JOB_STATUSES } }, ...pageParams],
        responses: { '200': json(ref('JobList'), 'A page of jobs.') },
        errors: [400, 401, 429],
      }),
    },
    '/v1/jobs/{id}': {
      get: op('Jobs', {
        operationId: 'getJob',
        summary: 'A job: status, progress, queue position, timings, outputs with URLs, error',
        access: 'key',
        parameters: [idParam],
        responses: { '200': json(ref('Job'), 'The job.') },
        errors: [400, 401, 404, 429],
      }),
    },
    '/v1/jobs/{id}/cancel': {
      post: op('Jobs', {
        operationId: 'cancelJob',
        summary: 'Cancel a job (idempotent)',
        access: 'key',
        parameters: [idParam],
        responses: {
          '200': json(ref('Job'), 'The job in its final state (a finished job is returned unchanged).'),
          '202': json(ref('Job'), 'A running job was told to stop; it ends canceled within one step.'),
        },
        errors: [400, 401, 404, 429],
      }),
    },
    '/v1/jobs/{id}/events': {
      get: op('Jobs', {
        operationId: 'jobEvents',
        summary: `Follow a job (Server-Sent Events: ${Object.keys(JOB_STREAM_EVENTS).map((e) => `\`${e}\``).join(', ')})`,
        description: `${JOB_STREAM_TEXT}\n\n${Object.entries(JOB_STREAM_EVENTS).map(([e, { component, when }]) => `- \`${e}\` (data: ${component}): ${when}`).join('\n')}`,
        access: 'key',
        parameters: [idParam],
        responses: { '200': { description: 'An event stream that ends after the terminal state.', content: { 'text/event-stream': { schema: ref('JobStreamEvent') } } } },
        errors: [400, 401, 404, 429],
      }),
    },
    '/v1/batches': {
      post: op('Batches', {
        operationId: 'createBatch',
        summary: 'Submit a batch of jobs (a list or a matrix)',
        description: BATCH_TEXT,
        access: 'key',
        parameters: [idempotencyHeader('batch')],
        requestBody: { required: true, content: jsonContent(ref('BatchRequest')) },
        responses: { '202': created(ref('Batch'), 'Accepted; Location names the batch.') },
        errors: [400, 401, 409, 413, 415, 422, 429, 503],
      }),
      get: op('Batches', {
        operationId: 'listBatches',
        summary: 'List batches, newest first',
        description: 'Counts and progress come from counters kept on each batch (no child is read): progress counts ended children only, and `failed` is empty here — GET /v1/batches/{id} lists failed children.',
        access: 'key',
        parameters: pageParams,
        responses: { '200': json(ref('BatchList'), 'A page of batches.') },
        errors: [400, 401, 429],
      }),
    },
    '/v1/batches/{id}': {
      get: op('Batches', {
        operationId: 'getBatch',
        summary: 'A batch: counts by state, progress, ETA, failed children, manifest and contact sheet when done',
        access: 'key',
        parameters: [batchIdParam],
        responses: { '200': json(ref('Batch'), 'The batch.') },
        errors: [400, 401, 404, 429],
      }),
    },
    '/v1/batches/{id}/jobs': {
      get: op('Batches', {
        operationId: 'listBatchJobs',
        summary: 'The children of a batch in index order, optionally by status',
        access: 'key',
        parameters: [batchIdParam, { name: 'status', in: 'query', required: false, schema: { type: 'string', enum: JOB_STATUSES } }, ...pageParams],
        responses: { '200': json(ref('BatchJobList'), 'A page of children.') },
        errors: [400, 401, 404, 429],
      }),
    },
    '/v1/batches/{id}/cancel': {
      post: op('Batches', {
        operationId: 'cancelBatch',
        summary: 'Cancel every child that has not ended (idempotent)',
        access: 'key',
        parameters: [batchIdParam],
        responses: {
          '200': json(ref('Batch'), 'Nothing is left running (a finished batch is returned unchanged).'),
          '202': json(ref('Batch'), 'Running children were told to stop; the batch ends canceled within a step.'),
        },
        errors: [400, 401, 404, 429],
      }),
    },
    '/v1/batches/{id}/retry-failed': {
      post: op('Batches', {
        operationId: 'retryFailedBatchJobs',
        summary: 'Re-run failed children (also canceled ones with {"include": ["failed", "canceled"]}) as new jobs',
        description: 'Each retried child gets a new job id (`retryOf` names the old one); the batch reopens and finalises again.',
        access: 'key',
        parameters: [batchIdParam],
        requestBody: {
          required: false,
          content: jsonContent({ type: 'object', additionalProperties: false, properties: { include: { type: 'array', items: { type: 'string', enum: ['failed', 'canceled'] } } } }),
        },
        responses: { '202': json(ref('BatchRetry'), 'Children were re-queued.'), '200': json(ref('BatchRetry'), 'Nothing to retry.') },
        errors: [400, 401, 404, 415, 429, 503],
      }),
    },
    '/v1/models': {
      get: op('Models', {
        operationId: 'listModels',
        summary: 'Models, their prompts, sample shapes and defaults',
        access: 'key',
        responses: { '200': json(ref('ModelList'), 'The models.') },
        errors: [401, 429],
      }),
    },
    '/v1/webhooks/default/secret': {
      get: op('Jobs', {
        operationId: 'getWebhookSecret',
        summary: 'The secret webhook deliveries are signed with (admin keys only)',
        description: 'Standard Webhooks form (`whsec_…`); `previousKeys` still sign during a rotation (WEBHOOK_PREVIOUS_SECRETS). Open when the API has no keys.',
        access: 'key',
        responses: {
          '200': json(
            { type: 'object', required: ['key', 'previousKeys'], properties: { key: { type: 'string', pattern: '^whsec_' }, previousKeys: { type: 'array', items: { type: 'string' } } } },
            'The signing secrets.',
          ),
        },
        errors: [401, 403, 429, 503],
      }),
    },
    '/healthz': {
      get: op('Operations', {
        operationId: 'health',
        summary: 'The process is up',
        access: 'open',
        responses: { '200': json({ type: 'object', required: ['status'], properties: { status: { type: 'string', const: 'ok' } } }, 'OK.') },
      }),
    },
    '/readyz': {
      get: op('Operations', {
        operationId: 'ready',
        summary: 'Redis (and the injected check) answer; a failing check reads `unavailable` (details go to the server log)',
        access: 'open',
        responses: { '200': json(ref('Readiness'), 'Ready.'), '503': json(ref('Readiness'), 'Not ready.') },
      }),
    },
    '/metrics': {
      get: op('Operations', {
        operationId: 'metrics',
        summary: 'Prometheus metrics',
        description: 'Open unless the server has METRICS_TOKEN set; then `Authorization: Bearer <METRICS_TOKEN>`.',
        access: 'metrics',
        responses: { '200': { description: 'Text exposition format 0.0.4.', content: { 'text/plain': { schema: { type: 'string' } } } } },
        errors: [401, 429],
      }),
    },
    '/openapi.json': {
      get: op('Operations', {
        operationId: 'openapi',
        summary: 'This document',
        description: `Rendered for people at ${DOCS_PATH}.`,
        access: 'open',
        responses: { '200': json({ type: 'object', description: 'OpenAPI 3.1.' }, 'This document.') },
      }),
    },
  };
}

/** The OpenAPI 3.1 document of the API, with request/response schemas generated from zod. */
export function openApiDocument(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'asyncdiff fleet API',
      version: '1.0.0',
      description:
        'Submit class-conditional and text-to-image/video generation jobs, follow them, fetch outputs. ' +
        `Priorities: 0…100, higher runs sooner, default ${PRIORITY_DEFAULT}. Errors: {error: {code, message, field}}. ${AUTH_TEXT} ` +
        'Every response carries X-Request-Id; while request limiting is on, answers to API-key routes carry RateLimit-Limit and RateLimit-Remaining, and every 429 says Retry-After.',
    },
    servers: [{ url: '/', description: 'The server that serves this document (paths are relative to it).' }],
    tags: TAGS,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API key (API_KEYS) or admin key (API_ADMIN_KEYS); only needed when the server has keys configured.' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN; only needed when the server has one configured.' },
      },
      headers: RESPONSE_HEADERS,
      parameters: { RequestId: REQUEST_ID_PARAMETER },
      schemas: {
        JobSpecInput: schema(jobSpecInputSchema, 'input'),
        BatchRequest: schema(batchRequestSchema, 'input'),
        Batch: schema(batchViewSchema),
        BatchList: schema(batchListSchema),
        BatchJobList: schema(batchJobListSchema),
        BatchRetry: schema(batchRetrySchema),
        Job: schema(jobViewSchema),
        JobList: schema(jobListSchema),
        ...jobStreamDataSchemas(),
        ...jobStreamSchemas(),
        ModelList: schema(modelListSchema),
        Error: schema(errorSchema),
        Readiness: schema(readinessSchema),
      },
    },
    paths: paths(),
  };
}
