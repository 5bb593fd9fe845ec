import { COMPENSATIONS } from '@asyncdiff/asyncdiff';
import { z } from 'zod';

import type { JobErrorInfo, JobOutput } from './job-record.js';
import { JOB_PARALLEL_MODES, QUALITY_BUDGETS, type JobKind, type JobSpec, type ParallelSpec } from './job-spec.js';
import { JOB_STATUSES, type JobStatus } from './lifecycle.js';

/**
 * A batch's lifecycle as clients see it:
 * - `queued`: no child has started yet.
 * - `running`: at least one child started (or ended) and some have not ended.
 * - `finalizing`: every child ended; the manifest and contact sheet are being written.
 * - `completed`: every child succeeded. `completed_with_errors`: every child ended, some failed
 *   or were canceled. `canceled`: the batch was canceled (whatever had finished stays).
 * `retry-failed` reopens a finished batch: it goes back to `queued`/`running`.
 */
export type BatchStatus = 'queued' | 'running' | 'finalizing' | 'completed' | 'completed_with_errors' | 'canceled';
/** Every batch status. */
export const BATCH_STATUSES: readonly BatchStatus[] = ['queued', 'running', 'finalizing', 'completed', 'completed_with_errors', 'canceled'];
/** The states a finished batch can be in. */
export type BatchFinalStatus = Extract<BatchStatus, 'completed' | 'completed_with_errors' | 'canceled'>;
/** The final states, for membership checks and metrics. */
export const BATCH_FINAL_STATUSES: readonly BatchFinalStatus[] = ['completed', 'completed_with_errors', 'canceled'];

/** Children by job status. */
export type BatchCounts = Readonly<Record<JobStatus, number>> & { readonly total: number };

/** Current children by status, kept on the batch record at every child transition. */
export type BatchChildCounters = Readonly<Record<JobStatus, number>>;

/**
 * What Redis stores for a batch (`<prefix>:batch:<id>`): the request, the finalisation outcome,
 * and counters of its current children by status (updated atomically with each child's
 * transition), so listings never read children. `GET /v1/batches/:id` still reads the children
 * for its exact progress, ETA and failed list.
 */
export interface BatchRecord {
  readonly id: string;
  readonly name?: string;
  readonly kind: JobKind;
  /** The model when all children share one. */
  readonly model: string | null;
  readonly total: number;
  readonly priority: number;
  readonly parallel: ParallelSpec;
  readonly webhook?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** `open` until finalised; then the final status (until a retry reopens it). */
  readonly state: 'open' | BatchFinalStatus;
  /** Flow rounds: 1 at submission, +1 per `retry-failed`. */
  readonly round: number;
  readonly finishedAt?: number;
  readonly cancelRequestedAt?: number;
  readonly manifestKey?: string;
  readonly contactSheetKey?: string;
  /** Why the contact sheet (not the manifest) could not be made, when it could not. */
  readonly finalizeError?: JobErrorInfo;
  /** Who submitted it (see `JobRecord.owner`); absent on batches from before owners existed. */
  readonly owner?: string;
  /** Work units of its children at submission (see `workUnits`). */
  readonly work?: number;
  /** Children by status (absent on batches from before the counters existed). */
  readonly counters?: BatchChildCounters;
  /** When the first child started, and the last one ended (epoch ms; from the counters' upkeep). */
  readonly firstStartedAt?: number;
  readonly lastFinishedAt?: number;
}

/** The fields of one child that batch summaries and manifests use. */
export interface BatchChild {
  /** Position in the batch (matrix order, or the order of `jobs`). */
  readonly index: number;
  readonly jobId: string;
  readonly status: JobStatus;
  readonly spec?: JobSpec;
  readonly percent: number;
  readonly createdAt?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly attempts: number;
  readonly host?: string;
  readonly error?: JobErrorInfo;
  readonly outputs: readonly JobOutput[];
  readonly timings: Readonly<Record<string, number>>;
  readonly retryOf?: string;
}

