import type { Queue } from 'bullmq';

import type { Unsubscribe } from './event-bus.js';
import type { JobEvent } from '../domain/events.js';
import type { JobRecord } from '../domain/job-record.js';
import type { JobKind } from '../domain/job-spec.js';
import type { JobPage } from './job-store.js';
import type { KeyLayout } from './keys.js';
import type { JobStatus } from '../domain/lifecycle.js';
import type { ModelCatalog } from '../domain/model-catalog.js';
import type { QueueOptions, ResolvedQueueOptions } from './options.js';
import type { WebhookJobData } from './webhook-queue.js';
import type { WebhookTargetGuard } from '../domain/webhook-target-guard.js';
import type { AdmitWork, WorkLimits } from '../domain/work-units.js';
import type { RedisClient } from './redis.js';

/** Options of `createJobClient`. */
export interface JobClientOptions extends QueueOptions {
  /** Models jobs may use. @defaultValue the shipped packages under `models/` */
  models?: ModelCatalog;
  /** Where background failures (event publishing, webhook scheduling) are reported. @defaultValue ignore */
  onError?: (err: unknown) => void;
  /**
   * Vets `webhook` URLs at submit (jobs and batches).
   * @defaultValue `createWebhookTargetGuard()`: public addresses only, names resolved by the system resolver
   */
  webhookGuard?: WebhookTargetGuard;
}

/** What one reconciliation pass did. */
export interface ReconcileReport {
  /** Quiet queued/running records looked up in BullMQ. */
  readonly checked: number;
  /** Records moved to `failed` (their BullMQ job had failed or was gone). */
  readonly failed: number;
}

/** Per-request submit settings. */
export interface SubmitOptions {
  /** Client-chosen key: a repeat within `idempotencyTtlSec` returns the first job. */
  idempotencyKey?: string;
  /** Namespace of the key (the owner id), so two clients' keys never collide. */
  scope?: string;
  /** Batch the job belongs to (issue 5). */
  batchId?: string;
  /** Who submits (`ownerIdOfKey`). @defaultValue `anonymous` */
  owner?: string;
  /** Queued-work caps to admit the job under. @defaultValue no caps */
  workLimits?: WorkLimits;
  /** Called with the job's work units once it is valid, before it is recorded; throw to refuse. */
  admit?: AdmitWork;
  /** Keep the job's outputs this long after it ends (seconds; stamped on the record). @defaultValue kept until removed by hand */
  outputRetentionSec?: number;
}

/** `created: false` when an Idempotency-Key returned an existing job. */
export interface SubmitResult {
  readonly job: JobRecord;
  readonly created: boolean;
}

/** `pending: true` while a running job was asked to stop and its worker has not yet ended it. */
export interface CancelResult {
  readonly job: JobRecord;
  readonly pending: boolean;
}

/** A listing request; `limit` 1…100. */
export interface ListJobsQuery {
  readonly status?: JobStatus;
  readonly cursor?: string;
  readonly limit: number;
  /** Only this owner's jobs. @defaultValue everyone's */
  readonly owner?: string;
}

/** BullMQ job counts of one queue, by BullMQ state. */
export type QueueStateCounts = Readonly<Record<'waiting' | 'prioritized' | 'delayed' | 'active' | 'completed' | 'failed' | 'paused', number>>;

/**
 * The producer side of the fleet, used by the API (and later the CLI and batches): validates and
 * enqueues jobs, reads records, cancels, counts, streams events. Never runs models.
 */
export interface JobClient {
  readonly options: ResolvedQueueOptions;
  readonly keys: KeyLayout;
  readonly models: ModelCatalog;
  /** The command connection (shared with e.g. the API's rate limiter). */
  readonly redis: RedisClient;
  /** Validates `input` (throws `JobSpecError`), records the job and enqueues it. */
  submit(input: unknown, options?: SubmitOptions): Promise<SubmitResult>;
  /** The record, reconciled with BullMQ when it has been quiet for a while; undefined if unknown. */
  get(id: string): Promise<JobRecord | undefined>;
  /**
   * One background pass over queued and running records quiet for `reconcileAfterMs`: a record
   * whose BullMQ job failed outside our handler (`STALLED`: stalled too often; `QUEUE_FAILED`) or
   * is gone (`JOB_LOST`: never enqueued, or removed) ends `failed` through the ordinary
   * transition, so SSE streams and the webhook outbox hear it. Looks at up to `limit` records per
   * status, continuing where the previous pass stopped.
   */
  reconcile(options?: { limit?: number }): Promise<ReconcileReport>;
  /** 1-based place in its queue while queued (1 = next); null when not waiting in line. */
  queuePosition(job: JobRecord): Promise<number | null>;
  list(query: ListJobsQuery): Promise<JobPage>;
  /** Idempotent. Queued jobs end at once; running ones are signalled. Throws `JobNotFoundError`. */
  cancel(id: string): Promise<CancelResult>;
  queueCounts(): Promise<Record<JobKind, QueueStateCounts>>;
  /** `<kind>:<status>` → number of jobs that ended so. */
  terminalCounts(): Promise<Record<string, number>>;
  onEvent(listener: (event: JobEvent) => void): Promise<Unsubscribe>;
  /** Events of one job only (routed by id, so a busy fleet does not wake every stream). */
  onJobEvents(jobId: string, listener: (event: JobEvent) => void): Promise<Unsubscribe>;
  /** Called when the event subscription is back after a lost connection: events published meanwhile are gone, re-read what matters. */
  onResync(listener: () => void): Unsubscribe;
  /** Work units of jobs not yet ended: one owner's, and everyone's. */
  queuedWork(owner: string): Promise<{ readonly owner: number; readonly total: number }>;
  /** The BullMQ queues (job kinds and webhooks), for dashboards such as bull-board. */
  bullQueues(): readonly Queue[];
  readonly webhookQueue: Queue<WebhookJobData>;
  /** The guard `submit` vets webhook URLs with (batches use it too). */
  readonly webhookGuard: WebhookTargetGuard;
  /** Throws unless Redis answers. */
  ping(): Promise<void>;
  /** Repeat-safe. */
  close(): Promise<void>;
}
