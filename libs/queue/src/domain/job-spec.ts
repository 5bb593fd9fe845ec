import { randomBytes } from 'node:crypto';

import { budgetAdmits, COMPENSATIONS, PARALLEL_MODES, QUALITY_BUDGETS, type Compensation, type QualityBudget } from '@asyncdiff/asyncdiff';
import { imageSizeProblem, JOB_TIMEOUT_SEC, resolvePrompt } from '@asyncdiff/models';
import { SCHEDULER_KINDS, type SchedulerKind } from '@asyncdiff/schedulers';
import { z } from 'zod';

import { JobSpecError, type SpecIssue } from './errors.js';
import type { ModelCatalog } from './model-catalog.js';
import { PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN } from './priority.js';
import { canonicalWebhookEvents, DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS, type WebhookEventName } from './webhook-events.js';
import { toSpecIssues } from './zod-issues.js';

/** Kinds of job; one BullMQ queue each. */
export type JobKind = 'image' | 'video';
/** Every job kind. */
export const JOB_KINDS: readonly JobKind[] = ['image', 'video'];
/** Samplers a job may ask for: the schedulers lib's own list (one source of scheduler names). */
export const SCHEDULERS = SCHEDULER_KINDS;
/** A sampler name. */
export type SchedulerName = SchedulerKind;
/** Output container formats: `png` for images, `gif`/`mp4`/`webm` for video. */
export const OUTPUT_FORMATS = ['png', 'gif', 'mp4', 'webm'] as const;
/** An output format. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
/**
 * How a job is spread over a replica group's devices: `auto` (the host decides per job within the
 * job's quality budget) or one of the engine's modes (`PARALLEL_MODES` of the asyncdiff lib, the
 * one list of mode names).
 */
export const JOB_PARALLEL_MODES = ['auto', ...PARALLEL_MODES] as const;
/** A job's parallel mode. */
export type JobParallelMode = (typeof JOB_PARALLEL_MODES)[number];
/** Quality budgets a job may name (`parallel.quality`); the asyncdiff lib's list. */
export { QUALITY_BUDGETS };
export type { QualityBudget };

/** Largest seed (seeds are unsigned 32-bit). */
export const SEED_MAX = 2 ** 32 - 1;
/** Bounds of the numeric spec fields, shared by the schema and the OpenAPI document. */
export const SPEC_LIMITS = {
  steps: { min: 1, max: 1000 },
  guidance: { min: 0, max: 30 },
  imageCount: { min: 1, max: 16 },
  scale: { min: 1, max: 16, default: 8 },
  stages: { min: 1, max: 8 },
  warmup: { min: 1, max: 1000 },
  timeoutSec: { min: JOB_TIMEOUT_SEC.min, max: JOB_TIMEOUT_SEC.max },
  /** Text prompts: CLIP reads 77 tokens; longer prompts are accepted and reported truncated. */
  promptChars: 2000,
  /** Output side in pixels of text-to-image jobs (each package bounds it further). */
  side: { min: 8, max: 4096 },
  modelChars: 64,
  webhookChars: 2048,
  /** `preview.every`: a preview every k-th step, 1 ≤ k ≤ 1000. */
  previewEvery: { min: 1, max: 1000 },
} as const;

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const webhookEventList = z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length * 2);

/**
 * Host of a webhook URL as the URL parser leaves it: a DNS name or an IPv4 literal (already
 * normalised from hex/octal/decimal forms), or a bracketed IPv6 literal. Whether the address is
 * an allowed target is decided later, by the webhook target guard.
 */
const WEBHOOK_HOSTNAME = new RegExp(`^(?:\\[[0-9a-fA-F:.]+\\]|${z.regexes.hostname.source.slice(1, -1)})$`);

/**
 * The request body of `POST /v1/jobs` (the shape only; `resolveJobSpec` adds the checks against
 * the model package and fills defaults). Unknown fields are rejected, at every level.
 */
