import { z } from 'zod';

import { jobSpecSchema, type JobKind, type JobSpec } from './job-spec.js';
import { isJobStatus, type JobStatus } from './lifecycle.js';

/** Where a job is in its denoising loop; `percent` is 0…100 with one decimal. */
export interface JobProgress {
  readonly step: number;
  readonly steps: number;
  readonly percent: number;
  /** Free-form stage of the work (`warmup`, `denoise`, `encode`, `upload`). */
  readonly phase?: string;
}

/** What one output file is: a generated image/video, or the JSON sidecar describing the run. */
export type OutputKind = 'image' | 'video' | 'sidecar';

/** One stored output. `key` is deterministic per job (see `outputKey`), so retries overwrite. */
export interface JobOutput {
  readonly key: string;
  readonly contentType: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly kind: OutputKind;
}

/** Why a job failed: a stable code and a human message. */
export interface JobErrorInfo {
  readonly code: string;
  readonly message: string;
}

/**
 * Something about a succeeded job its submitter should know (the prompt was truncated to the
 * text encoder's 77 tokens, …): a stable `code`, the request `field` it concerns, a message.
 */
export interface JobWarning {
  readonly code: string;
  readonly field: string;
  readonly message: string;
}

/**
 * A job as the service reports it: its own Redis hash (`<prefix>:job:<id>`), kept `recordTtlSec`
 * after its last change, independent of BullMQ's retention. Times are epoch milliseconds.
 */
export interface JobRecord {
  readonly id: string;
  readonly kind: JobKind;
  readonly spec: JobSpec;
  readonly status: JobStatus;
  readonly progress: JobProgress;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  /** Durations in milliseconds: `queueMs`, `runMs`, plus whatever the handler measured. */
  readonly timings: Readonly<Record<string, number>>;
  /** How many times a worker has started this job (hand-backs and retries included). */
  readonly attempts: number;
  readonly outputs: readonly JobOutput[];
  /** What the run noticed about the request (e.g. `PROMPT_TRUNCATED`); empty for most jobs. */
  readonly warnings?: readonly JobWarning[];
  readonly error?: JobErrorInfo;
  /** Host id of the worker that runs (or last ran) the job. */
  readonly host?: string;
  /** Identifies the current run; only the worker holding it may write progress or finish it. */
  readonly runId?: string;
  readonly cancelRequestedAt?: number;
  /** Batch this job belongs to (a child of a BullMQ flow whose parent finalises the batch). */
  readonly batchId?: string;
  /** The failed/canceled job this one re-runs (same spec, new id). */
  readonly retryOf?: string;
  /** The job that re-runs this failed/canceled one (set once, so a job is retried at most once). */
  readonly retriedBy?: string;
  /**
   * Who submitted it (`ownerIdOfKey`, or `anonymous` without API keys): only that owner (and
   * admins) see the job. Absent on records written before owners existed (admins only).
   */
  readonly owner?: string;
  /** Its cost in work units (`workUnits`), counted as queued work until it ends. */
  readonly work?: number;
  /**
   * How long its outputs are kept after it ends (the API's `OUTPUT_RETENTION_DAYS` when it was
   * submitted, in seconds); absent: kept until removed by hand.
   */
  readonly outputRetentionSec?: number;
  /** When its outputs expire and the output sweeper removes them (ms); set when it ends, with a retention. */
  readonly expiresAt?: number;
}

/** A record as written from now on: with its owner and cost (older records may lack them). */
export type OwnedRecord = JobRecord & { readonly owner: string; readonly work: number };

/** zod schema of one output (the worker validates what a handler returns with it). */
export const jobOutputSchema = z.object({
  key: z.string().min(1).max(1024),
  contentType: z.string().min(1).max(255),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  kind: z.enum(['image', 'video', 'sidecar']),
});

const progressSchema = z.object({
  step: z.number(),
  steps: z.number(),
  percent: z.number(),
  phase: z.string().optional(),
});
const errorSchema = z.object({ code: z.string(), message: z.string() });

