import type { JobPreview } from '../domain/events.js';
import type { JobOutput, JobRecord, JobWarning } from '../domain/job-record.js';
import type { JobKind } from '../domain/job-spec.js';
import type { QueueOptions } from './options.js';

/** What a handler gets for one run of one job. */
export interface JobHandlerContext {
  /** The record as the run started (status `running`, `attempts` counts this run). */
  readonly job: JobRecord;
  /**
   * Aborts when the job is canceled (`reason`: `JobCanceledError`), when the worker shuts down
   * (`WorkerShutdownError`: the job goes back to the queue) or when another host took the job
   * over (`LeaseLostError`). Check it at least once per step and stop by throwing.
   */
  readonly signal: AbortSignal;
  /**
   * Records that `step` of `steps` is done (store + `progress` event) and checks for a cancel
   * request. Never rejects; awaiting it is optional but keeps writes in order.
   */
  reportProgress(step: number, steps: number, extra?: { phase?: string }): Promise<void>;
  /**
   * Publishes a live preview (a `preview` event; nothing is stored). Best effort and out of band:
   * not ordered with progress writes, skipped once the run is stopped, never rejects.
   */
  reportPreview(preview: JobPreview): Promise<void>;
}

/** What a successful run returns: its stored outputs (deterministic keys) and timings in ms. */
export interface JobHandlerResult {
  readonly outputs: readonly JobOutput[];
  readonly timings?: Readonly<Record<string, number>>;
  /** Kept on the record (and shown by the API): e.g. a prompt truncated to 77 tokens. */
  readonly warnings?: readonly JobWarning[];
  /**
   * When the outputs expire (ms), as the run wrote it into its sidecar: `finishedAt +
   * job.outputRetentionSec`. Only used for jobs with a retention; without it the transition
   * computes the same from its own clock.
   */
  readonly expiresAt?: number;
}

/**
 * Runs one job. Must not block the event loop (models run in stage processes or worker threads),
 * or BullMQ cannot renew the job's lock. Throw `JobFailureError` (or any error with
 * `retryable: false`) to fail without retries; other errors are retried with backoff.
 */
export type JobHandler = (context: JobHandlerContext) => Promise<JobHandlerResult>;

/** Options of `createJobWorker`. */
export interface JobWorkerOptions extends QueueOptions {
  /** Which queue to take jobs from. */
  queue: JobKind;
  handler: JobHandler;
  /** Shown in records and events. @defaultValue `<hostname>/<pid>` */
  hostId?: string;
  /** Jobs run at once by this worker (a replica group runs one). @defaultValue 1 */
  concurrency?: number;
  /** BullMQ lock lifetime; renewed every half of it while the event loop is free. @defaultValue 30000 */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (whose lock expired). @defaultValue 30000 */
  stalledIntervalMs?: number;
  /** Stalls a job survives (each re-delivers it) before BullMQ fails it. @defaultValue 2 */
  maxStalledCount?: number;
  /** On `close()`, how long running handlers may finish before they are aborted and handed back. @defaultValue 0 */
  shutdownGraceMs?: number;
  /** Start taking jobs at once. @defaultValue true */
  autorun?: boolean;
  /**
   * At most one progress write (record + event) per job this often, ms; the newest step of an
   * interval is written when it ends, a new phase and the last step at once. 0: every step.
   * @defaultValue 0
   */
  progressIntervalMs?: number;
  /** Where background failures are reported. @defaultValue ignore */
  onError?: (err: unknown) => void;
}

/** `JobWorkerOptions` with defaults applied (queue settings are resolved separately). */
export interface ResolvedJobWorkerOptions {
  readonly queue: JobKind;
  readonly hostId: string;
  readonly concurrency: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly maxStalledCount: number;
  readonly shutdownGraceMs: number;
  readonly autorun: boolean;
  readonly progressIntervalMs: number;
}

/** A running worker of the GPU-host side. */
export interface JobWorker {
  readonly hostId: string;
  readonly kind: JobKind;
  /** Ids of the jobs this worker is running now. */
  activeJobs(): string[];
  /** Resolves once the worker is connected and listening for cancels. */
  waitUntilReady(): Promise<void>;
  /** Starts taking jobs (when created with `autorun: false`). */
  run(): void;
  /**
   * Stops taking jobs, lets running handlers finish for `graceMs` (default `shutdownGraceMs`),
   * then aborts them: their jobs go back to the queue, untouched by failure counts. Repeat-safe.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}