export const jobSpecInputSchema = z.strictObject({
  type: z.enum(['image', 'video']),
  model: z.string().min(1).max(SPEC_LIMITS.modelChars).regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a model name like "digits"'),
  prompt: z.string().trim().min(1).max(SPEC_LIMITS.promptChars),
  /** Text-to-image models: what the unconditional branch encodes (default: nothing). */
  negativePrompt: z.string().max(SPEC_LIMITS.promptChars).optional(),
  /** Text-to-image models: output size in pixels (default: the model's). */
  width: int(SPEC_LIMITS.side.min, SPEC_LIMITS.side.max).optional(),
  height: int(SPEC_LIMITS.side.min, SPEC_LIMITS.side.max).optional(),
  seed: int(0, SEED_MAX).optional(),
  steps: int(SPEC_LIMITS.steps.min, SPEC_LIMITS.steps.max).optional(),
  guidance: z.number().min(SPEC_LIMITS.guidance.min).max(SPEC_LIMITS.guidance.max).optional(),
  scheduler: z.enum(SCHEDULERS).optional(),
  count: int(SPEC_LIMITS.imageCount.min, SPEC_LIMITS.imageCount.max).optional(),
  output: z
    .strictObject({
      format: z.enum(OUTPUT_FORMATS).optional(),
      scale: int(SPEC_LIMITS.scale.min, SPEC_LIMITS.scale.max).optional(),
    })
    .optional(),
  parallel: z
    .strictObject({
      mode: z.enum(JOB_PARALLEL_MODES).optional(),
      quality: z.enum(QUALITY_BUDGETS).optional(),
      stages: int(SPEC_LIMITS.stages.min, SPEC_LIMITS.stages.max).optional(),
      stride: z.union([z.literal(1), z.literal(2)]).optional(),
      warmup: int(SPEC_LIMITS.warmup.min, SPEC_LIMITS.warmup.max).optional(),
      timeShift: z.boolean().optional(),
      compensation: z
        .enum(COMPENSATIONS)
        .optional()
        .describe(
          "AsyncDiff's staleness compensation: parallel steps extrapolate the one-step-stale hidden states in the timestep from the producers' last outputs " +
            '(linear: 2 of them, quadratic: 3) at no extra network evaluation. Default: the host\'s (see bench/RESULTS.md, "Staleness compensation").',
        ),
    })
    .optional(),
  preview: z
    .strictObject({
      every: int(SPEC_LIMITS.previewEvery.min, SPEC_LIMITS.previewEvery.max).describe('Publish a preview after every k-th denoising step (steps k, 2k, …).'),
    })
    .optional()
    .describe(
      "Live previews: while the job runs, the predicted clean image (a clip's middle frame) is sent as a small base64 PNG in `preview` events " +
        'of GET /v1/jobs/{id}/events. Off when absent. Previews are best effort: one that is not ready in time is dropped, never waited for.',
    ),
  priority: int(PRIORITY_MIN, PRIORITY_MAX).optional(),
  webhook: z.url({ protocol: /^https?$/, hostname: WEBHOOK_HOSTNAME }).max(SPEC_LIMITS.webhookChars).optional(),
  webhookEvents: webhookEventList
    .optional()
    .describe(`What the webhook is called for: any of ${WEBHOOK_EVENTS.join(', ')} (default: completed). Needs \`webhook\`.`),
  /** Replicate-style spelling of `webhookEvents` (give one or the other). */
  webhook_events: webhookEventList.optional().describe('Alias of webhookEvents (the spelling Replicate-style clients send); give one or the other.'),
  timeoutSec: int(SPEC_LIMITS.timeoutSec.min, SPEC_LIMITS.timeoutSec.max)
    .optional()
    .describe(
      'Seconds one run of the job may hold its devices (denoise, encode, upload; queue time does not count) before it fails with code TIMEOUT, ' +
        `without retries. Default: the model's (GET /v1/models), ${JOB_TIMEOUT_SEC.default} for the shipped ones.`,
    ),
});

/** A request body as the client sent it (after shape validation). */
export type JobSpecInput = z.infer<typeof jobSpecInputSchema>;

/** The parallel settings of a resolved spec; absent numbers mean "the host picks". */
export interface ParallelSpec {
  readonly mode: JobParallelMode;
  /**
   * The job's quality budget; absent: the host's default (`GPU_HOST_QUALITY`, shipped `exact`).
   * Forced stale-feature modes (async, hybrid) cannot be combined with `exact`.
   */
  readonly quality?: QualityBudget;
  readonly stages?: number;
  readonly stride?: 1 | 2;
  readonly warmup?: number;
  readonly timeShift: boolean;
  /** Staleness compensation of AsyncDiff's parallel steps; absent: the host's default. */
  readonly compensation?: Compensation;
}

/** When a running job publishes previews (see `jobSpecInputSchema.preview`). */
export interface PreviewSpec {
  readonly every: number;
}

/** The text side of a text-to-image job (present exactly for text-to-image models). */
export interface TextSpec {
  readonly negativePrompt?: string;
  readonly width: number;
  readonly height: number;
}

