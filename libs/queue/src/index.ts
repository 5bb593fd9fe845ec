/**
 * @asyncdiff/queue — the contract between the API and GPU hosts: job specs and their validation,
 * the job lifecycle and record (in Redis, outliving BullMQ's retention), BullMQ queues per kind,
 * idempotent submission, cancellation, progress and events, and the worker GPU hosts run.
 */
export {
  EnqueueError,
  errorInfo,
  IdempotencyConflictError,
  InvalidArgumentError,
  InvalidTransitionError,
  isRetryable,
  JobCanceledError,
  JobFailureError,
  JobNotFoundError,
  JobSpecError,
  LeaseLostError,
  QueueError,
  WorkerShutdownError,
  type QueueErrorCode,
  type SpecIssue,
} from './errors.js';
export {
  allowedFrom,
  assertTransition,
  canTransition,
  isJobStatus,
  isTerminal,
  JOB_STATUSES,
  TERMINAL_STATUSES,
  type JobStatus,
  type TerminalJobStatus,
} from './lifecycle.js';
export { isJobId, JOB_ID_PATTERN, JOB_ID_PREFIX, jobIdTime, newJobId } from './job-id.js';
export { BatchNotFoundError, NotRetryableError } from './errors.js';
export { BATCH_ID_PATTERN, BATCH_ID_PREFIX, isBatchId, newBatchId } from './job-id.js';
export {
  JOB_KINDS,
  jobSpecInputSchema,
  jobSpecSchema,
  OUTPUT_FORMATS,
  PARALLEL_MODES,
  randomSeed,
  resolveJobSpec,
  SCHEDULERS,
  SEED_MAX,
  SPEC_LIMITS,
  type JobKind,
  type JobSpec,
  type JobSpecInput,
  type OutputFormat,
  type ParallelMode,
  type ParallelSpec,
  type SchedulerName,
} from './job-spec.js';
export { PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN, toBullPriority } from './priority.js';
export { toSpecIssues } from './zod-issues.js';
export { createModelCatalog, staticModelCatalog, type ModelCatalog } from './model-catalog.js';
export {
  jobOutputSchema,
  makeProgress,
  type JobErrorInfo,
  type JobOutput,
  type JobProgress,
  type JobRecord,
  type OutputKind,
} from './job-record.js';
export { outputKey, sidecarKey } from './output-key.js';
export { assertNever, parseJobEvent, type ControlMessage, type JobCancelRequestedEvent, type JobEvent, type JobProgressEvent, type JobStateEvent } from './events.js';
export type { Unsubscribe } from './event-bus.js';
export { keyLayout, type KeyLayout } from './keys.js';
export { DEFAULT_PREFIX, resolveQueueOptions, type QueueOptions, type ResolvedQueueOptions } from './options.js';
export { closeRedis, createRedis, DEFAULT_REDIS_URL, probeRedis, redisUrlFromEnv, type RedisRole } from './redis.js';
export { encodeCursor } from './cursor.js';
export type { JobPage } from './job-store.js';
export { bullJobOptions, queueNameFor, type QueueJobData } from './bull-queues.js';
export { WEBHOOK_QUEUE_NAME, webhookJobOptions, type WebhookJobData } from './webhook-queue.js';
export type { BatchWebhookData, JobWebhookData } from './webhook-queue.js';
export type { CancelResult, JobClient, JobClientOptions, ListJobsQuery, QueueStateCounts, SubmitOptions, SubmitResult } from './job-client.js';
export { createJobClient } from './redis-job-client.js';
export type { JobHandler, JobHandlerContext, JobHandlerResult, JobWorker, JobWorkerOptions, ResolvedJobWorkerOptions } from './job-worker.js';
export { resolveJobWorkerOptions } from './worker-options.js';
export { createJobWorker } from './redis-job-worker.js';
export { startWebhookWorker, type WebhookDelivery, type WebhookWorker, type WebhookWorkerOptions } from './webhook-worker.js';
export {
  hostStatusKeys,
  hostStatusSchema,
  listHostStatuses,
  publishHostStatus,
  removeHostStatus,
  type HostDeviceStatus,
  type HostGroupState,
  type HostGroupStatus,
  type HostJobStatus,
  type HostStageStatus,
  type HostStatus,
} from './host-status.js';
export {
  BATCH_LIMITS,
  BATCH_PRIORITY_DEFAULT,
  batchJobItemSchema,
  batchMatrixSchema,
  batchRequestSchema,
  matrixSize,
  resolveBatchRequest,
  type BatchMatrix,
  type BatchPlan,
  type BatchRequest,
} from './batch-spec.js';
export { BATCH_BAND_BASE, BATCH_LEVELS, batchBand, batchChildBullPriority } from './batch-priority.js';
export {
  BATCH_FINAL_STATUSES,
  BATCH_STATUSES,
  type BatchChild,
  type BatchCounts,
  type BatchFinalStatus,
  type BatchRecord,
  type BatchStatus,
  type BatchSummary,
} from './batch-record.js';
export { batchStatus, countChildren, finalStatusOf, summarizeBatch } from './batch-summary.js';
export { batchContactSheetKey, batchManifestKey, buildBatchManifest, type BatchManifest, type BatchManifestChild } from './batch-manifest.js';
export { BATCH_QUEUE_NAME, type BatchJobData } from './batch-queue.js';
export type {
  BatchChildPage,
  BatchClient,
  BatchClientOptions,
  BatchPage,
  FinalizationInput,
  FinalizationOutcome,
  RetriedChild,
  SubmitBatchOptions,
  SubmitBatchResult,
} from './batch-client.js';
export { createBatchClient } from './redis-batch-client.js';
export { startBatchWorker, type BatchWorker, type BatchWorkerOptions } from './batch-worker.js';
export { finishedJobsSince, percentiles, queueWindowStats, type FinishedJob, type Percentiles, type QueueWindowStats } from './job-stats.js';