/** A batch with its live numbers, as `GET /v1/batches/:id` reports it. */
export interface BatchSummary {
  readonly record: BatchRecord;
  readonly status: BatchStatus;
  readonly counts: BatchCounts;
  /** 0…100 (one decimal): ended children plus the done fraction of running ones. */
  readonly percent: number;
  /** First child start, last child end (epoch ms). */
  readonly startedAt?: number;
  readonly lastFinishedAt?: number;
  /** Estimated ms until every child has ended (from the completion rate so far); null when unknown. */
  readonly etaMs: number | null;
  /** Failed children (first `failedLimit`), with their errors. */
  readonly failed: ReadonlyArray<{ readonly index: number; readonly jobId: string; readonly error: JobErrorInfo | null }>;
}

const parallelSchema = z.object({
  mode: z.enum(JOB_PARALLEL_MODES),
  quality: z.enum(QUALITY_BUDGETS).optional(),
  stages: z.number().int().positive().optional(),
  stride: z.union([z.literal(1), z.literal(2)]).optional(),
  warmup: z.number().int().positive().optional(),
  timeShift: z.boolean(),
  compensation: z.enum(COMPENSATIONS).optional(),
});
const errorSchema = z.object({ code: z.string(), message: z.string() });
const stateSchema = z.enum(['open', 'completed', 'completed_with_errors', 'canceled']);

/** Redis hash fields of a new batch. */
export function batchToHash(b: BatchRecord): Record<string, string> {
  const out: Record<string, string> = {
    id: b.id,
    kind: b.kind,
    model: b.model ?? '',
    total: String(b.total),
    priority: String(b.priority),
    parallel: JSON.stringify(b.parallel),
    createdAt: String(b.createdAt),
    updatedAt: String(b.updatedAt),
    state: b.state,
    round: String(b.round),
  };
  if (b.name !== undefined) out['name'] = b.name;
  if (b.webhook !== undefined) out['webhook'] = b.webhook;
  if (b.owner !== undefined) out['owner'] = b.owner;
  if (b.work !== undefined) out['work'] = String(b.work);
  if (b.counters !== undefined) for (const s of JOB_STATUSES) out[`n:${s}`] = String(b.counters[s]);
  return out;
}

/** Reads a batch hash back (undefined when missing or corrupt). */
export function batchFromHash(hash: Record<string, string>): BatchRecord | undefined {
  const { id, kind } = hash;
  const state = stateSchema.safeParse(hash['state']);
  const parallel = parallelSchema.safeParse(parseJson(hash['parallel']));
  if (!id || (kind !== 'image' && kind !== 'video') || !state.success || !parallel.success) return undefined;
  const num = (name: string): number | undefined => (hash[name] ? Number(hash[name]) : undefined);
  const error = hash['finalizeError'] ? errorSchema.safeParse(parseJson(hash['finalizeError'])) : undefined;
  return {
    id,
    kind,
    model: hash['model'] || null,
    total: num('total') ?? 0,
    priority: num('priority') ?? 0,
    parallel: parallel.data as ParallelSpec,
    createdAt: num('createdAt') ?? 0,
    updatedAt: num('updatedAt') ?? 0,
    state: state.data,
    round: num('round') ?? 1,
    ...(hash['name'] ? { name: hash['name'] } : {}),
    ...(hash['webhook'] ? { webhook: hash['webhook'] } : {}),
    ...(num('finishedAt') !== undefined && { finishedAt: num('finishedAt') as number }),
    ...(num('cancelRequestedAt') !== undefined && { cancelRequestedAt: num('cancelRequestedAt') as number }),
    ...(hash['manifestKey'] ? { manifestKey: hash['manifestKey'] } : {}),
    ...(hash['contactSheetKey'] ? { contactSheetKey: hash['contactSheetKey'] } : {}),
    ...(error?.success ? { finalizeError: error.data } : {}),
    ...(hash['owner'] ? { owner: hash['owner'] } : {}),
    ...(num('work') !== undefined && { work: num('work') as number }),
    ...(hash['n:queued'] !== undefined && { counters: Object.fromEntries(JOB_STATUSES.map((s) => [s, Math.max(0, Number(hash[`n:${s}`] ?? 0))])) as BatchChildCounters }),
    ...(num('firstStartedAt') !== undefined && { firstStartedAt: num('firstStartedAt') as number }),
    ...(num('lastFinishedAt') !== undefined && { lastFinishedAt: num('lastFinishedAt') as number }),
  };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