/**
 * A fully resolved job spec: every default filled from the model package, the seed drawn, the
 * prompt resolved to `classId` (class-conditional models) or kept as text with its `text` side
 * (text-to-image models, `classId` -1). This is what the record stores and what a GPU host runs.
 */
export interface JobSpec {
  readonly type: JobKind;
  readonly model: string;
  readonly prompt: string;
  /** The class the prompt names; -1 for text-to-image models, whose prompt is text. */
  readonly classId: number;
  readonly text?: TextSpec;
  readonly seed: number;
  readonly steps: number;
  readonly guidance: number;
  readonly scheduler: SchedulerName;
  readonly count: number;
  readonly output: { readonly format: OutputFormat; readonly scale: number };
  readonly parallel: ParallelSpec;
  readonly priority: number;
  readonly webhook?: string;
  /** Live previews every `every`-th step; absent: none. */
  readonly preview?: PreviewSpec;
  /** What `webhook` is called for, deduplicated in `WEBHOOK_EVENTS` order; set exactly when `webhook` is. */
  readonly webhookEvents?: readonly WebhookEventName[];
  /**
   * Seconds one run may hold its devices before it fails with `TIMEOUT` (the request's, else the
   * model's default). Absent only in records stored before job timeouts existed: hosts then use
   * the model's default.
   */
  readonly timeoutSec?: number;
}

/** zod schema of a stored, resolved spec (hosts parse job records with it at their boundary). */
export const jobSpecSchema = z.object({
  type: z.enum(['image', 'video']),
  model: z.string(),
  prompt: z.string(),
  classId: z.number().int().min(-1),
  text: z.object({ negativePrompt: z.string().optional(), width: z.number().int().positive(), height: z.number().int().positive() }).optional(),
  seed: int(0, SEED_MAX),
  steps: int(SPEC_LIMITS.steps.min, SPEC_LIMITS.steps.max),
  guidance: z.number(),
  scheduler: z.enum(SCHEDULERS),
  count: z.number().int().positive(),
  output: z.object({ format: z.enum(OUTPUT_FORMATS), scale: z.number().int().positive() }),
  parallel: z.object({
    mode: z.enum(JOB_PARALLEL_MODES),
    quality: z.enum(QUALITY_BUDGETS).optional(),
    stages: z.number().int().positive().optional(),
    stride: z.union([z.literal(1), z.literal(2)]).optional(),
    warmup: z.number().int().positive().optional(),
    timeShift: z.boolean(),
    compensation: z.enum(COMPENSATIONS).optional(),
  }),
  priority: z.number().int(),
  webhook: z.string().optional(),
  preview: z.object({ every: int(SPEC_LIMITS.previewEvery.min, SPEC_LIMITS.previewEvery.max) }).optional(),
  webhookEvents: z.array(z.enum(WEBHOOK_EVENTS)).optional(),
  timeoutSec: int(SPEC_LIMITS.timeoutSec.min, SPEC_LIMITS.timeoutSec.max).optional(),
});

/** A uniformly random 32-bit seed, drawn when a request leaves `seed` out. */
export function randomSeed(): number {
  return randomBytes(4).readUInt32BE(0);
}

/**
 * Validates a request body and resolves it against the model catalog: the model exists and
 * makes the requested `type`, the prompt names one of its classes, `count`/`output.format` fit the
 * kind. Throws `JobSpecError` listing every problem, each naming its field.
 */
