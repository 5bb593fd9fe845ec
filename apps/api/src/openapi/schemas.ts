import { BATCH_STATUSES, JOB_STATUSES, jobSpecSchema, OUTPUT_FORMATS, SCHEDULERS, type BatchStatus, type JobStatus } from '@asyncdiff/queue';
import { z } from 'zod';

import { HTTP_STATUS, type ApiErrorCode } from '../errors.js';

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
  spec: jobSpecSchema.describe('The resolved spec: defaults filled in, seed drawn; class prompts resolved to classId, text prompts kept with their `text` side.'),
  progress: z.object({ step: z.number().int(), steps: z.number().int(), percent: z.number(), phase: z.string().optional() }),
  queuePosition: z.number().int().positive().nullable().describe('1 = next to run; null unless queued and waiting in line.'),
  createdAt: isoTime,
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
  timings: z.record(z.string(), z.number()).describe('Milliseconds: queueMs, runMs and what the GPU host measured.'),
  attempts: z.number().int().nonnegative(),
  host: z.string().nullable(),
  cancelRequested: z.boolean(),
  expiresAt: isoTime
    .nullable()
    .describe('When the outputs are removed (OUTPUT_RETENTION_DAYS after the job ended); null while running or when outputs are kept until removed by hand.'),
  outputs: z.array(
    z.object({
      key: z.string(),
      url: z.string().nullable().describe('A signed, expiring URL; null without storage, and once the output has expired.'),
      contentType: z.string(),
      bytes: z.number().int().nonnegative(),
      sha256: z.string(),
      kind: z.enum(['image', 'video', 'sidecar']),
      expiresAt: isoTime.nullable().describe("The job's expiresAt."),
    }),
  ),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  warnings: z
    .array(z.object({ code: z.string(), field: z.string(), message: z.string() }))
    .describe('What the run noticed about the request: PROMPT_TRUNCATED / NEGATIVE_PROMPT_TRUNCATED when a text prompt was cut to the encoder\'s 77 tokens.'),
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
    code: z
      .enum(Object.keys(HTTP_STATUS) as [ApiErrorCode, ...ApiErrorCode[]])
      .describe(`Stable machine-readable code; its HTTP status: ${Object.entries(HTTP_STATUS).map(([c, st]) => `${c} ${st}`).join(', ')}.`),
    message: z.string(),
    field: z.string().nullable().describe('The offending input: a body path (`output.format`), a parameter, a header, or `body`.'),
    issues: z.array(z.object({ field: z.string(), code: z.string(), message: z.string() })).optional(),
    requestId: z.string().describe('The `X-Request-Id` of this response (yours if you sent a well-formed one): quote it when reporting a problem; the server logs it on every line of the request.'),
  }),
});

/** `GET /v1/models`. */
export const modelListSchema = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(['image', 'video']),
      format: z.enum(['asyncdiff', 'diffusers']).describe('asyncdiff: our class-conditional packages; diffusers: a Stable Diffusion–class ONNX export.'),
      version: z.union([z.number().int(), z.string()]),
      description: z.string(),
      takesText: z.boolean().describe('Whether `prompt` is free text (with `negativePrompt`, `width`, `height`) or one of `prompts`.'),
      sample: z.object({ dims: z.array(z.number().int()), frames: z.number().int(), height: z.number().int(), width: z.number().int() }).describe('Denoiser sample at the default size.'),
      resolution: z
        .object({ width: z.number().int(), height: z.number().int(), min: z.number().int(), max: z.number().int(), multiple: z.number().int(), scale: z.number().int() })
        .describe('Default output size before `output.scale`; text models accept width/height multiples of `multiple` within [min, max]; `scale` is the default `output.scale`.'),
      prompts: z.array(z.object({ classId: z.number().int(), label: z.string(), aliases: z.array(z.string()) })).describe('Class-conditional models: the prompts they accept (empty for text models).'),
      defaults: z.object({ steps: z.number().int(), guidance: z.number(), scheduler: z.enum(SCHEDULERS), timeoutSec: z.number().int() }),
      outputFormats: z.array(z.enum(OUTPUT_FORMATS)),
      batching: z
        .object({
          timestep: z.enum(['per-sample', 'scalar']).describe('The denoiser graph\'s timestep input: one value per batch row, or one for the whole batch.'),
          continuous: z.boolean().describe('Whether a GPU host may run this model\'s one-device jobs in continuous batches (every model package and text pipeline). A host still runs them one per device when its batching is off or its start-up measurement found that sharing a step does not pay for this model (GPU_HOST_MIN_BATCH_GAIN).'),
          joinsAtAnyStep: z.boolean().describe('Whether a job may join a batch whose jobs are at other steps (per-sample timestep); otherwise jobs share a batch only when they start together with the same step count (a newcomer waits until the batch empties).'),
        })
        .describe('How jobs of this model share a device\'s continuous batch (same bytes as alone either way).'),
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
