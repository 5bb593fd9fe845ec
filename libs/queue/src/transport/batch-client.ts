import type { Queue } from 'bullmq';

import type { BatchChild, BatchCounts, BatchFinalStatus, BatchRecord, BatchSummary } from '../domain/batch-record.js';
import type { BatchRequest } from '../domain/batch-spec.js';
import type { JobClient } from './job-client.js';
import type { JobErrorInfo, JobRecord } from '../domain/job-record.js';
import type { JobStatus } from '../domain/lifecycle.js';
import type { AdmitWork, WorkLimits } from '../domain/work-units.js';

/** Options of `createBatchClient`. */
export interface BatchClientOptions {
  /** The job client whose connection, key prefix, queues and models the batches share. */
  readonly jobs: JobClient;
  /** Where background failures are reported. @defaultValue the job client's `onError`, else ignore */
  readonly onError?: (err: unknown) => void;
}

/** Per-request submit settings (as for single jobs: see `SubmitOptions`). */
export interface SubmitBatchOptions {
  readonly idempotencyKey?: string;
  readonly scope?: string;
  /** Who submits; every child is theirs too. @defaultValue `anonymous` */
  readonly owner?: string;
  /** Caps the whole batch's work is admitted under, at once. @defaultValue no caps */
  readonly workLimits?: WorkLimits;
  /** Called with the batch's total work units once it is valid, before anything is written. */
  readonly admit?: AdmitWork;
}

/** `created: false` when an Idempotency-Key returned an existing batch. */
export interface SubmitBatchResult {
  readonly batch: BatchRecord;
  readonly created: boolean;
}

/** A page of a batch's children, in child-index order. */
export interface BatchChildPage {
  readonly jobs: ReadonlyArray<{ readonly index: number; readonly record: JobRecord }>;
  readonly nextCursor: string | null;
}

/** One page of batches, newest first. */
export interface BatchPage {
  readonly batches: readonly BatchRecord[];
  readonly nextCursor: string | null;
}

/** A child replaced by a retry. */
export interface RetriedChild {
  readonly index: number;
  readonly previousJobId: string;
  readonly jobId: string;
}

/** What the finaliser works from: the batch, its request and every child, all ended. */
export interface FinalizationInput {
  readonly record: BatchRecord;
  readonly request: BatchRequest | null;
  readonly children: readonly BatchChild[];
  readonly counts: BatchCounts;
  readonly status: BatchFinalStatus;
  /** Earlier job ids of each current child (retry chains), oldest first. */
  readonly previousJobIds: ReadonlyMap<string, readonly string[]>;
}

/** What the finaliser stored. */
export interface FinalizationOutcome {
  readonly manifestKey: string;
  readonly contactSheetKey?: string;
  /** Set when the contact sheet could not be made (the manifest still was). */
  readonly error?: JobErrorInfo;
}

/**
 * Batches of jobs, run as BullMQ flows: a parent job in the `batches` queue whose children are
 * ordinary jobs of the `image`/`video` queues (with their own records carrying `batchId`, so
 * `GET /v1/jobs/:id` works for them). A child's failure never blocks the parent
 * (`ignoreDependencyOnFailure`); when every child has ended the parent runs the finaliser
 * (`startBatchWorker`), which writes the manifest and contact sheet and closes the batch.
 */
export interface BatchClient {
  /** BullMQ queue of the parent jobs (for dashboards). */
  readonly queue: Queue;
  /** Validates (throws `JobSpecError` naming fields), records every child and adds the flow. */
  submit(input: unknown, options?: SubmitBatchOptions): Promise<SubmitBatchResult>;
  get(id: string): Promise<BatchRecord | undefined>;
  /** The stored request (the validated body). */
  request(id: string): Promise<BatchRequest | undefined>;
  /** Record plus live counts, progress, ETA and failed children; undefined if unknown. */
  summary(id: string, options?: { failedLimit?: number }): Promise<BatchSummary | undefined>;
  /** Every current child (light fields). Throws `BatchNotFoundError`. */
  children(id: string): Promise<BatchChild[]>;
  /** A page of children, optionally only those in `status`. Throws `BatchNotFoundError`. */
  listChildren(id: string, query: { status?: JobStatus; cursor?: string; limit: number }): Promise<BatchChildPage>;
  /** Batches, newest first (with `owner`, only theirs); records carry their child counters. */
  list(query: { cursor?: string; limit: number; owner?: string }): Promise<BatchPage>;
  /**
   * Cancels every child that has not ended (queued ones at once, running ones within a step);
   * the batch ends `canceled` once they have. Idempotent. `pending`: running children signalled.
   */
  cancel(id: string): Promise<{ readonly summary: BatchSummary; readonly pending: number }>;
  /** Re-runs failed children (and canceled ones if asked) as new jobs in a new flow round. */
  retryFailed(id: string, options?: { include?: ReadonlyArray<'failed' | 'canceled'> }): Promise<{ readonly retried: readonly RetriedChild[]; readonly summary: BatchSummary }>;
  /**
   * Re-runs one failed or canceled job as a new job with the same spec (in its batch, if it has
   * one). A job is retried at most once: a repeat returns the retry already made.
   */
  retryJob(id: string): Promise<{ readonly job: JobRecord; readonly created: boolean }>;
  /** For the finaliser: every child ended? Then everything needed to finalise. */
  prepareFinalization(id: string): Promise<FinalizationInput | undefined>;
  /** Closes the batch unless a retry reopened it meanwhile; schedules its webhook. */
  commitFinalization(input: FinalizationInput, outcome: FinalizationOutcome): Promise<boolean>;
  /**
   * Safety net for flows BullMQ can no longer complete (a child's BullMQ job was lost or removed
   * by hand): every open batch among the newest `limit` whose children have all ended and that
   * has not changed for `quietMs` gets a childless finalise job. Returns how many were queued.
   */
  sweep(options?: { quietMs?: number; limit?: number }): Promise<number>;
  /** Counts of batches by `open` and final state (for metrics). */
  stateCounts(): Promise<Record<'open' | BatchFinalStatus, number>>;
  close(): Promise<void>;
}
