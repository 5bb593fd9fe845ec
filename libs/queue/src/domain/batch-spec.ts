import { z } from 'zod';

import { JobSpecError, type SpecIssue } from './errors.js';
import { jobSpecInputSchema, randomSeed, resolveJobSpec, SCHEDULERS, SEED_MAX, SPEC_LIMITS, type JobKind, type JobSpec, type ParallelSpec } from './job-spec.js';
import type { ModelCatalog } from './model-catalog.js';
import { PRIORITY_MAX, PRIORITY_MIN } from './priority.js';
import { toSpecIssues } from './zod-issues.js';

/** Bounds of a batch request (shared by the schema, the API's body limit and the OpenAPI document). */
export const BATCH_LIMITS = {
  /** Children of one batch, whichever way they are given. */
  children: 5000,
  /** Values of one matrix axis (prompts, seeds). */
  axisValues: 1000,
  /** Values of one optional parameter list (steps, guidance, scheduler). */
  paramValues: 32,
  nameChars: 100,
} as const;

/**
 * Default priority of a batch (0…100, like jobs). It only orders batches among themselves: every
 * batch child runs after every waiting single job (see `batchChildBullPriority`).
 */
export const BATCH_PRIORITY_DEFAULT = 50;

const shape = jobSpecInputSchema.shape;

/** One entry of `jobs`: a job spec without the batch-wide fields (`parallel`, `priority`, `webhook`). */
export const batchJobItemSchema = jobSpecInputSchema.omit({ parallel: true, priority: true, webhook: true, webhookEvents: true, webhook_events: true });

/**
 * A matrix: every combination of `prompts` × `seeds` × each optional parameter list, in that
 * nesting order (the last axis varies fastest), so child `i` is predictable from the request.
 */
export const batchMatrixSchema = z.strictObject({
  type: shape.type,
  model: shape.model,
  prompts: z.array(shape.prompt).min(1).max(BATCH_LIMITS.axisValues),
  seeds: z.array(z.number().int().min(0).max(SEED_MAX)).min(1).max(BATCH_LIMITS.axisValues),
  steps: z.array(z.number().int().min(SPEC_LIMITS.steps.min).max(SPEC_LIMITS.steps.max)).min(1).max(BATCH_LIMITS.paramValues).optional(),
  guidance: z.array(z.number().min(SPEC_LIMITS.guidance.min).max(SPEC_LIMITS.guidance.max)).min(1).max(BATCH_LIMITS.paramValues).optional(),
  scheduler: z.array(z.enum(SCHEDULERS)).min(1).max(SCHEDULERS.length).optional(),
  count: shape.count,
  output: shape.output,
});

/**
 * The body of `POST /v1/batches`: exactly one of `jobs` (a list of job specs of one type) or
 * `matrix`, plus the batch-wide `parallel`, `priority`, `webhook` (called once, when the batch
 * ends) and an optional `name`. Unknown fields are rejected at every level.
 */
export const batchRequestSchema = z.strictObject({
  name: z.string().trim().min(1).max(BATCH_LIMITS.nameChars).optional(),
  jobs: z.array(batchJobItemSchema).min(1).max(BATCH_LIMITS.children).optional(),
  matrix: batchMatrixSchema.optional(),
  parallel: shape.parallel,
  priority: z.number().int().min(PRIORITY_MIN).max(PRIORITY_MAX).optional(),
  webhook: shape.webhook,
});

/** A batch request after shape validation. */
export type BatchRequest = z.infer<typeof batchRequestSchema>;
/** The matrix form of a batch request. */
export type BatchMatrix = z.infer<typeof batchMatrixSchema>;

/** A validated batch: every child resolved like a single job, in child-index order. */
export interface BatchPlan {
  readonly kind: JobKind;
  /** The model when all children share one (always for a matrix). */
  readonly model: string | null;
  readonly name?: string;
  readonly priority: number;
  readonly parallel: ParallelSpec;
  readonly webhook?: string;
  readonly children: readonly JobSpec[];
  /** The request as validated (stored with the batch and echoed in its manifest). */
  readonly request: BatchRequest;
}

const MAX_ISSUES = 50;

/** How many children a matrix expands to. */
export function matrixSize(m: Pick<BatchMatrix, 'prompts' | 'seeds' | 'steps' | 'guidance' | 'scheduler'>): number {
  return m.prompts.length * m.seeds.length * (m.steps?.length ?? 1) * (m.guidance?.length ?? 1) * (m.scheduler?.length ?? 1);
}

/**
 * Validates a batch request and resolves every child against the model catalog, exactly as
 * `POST /v1/jobs` would. Throws `JobSpecError` listing each problem once, with the field path
 * of the request that caused it (`matrix.prompts.2`, `jobs.7.output.format`, `parallel.stages`).
 */
