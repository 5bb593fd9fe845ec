import { randomBytes } from 'node:crypto';

import { resolvePrompt } from '@asyncdiff/models';
import { z } from 'zod';

import { JobSpecError, type SpecIssue } from './errors.js';
import type { ModelCatalog } from './model-catalog.js';
import { PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN } from './priority.js';
import { toSpecIssues } from './zod-issues.js';

/** Kinds of job; one BullMQ queue each. */
export type JobKind = 'image' | 'video';
/** Every job kind. */
export const JOB_KINDS: readonly JobKind[] = ['image', 'video'];
/** Samplers a job may ask for (the schedulers lib implements them). */
export const SCHEDULERS = ['ddim', 'ddpm', 'euler', 'euler-ancestral', 'dpmpp-2m'] as const;
/** A sampler name. */
export type SchedulerName = (typeof SCHEDULERS)[number];
/** Output container formats: `png` for images, `gif`/`mp4`/`webm` for video. */
export const OUTPUT_FORMATS = ['png', 'gif', 'mp4', 'webm'] as const;
/** An output format. */
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
/** How a job is spread over a replica group's devices (`auto`: the host decides per job). */
export const PARALLEL_MODES = ['auto', 'sequential', 'async'] as const;
/** A parallel mode. */
export type ParallelMode = (typeof PARALLEL_MODES)[number];

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
  promptChars: 200,
  modelChars: 64,
  webhookChars: 2048,
} as const;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/**
 * The request body of `POST /v1/jobs` (the shape only; `resolveJobSpec` adds the checks against
 * the model package and fills defaults). Unknown fields are rejected, at every level.
 */
export const jobSpecInputSchema = z.strictObject({
  type: z.enum(['image', 'video']),
  model: z.string().min(1).max(SPEC_LIMITS.modelChars).regex(/^[a-z0-9][a-z0-9-]*$/, 'must be a model name like "digits"'),
  prompt: z.string().trim().min(1).max(SPEC_LIMITS.promptChars),
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
      mode: z.enum(PARALLEL_MODES).optional(),
      stages: int(SPEC_LIMITS.stages.min, SPEC_LIMITS.stages.max).optional(),
      stride: z.union([z.literal(1), z.literal(2)]).optional(),
      warmup: int(SPEC_LIMITS.warmup.min, SPEC_LIMITS.warmup.max).optional(),
      timeShift: z.boolean().optional(),
    })
    .optional(),
  priority: int(PRIORITY_MIN, PRIORITY_MAX).optional(),
  webhook: z.url({ protocol: /^https?$/, hostname: z.regexes.hostname }).max(SPEC_LIMITS.webhookChars).optional(),
});

/** A request body as the client sent it (after shape validation). */
export type JobSpecInput = z.infer<typeof jobSpecInputSchema>;

/** The parallel settings of a resolved spec; absent numbers mean "the host picks". */
export interface ParallelSpec {
  readonly mode: ParallelMode;
  readonly stages?: number;
  readonly stride?: 1 | 2;
  readonly warmup?: number;
  readonly timeShift: boolean;
}

/**
 * A fully resolved job spec: every default filled from the model package, the seed drawn, the
 * prompt resolved to `classId`. This is what the record stores and what a GPU host runs.
 */
export interface JobSpec {
  readonly type: JobKind;
  readonly model: string;
  readonly prompt: string;
  readonly classId: number;
  readonly seed: number;
  readonly steps: number;
  readonly guidance: number;
  readonly scheduler: SchedulerName;
  readonly count: number;
  readonly output: { readonly format: OutputFormat; readonly scale: number };
  readonly parallel: ParallelSpec;
  readonly priority: number;
  readonly webhook?: string;
}

/** zod schema of a stored, resolved spec (hosts parse job records with it at their boundary). */
export const jobSpecSchema = z.object({
  type: z.enum(['image', 'video']),
  model: z.string(),
  prompt: z.string(),
  classId: z.number().int().nonnegative(),
  seed: int(0, SEED_MAX),
  steps: int(SPEC_LIMITS.steps.min, SPEC_LIMITS.steps.max),
  guidance: z.number(),
  scheduler: z.enum(SCHEDULERS),
  count: z.number().int().positive(),
  output: z.object({ format: z.enum(OUTPUT_FORMATS), scale: z.number().int().positive() }),
  parallel: z.object({
    mode: z.enum(PARALLEL_MODES),
    stages: z.number().int().positive().optional(),
    stride: z.union([z.literal(1), z.literal(2)]).optional(),
    warmup: z.number().int().positive().optional(),
    timeShift: z.boolean(),
  }),
  priority: z.number().int(),
  webhook: z.string().optional(),
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
    try {
      classId = resolvePrompt(model, req.prompt);
    } catch (err) {
      issues.push({ field: 'prompt', code: 'unknown_prompt', message: err instanceof Error ? err.message : String(err) });
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
  if (mode === 'sequential' && (req.parallel?.stages ?? 1) > 1) {
    issues.push({ field: 'parallel.stages', code: 'invalid_value', message: 'sequential mode runs one stage' });
  }
  if (issues.length || !model) throw new JobSpecError(issues);

  const parallel: ParallelSpec = {
    mode,
    ...(req.parallel?.stages !== undefined && { stages: req.parallel.stages }),
    ...(req.parallel?.stride !== undefined && { stride: req.parallel.stride }),
    ...(req.parallel?.warmup !== undefined && { warmup: req.parallel.warmup }),
    timeShift: req.parallel?.timeShift ?? false,
  };
  return {
    type: req.type,
    model: model.name,
    prompt: req.prompt,
    classId,
    seed: req.seed ?? drawSeed(),
    steps: req.steps ?? model.defaults.steps,
    guidance: req.guidance ?? model.defaults.guidance,
    scheduler: req.scheduler ?? model.defaults.scheduler,
    count,
    output: { format, scale: req.output?.scale ?? SPEC_LIMITS.scale.default },
    parallel,
    priority: req.priority ?? PRIORITY_DEFAULT,
    ...(req.webhook !== undefined && { webhook: req.webhook }),
  };
}