export function resolveJobSpec(input: unknown, catalog: ModelCatalog, drawSeed: () => number = randomSeed): JobSpec {
  const parsed = jobSpecInputSchema.safeParse(input);
  if (!parsed.success) throw new JobSpecError(toSpecIssues(parsed.error, input));
  const req = parsed.data;
  const issues: SpecIssue[] = [];
  const model = catalog.find(req.model);
  let classId = -1;
  if (!model) {
    const names = catalog.list().map((m) => m.name).join(', ');
    issues.push({ field: 'model', code: 'unknown_model', message: `unknown model "${req.model}"; available: ${names || '(none)'}` });
  } else {
    if (model.kind !== req.type) {
      issues.push({ field: 'model', code: 'wrong_kind', message: `model "${model.name}" makes ${model.kind} jobs, not ${req.type}` });
    }
    if (model.format === 'asyncdiff') {
      try {
        classId = resolvePrompt(model, req.prompt);
      } catch (err) {
        issues.push({ field: 'prompt', code: 'unknown_prompt', message: err instanceof Error ? err.message : String(err) });
      }
      for (const field of ['negativePrompt', 'width', 'height'] as const) {
        if (req[field] !== undefined) issues.push({ field, code: 'invalid_value', message: `${field} applies only to text-to-image models; ${model.name} is class-conditional (prompts: its classes)` });
      }
    } else {
      const bad = imageSizeProblem(model, req.width ?? model.defaults.width, req.height ?? model.defaults.height);
      if (bad) issues.push({ field: bad.field, code: 'invalid_value', message: bad.message });
    }
  }
  const count = req.count ?? 1;
  if (req.type === 'video' && count !== 1) issues.push({ field: 'count', code: 'too_big', message: 'video jobs make exactly 1 clip' });
  const format = req.output?.format ?? (req.type === 'image' ? 'png' : 'gif');
  if ((req.type === 'image') !== (format === 'png')) {
    const allowed = req.type === 'image' ? 'png' : 'gif, mp4 or webm';
    issues.push({ field: 'output.format', code: 'invalid_value', message: `${req.type} jobs write ${allowed}, not ${format}` });
  }
  const mode = req.parallel?.mode ?? 'auto';
  if ((mode === 'sequential' || mode === 'cfg') && (req.parallel?.stages ?? 1) > 1) {
    issues.push({ field: 'parallel.stages', code: 'invalid_value', message: `${mode} mode runs the whole denoiser on each device (no AsyncDiff stages)` });
  }
  const quality = req.parallel?.quality;
  if (mode !== 'auto' && quality !== undefined && !budgetAdmits(quality, mode)) {
    issues.push({ field: 'parallel.quality', code: 'invalid_value', message: `${mode} mode computes with stale features (AsyncDiff); quality "${quality}" allows only exact modes (sequential, cfg, auto)` });
  }
  const events = webhookEventsOf(req, issues);
  if (issues.length || !model) throw new JobSpecError(issues);

  const parallel: ParallelSpec = {
    mode,
    ...(quality !== undefined && { quality }),
    ...(req.parallel?.stages !== undefined && { stages: req.parallel.stages }),
    ...(req.parallel?.stride !== undefined && { stride: req.parallel.stride }),
    ...(req.parallel?.warmup !== undefined && { warmup: req.parallel.warmup }),
    timeShift: req.parallel?.timeShift ?? false,
    ...(req.parallel?.compensation !== undefined && { compensation: req.parallel.compensation }),
  };
  return {
    type: req.type,
    model: model.name,
    prompt: req.prompt,
    classId,
    ...(model.format === 'diffusers' && {
      text: { ...(req.negativePrompt !== undefined && { negativePrompt: req.negativePrompt }), width: req.width ?? model.defaults.width, height: req.height ?? model.defaults.height },
    }),
    seed: req.seed ?? drawSeed(),
    steps: req.steps ?? model.defaults.steps,
    guidance: req.guidance ?? model.defaults.guidance,
    scheduler: req.scheduler ?? model.defaults.scheduler,
    count,
    // Our 16×16 models are upscaled for viewing; real models' pixels are shown as they are.
    output: { format, scale: req.output?.scale ?? (model.format === 'asyncdiff' ? SPEC_LIMITS.scale.default : 1) },
    parallel,
    priority: req.priority ?? PRIORITY_DEFAULT,
    ...(req.webhook !== undefined && { webhook: req.webhook }),
    ...(req.preview !== undefined && { preview: { every: req.preview.every } }),
    ...(req.webhook !== undefined && { webhook: req.webhook, webhookEvents: events ?? [...DEFAULT_WEBHOOK_EVENTS] }),
    timeoutSec: req.timeoutSec ?? model.defaults.timeoutSec,
  };
}

/** The requested webhook events (either spelling, canonical order); problems go to `issues`. */
function webhookEventsOf(req: JobSpecInput, issues: SpecIssue[]): WebhookEventName[] | undefined {
  const given = req.webhookEvents ?? req.webhook_events;
  const field = req.webhookEvents !== undefined ? 'webhookEvents' : 'webhook_events';
  if (req.webhookEvents !== undefined && req.webhook_events !== undefined) {
    issues.push({ field: 'webhook_events', code: 'invalid_value', message: 'give webhookEvents or webhook_events, not both' });
  }
  if (given !== undefined && req.webhook === undefined) issues.push({ field, code: 'invalid_value', message: `${field} needs a webhook` });
  return given === undefined ? undefined : canonicalWebhookEvents(given);
}