export function resolveBatchRequest(input: unknown, catalog: ModelCatalog, drawSeed: () => number = randomSeed): BatchPlan {
  const parsed = batchRequestSchema.safeParse(input);
  if (!parsed.success) throw new JobSpecError(toSpecIssues(parsed.error, input).slice(0, MAX_ISSUES));
  const req = parsed.data;
  if ((req.jobs === undefined) === (req.matrix === undefined)) {
    throw new JobSpecError([
      req.jobs === undefined
        ? { field: 'jobs', code: 'required', message: 'send either "jobs" (a list of job specs) or "matrix" (prompts × seeds × parameter lists)' }
        : { field: 'matrix', code: 'invalid_value', message: 'send either "jobs" or "matrix", not both' },
    ]);
  }
  const issues = new IssueSet();
  const shared = { ...(req.parallel !== undefined && { parallel: req.parallel }), ...(req.priority !== undefined && { priority: req.priority }) };
  const children: JobSpec[] = [];
  const resolve = (childInput: Record<string, unknown>, fieldOf: (field: string) => string): void => {
    try {
      children.push(resolveJobSpec({ ...childInput, ...shared }, catalog, drawSeed));
    } catch (err) {
      if (!(err instanceof JobSpecError)) throw err;
      for (const issue of err.issues) issues.add({ ...issue, field: issue.field.startsWith('parallel') ? issue.field : fieldOf(issue.field) });
    }
  };

  if (req.matrix) {
    const m = req.matrix;
    const size = matrixSize(m);
    if (size > BATCH_LIMITS.children) {
      throw new JobSpecError([{ field: 'matrix', code: 'too_big', message: `the matrix expands to ${size} jobs; a batch holds at most ${BATCH_LIMITS.children}` }]);
    }
    const axis = <T>(values: readonly T[] | undefined): ReadonlyArray<T | undefined> => values ?? [undefined];
    m.prompts.forEach((prompt, pi) => {
      m.seeds.forEach((seed, si) => {
        axis(m.steps).forEach((steps, ki) => {
          axis(m.guidance).forEach((guidance, gi) => {
            axis(m.scheduler).forEach((scheduler, ci) => {
              if (issues.full) return;
              const child = {
                type: m.type,
                model: m.model,
                prompt,
                seed,
                ...(steps !== undefined && { steps }),
                ...(guidance !== undefined && { guidance }),
                ...(scheduler !== undefined && { scheduler }),
                ...(m.count !== undefined && { count: m.count }),
                ...(m.output !== undefined && { output: m.output }),
              };
              const fieldOf = (field: string): string => {
                switch (field) {
                  case 'prompt':
                    return `matrix.prompts.${pi}`;
                  case 'seed':
                    return `matrix.seeds.${si}`;
                  case 'steps':
                    return `matrix.steps.${ki}`;
                  case 'guidance':
                    return `matrix.guidance.${gi}`;
                  case 'scheduler':
                    return `matrix.scheduler.${ci}`;
                  default:
                    return `matrix.${field}`;
                }
              };
              resolve(child, fieldOf);
            });
          });
        });
      });
    });
  } else {
    const jobs = req.jobs ?? [];
    const kind = jobs[0]?.type;
    jobs.forEach((item, i) => {
      if (issues.full) return;
      if (item.type !== kind) issues.add({ field: `jobs.${i}.type`, code: 'mixed_types', message: `all jobs of a batch have one type; jobs.0 is ${kind ?? '?'}` });
      resolve(item, (field) => `jobs.${i}.${field}`);
    });
  }
  if (issues.size) throw new JobSpecError(issues.list());

  const first = children[0];
  if (!first) throw new JobSpecError([{ field: 'jobs', code: 'too_small', message: 'a batch needs at least one job' }]);
  const models = new Set(children.map((c) => c.model));
  return {
    kind: first.type,
    model: models.size === 1 ? first.model : null,
    ...(req.name !== undefined && { name: req.name }),
    priority: first.priority,
    parallel: first.parallel,
    ...(req.webhook !== undefined && { webhook: req.webhook }),
    children,
    request: req,
  };
}

/** Issues de-duplicated by field and code (a bad prompt in a matrix is reported once, not per seed). */
class IssueSet {
  private readonly byKey = new Map<string, SpecIssue>();
  add(issue: SpecIssue): void {
    const key = `${issue.field}\n${issue.code}`;
    if (!this.byKey.has(key) && this.byKey.size < MAX_ISSUES) this.byKey.set(key, issue);
  }
  get size(): number {
    return this.byKey.size;
  }
  get full(): boolean {
    return this.byKey.size >= MAX_ISSUES;
  }
  list(): SpecIssue[] {
    return [...this.byKey.values()];
  }
}
