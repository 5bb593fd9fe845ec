import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

import type { Unsubscribe } from './event-bus.js';
import type { JobEvent } from './events.js';
import type { JobRecord } from './job-record.js';
import type { JobKind } from './job-spec.js';
import type { JobPage } from './job-store.js';
import type { KeyLayout } from './keys.js';
import type { JobStatus } from './lifecycle.js';
import type { ModelCatalog } from './model-catalog.js';
import type { QueueOptions, ResolvedQueueOptions } from './options.js';
import type { WebhookJobData } from './webhook-queue.js';

/** Options of `createJobClient`. */
export interface JobClientOptions extends QueueOptions {
  /** Models jobs may use. @defaultValue the shipped packages under `models/` */
  models?: ModelCatalog;
  /** Where background failures (event publishing, webhook scheduling) are reported. @defaultValue ignore */
  onError?: (err: unknown) => void;
}

/** Per-request submit settings. */
export interface SubmitOptions {
  /** Client-chosen key: a repeat within `idempotencyTtlSec` returns the first job. */
  idempotencyKey?: string;
  /** Namespace of the key (the API key's id), so two clients' keys never collide. */
  scope?: string;
  /** Batch the job belongs to (issue 5). */
  batchId?: string;
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
  readonly redis: Redis;
  /** Validates `input` (throws `JobSpecError`), records the job and enqueues it. */
  submit(input: unknown, options?: SubmitOptions): Promise<SubmitResult>;
  /** The record, reconciled with BullMQ when it has been quiet for a while; undefined if unknown. */
  get(id: string): Promise<JobRecord | undefined>;
  /** 1-based place in its queue while queued (1 = next); null when not waiting in line. */
  queuePosition(job: JobRecord): Promise<number | null>;
  list(query: ListJobsQuery): Promise<JobPage>;
  /** Idempotent. Queued jobs end at once; running ones are signalled. Throws `JobNotFoundError`. */
  cancel(id: string): Promise<CancelResult>;
  queueCounts(): Promise<Record<JobKind, QueueStateCounts>>;
  /** `<kind>:<status>` → number of jobs that ended so. */
  terminalCounts(): Promise<Record<string, number>>;
  onEvent(listener: (event: JobEvent) => void): Promise<Unsubscribe>;
  /** The BullMQ queues (job kinds and webhooks), for dashboards such as bull-board. */
  bullQueues(): readonly Queue[];
  readonly webhookQueue: Queue<WebhookJobData>;
  /** Throws unless Redis answers. */
  ping(): Promise<void>;
  /** Repeat-safe. */
  close(): Promise<void>;
}
