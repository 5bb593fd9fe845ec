import { BATCH_STATUSES, JOB_STATUSES, jobSpecSchema, OUTPUT_FORMATS, SCHEDULERS, type BatchStatus, type JobStatus } from '@asyncdiff/queue';
import { z } from 'zod';

/**
 * zod schemas of the API's responses. They feed the OpenAPI document and the tests validate real
 * responses against them, so the document cannot drift from what the server sends.
 */
const status = z.enum(JOB_STATUSES as [JobStatus, ...JobStatus[]]);
const isoTime = z.iso.datetime();

/** A job as every endpoint returns it. */
export const jobViewSchema = z.object({
  id: z.string().describe('Job id: `job_` + a ULID; sorts by creation time.'),
  type: z.enum(['image', 'video']),
  status,
  spec: jobSpecSchema.describe('The resolved spec: defaults filled in, seed drawn, prompt resolved to classId.'),
  progress: z.object({ step: z.number().int(), steps: z.number().int(), percent: z.number(), phase: z.string().optional() }),
  queuePosition: z.number().int().positive().nullable().describe('1 = next to run; null unless queued and waiting in line.'),
  createdAt: isoTime,
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
  timings: z.record(z.string(), z.number()).describe('Milliseconds: queueMs, runMs and what the GPU host measured.'),
  attempts: z.number().int().nonnegative(),
  host: z.string().nullable(),
  cancelRequested: z.boolean(),
  outputs: z.array(
    z.object({
      key: z.string(),
      url: z.string().nullable(),
      contentType: z.string(),
      bytes: z.number().int().nonnegative(),
      sha256: z.string(),
      kind: z.enum(['image', 'video', 'sidecar']),
    }),
  ),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  batchId: z.string().nullable(),
  retryOf: z.string().nullable().describe('The failed or canceled job this one re-runs (same spec).'),
  retriedBy: z.string().nullable().describe('The job that re-runs this one.'),
  links: z.object({ self: z.string(), events: z.string(), cancel: z.string() }),
});

/** `GET /v1/jobs`. */
export const jobListSchema = z.object({
  jobs: z.array(jobViewSchema),
  nextCursor: z.string().nullable(),
  links: z.object({ next: z.string().nullable() }),
});

/** Every 4xx/5xx body. */
export const errorSchema = z.object({
  error: z.object({
    code: z.string().describe('Stable machine-readable code, e.g. INVALID_SPEC, JOB_NOT_FOUND, RATE_LIMITED.'),
    message: z.string(),
    field: z.string().nullable().describe('The offending input: a body path (`output.format`), a parameter, a header, or `body`.'),
    issues: z.array(z.object({ field: z.string(), code: z.string(), message: z.string() })).optional(),
  }),
});

/** `GET /v1/models`. */
export const modelListSchema = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(['image', 'video']),
      version: z.number().int(),
      description: z.string(),
      sample: z.object({ dims: z.array(z.number().int()), frames: z.number().int(), height: z.number().int(), width: z.number().int() }),
      prompts: z.array(z.object({ classId: z.number().int(), label: z.string(), aliases: z.array(z.string()) })),
      defaults: z.object({ steps: z.number().int(), guidance: z.number(), scheduler: z.enum(SCHEDULERS) }),
      outputFormats: z.array(z.enum(OUTPUT_FORMATS)),
    }),
  ),
});

/** `/readyz`. */
export const readinessSchema = z.object({ status: z.enum(['ready', 'unready']), checks: z.record(z.string(), z.string()) });

const artifact = z.object({ key: z.string(), url: z.string().nullable() }).nullable();

/** A batch as every batch endpoint returns it. */
export const batchViewSchema = z.object({
  id: z.string().describe('Batch id: `batch_` + a ULID.'),
  name: z.string().nullable(),
  type: z.enum(['image', 'video']),
  model: z.string().nullable().describe('The model when all children share one.'),
  status: z.enum(BATCH_STATUSES as [BatchStatus, ...BatchStatus[]]).describe('queued → running → finalizing → completed | completed_with_errors | canceled.'),
  cancelRequested: z.boolean(),
  priority: z.number().int(),
  total: z.number().int().positive(),
  round: z.number().int().positive().describe('1, plus one per retry-failed.'),
  counts: z.object({ queued: z.number().int(), running: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), canceled: z.number().int() }),
  progress: z.object({ percent: z.number(), ended: z.number().int(), total: z.number().int() }),
  eta: z.object({ seconds: z.number().int(), at: isoTime }).nullable().describe('From the completion rate so far; null before the first child ran.'),
  createdAt: isoTime,
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
  failed: z.array(z.object({ index: z.number().int(), jobId: z.string(), error: z.object({ code: z.string(), message: z.string() }).nullable() })).describe('Failed children (first 50).'),
  manifest: artifact.describe('`batches/<id>/manifest.json` once the batch has finished.'),
  contactSheet: artifact.describe('`batches/<id>/contact-sheet.png` (image grid / first-frame grid) once the batch has finished.'),
  finalizeError: z.object({ code: z.string(), message: z.string() }).nullable(),
  links: z.object({ self: z.string(), jobs: z.string(), cancel: z.string(), retryFailed: z.string() }),
});

/** `GET /v1/batches`. */
export const batchListSchema = z.object({
  batches: z.array(batchViewSchema),
  nextCursor: z.string().nullable(),
  links: z.object({ next: z.string().nullable() }),
});

/** `GET /v1/batches/{id}/jobs`: children in index order. */
export const batchJobListSchema = z.object({
  jobs: z.array(jobViewSchema.extend({ batchIndex: z.number().int().nonnegative().describe('Position in the batch (matrix order).') })),
  nextCursor: z.string().nullable(),
  links: z.object({ next: z.string().nullable() }),
});

/** `POST /v1/batches/{id}/retry-failed`. */
export const batchRetrySchema = z.object({
  retried: z.array(z.object({ index: z.number().int(), previousJobId: z.string(), jobId: z.string() })),
  batch: batchViewSchema,
});