/** zod schema of a run's warnings (the worker validates what a handler returns with it). */
export const jobWarningsSchema = z.array(z.object({ code: z.string().min(1).max(64), field: z.string().max(128), message: z.string().max(2000) })).max(16);

/** Progress of a job that has not started. */
export function initialProgress(steps: number): JobProgress {
  return { step: 0, steps, percent: 0 };
}

/** Progress after `step` of `steps` (clamped, percent rounded to 0.1). */
export function makeProgress(step: number, steps: number, phase?: string): JobProgress {
  const total = Math.max(1, Math.floor(steps));
  const done = Math.min(total, Math.max(0, Math.floor(step)));
  return { step: done, steps: total, percent: Math.round((done / total) * 1000) / 10, ...(phase !== undefined && { phase }) };
}

/** The Redis hash fields of a new record. */
export function recordToHash(record: JobRecord): Record<string, string> {
  const out: Record<string, string> = {
    id: record.id,
    kind: record.kind,
    spec: JSON.stringify(record.spec),
    status: record.status,
    progress: JSON.stringify(record.progress),
    createdAt: String(record.createdAt),
    updatedAt: String(record.updatedAt),
    timings: JSON.stringify(record.timings),
    attempts: String(record.attempts),
    outputs: JSON.stringify(record.outputs),
  };
  if (record.batchId !== undefined) out['batchId'] = record.batchId;
  if (record.retryOf !== undefined) out['retryOf'] = record.retryOf;
  if (record.owner !== undefined) out['owner'] = record.owner;
  if (record.work !== undefined) out['work'] = String(record.work);
  if (record.outputRetentionSec !== undefined) out['outputRetentionSec'] = String(record.outputRetentionSec);
  return out;
}

/** Reads a record hash back (undefined for a missing or corrupt one). */
export function recordFromHash(hash: Record<string, string>): JobRecord | undefined {
  const { id, kind, status } = hash;
  if (!id || (kind !== 'image' && kind !== 'video') || !isJobStatus(status)) return undefined;
  const spec = jobSpecSchema.safeParse(parseJson(hash['spec']));
  if (!spec.success) return undefined;
  const progress = progressSchema.safeParse(parseJson(hash['progress']));
  const outputs = z.array(jobOutputSchema).safeParse(parseJson(hash['outputs']));
  const timings = z.record(z.string(), z.number()).safeParse(parseJson(hash['timings']));
  const error = hash['error'] ? errorSchema.safeParse(parseJson(hash['error'])) : undefined;
  const warnings = hash['warnings'] ? jobWarningsSchema.safeParse(parseJson(hash['warnings'])) : undefined;
  const num = (name: string): number | undefined => (hash[name] ? Number(hash[name]) : undefined);
  const spec_ = spec.data as JobSpec;
  return {
    id,
    kind,
    spec: spec_,
    status,
    progress: progress.success ? (progress.data as JobProgress) : initialProgress(spec_.steps),
    createdAt: num('createdAt') ?? 0,
    updatedAt: num('updatedAt') ?? 0,
    ...optional('startedAt', num('startedAt')),
    ...optional('finishedAt', num('finishedAt')),
    timings: timings.success ? timings.data : {},
    attempts: num('attempts') ?? 0,
    outputs: outputs.success ? outputs.data : [],
    ...optional('error', error?.success ? error.data : undefined),
    ...optional('warnings', warnings?.success && warnings.data.length > 0 ? warnings.data : undefined),
    ...optional('host', hash['host'] || undefined),
    ...optional('runId', hash['runId'] || undefined),
    ...optional('cancelRequestedAt', num('cancelRequestedAt')),
    ...optional('batchId', hash['batchId'] || undefined),
    ...optional('retryOf', hash['retryOf'] || undefined),
    ...optional('retriedBy', hash['retriedBy'] || undefined),
    ...optional('owner', hash['owner'] || undefined),
    ...optional('work', num('work')),
    ...optional('outputRetentionSec', num('outputRetentionSec')),
    ...optional('expiresAt', num('expiresAt')),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
