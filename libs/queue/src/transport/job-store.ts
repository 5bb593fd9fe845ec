import type { JobProgress, JobRecord, OwnedRecord } from '../domain/job-record.js';
import type { JobStatus } from '../domain/lifecycle.js';
import type { WorkLimits } from '../domain/work-units.js';

/** An Idempotency-Key claim: the key (already scoped and hashed) and a hash of the request. */
export interface IdempotencyClaim {
  readonly keyHash: string;
  readonly requestHash: string;
}

/** Result of `create`: a new record, the job an Idempotency-Key already named, or a refusal by a work cap. */
export type CreateResult =
  | { readonly created: true; readonly record: JobRecord }
  | { readonly created: false; readonly existingId: string; readonly requestHash: string }
  | { readonly created: false; readonly refused: 'owner' | 'total'; readonly queuedUnits: number };

/** What a transition writes besides the status. */
export interface TransitionChanges {
  /** Only the run holding the job may make this transition. */
  readonly runId?: string;
  readonly set?: Readonly<Record<string, string | number | object>>;
  readonly remove?: readonly string[];
  readonly incrementAttempts?: boolean;
}

/** Result of a guarded transition. */
export type TransitionResult =
  | {
      readonly ok: true;
      readonly previous: JobStatus;
      readonly record: JobRecord;
      /** The webhook delivery the transition put in the outbox (terminal states of jobs with a webhook), to relay at once. */
      readonly webhookOutboxItem?: string;
    }
  | { readonly ok: false; readonly reason: 'missing' | 'status' | 'run'; readonly status?: JobStatus };

/** One page of a listing. `nextCursor` continues after its last job (null: no more). */
export interface JobPage {
  readonly jobs: readonly JobRecord[];
  readonly nextCursor: string | null;
}

/**
 * Job records in Redis: the source of truth for status, progress and outputs, independent of
 * BullMQ's retention. Every write goes through a guarded Lua script, so concurrent API processes
 * and workers cannot make an illegal transition.
 */
export interface JobStore {
  /**
   * Records a new job (its `owner` and `work` fields must be set) and counts its work as queued,
   * unless `limits` refuse it; without `limits` no cap applies (retries of admitted work).
   */
  create(record: OwnedRecord, idempotency?: IdempotencyClaim, limits?: WorkLimits): Promise<CreateResult>;
  get(id: string): Promise<JobRecord | undefined>;
  /**
   * Newest first; `cursor` is opaque (from a previous page) and must match `status`. With `owner`
   * only that owner's jobs (from the owner's own index).
   */
  list(query: { status?: JobStatus; cursor?: string; limit: number; owner?: string }): Promise<JobPage>;
  transition(id: string, to: JobStatus, changes?: TransitionChanges): Promise<TransitionResult>;
  /** `ok`, `cancel` (a cancel was requested: stop) or `lost` (another run owns the job now). */
  writeProgress(id: string, runId: string, progress: JobProgress): Promise<'ok' | 'cancel' | 'lost'>;
  /** Flags a queued/running job for cancellation; returns its status (undefined: no such job). */
  requestCancel(id: string): Promise<JobStatus | undefined>;
  isCancelRequested(id: string): Promise<boolean>;
  /** Jobs that reached each terminal status, by kind (`image:succeeded` → n), since Redis began. */
  terminalCounts(): Promise<Record<string, number>>;
}
