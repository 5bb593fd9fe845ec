/**
 * @asyncdiff/queue — the contract between the API and GPU hosts: job specs and their validation,
 * the job lifecycle and record (in Redis, outliving BullMQ's retention), BullMQ queues per kind,
 * idempotent submission, cancellation, progress and events, and the worker GPU hosts run.
 *
 * Two layers: `domain/` — specs, records, lifecycle, ids, owners, work units, webhook policy — is
 * pure (no Redis, no BullMQ; `domain/purity.test.ts` checks every import); `transport/` — Redis
 * keys and Lua scripts, BullMQ queues, clients, workers, event bus, outbox — builds on it.
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
  WebhookTargetForbiddenError,
  WorkerShutdownError,
  type QueueErrorCode,
  type SpecIssue,
  type WebhookRefusal,
} from './domain/errors.js';
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
} from './domain/lifecycle.js';
export { isJobId, JOB_ID_PATTERN, JOB_ID_PREFIX, jobIdTime, newJobId } from './domain/job-id.js';
export { BatchNotFoundError, NotRetryableError, QueuedWorkLimitError, WorkTooLargeError } from './domain/errors.js';
export { ANONYMOUS_OWNER, isOwnerId, OWNER_PATTERN, ownerIdOfKey } from './domain/owner.js';
export { JOB_OVERHEAD_UNITS, sampleSizeOf, WORK_UNIT_PIXELS, workUnits, workUnitsOf, type AdmitWork, type SampleSize, type WorkLimits } from './domain/work-units.js';
export { BATCH_ID_PATTERN, BATCH_ID_PREFIX, isBatchId, newBatchId } from './domain/job-id.js';
export {
  JOB_KINDS,
  jobSpecInputSchema,
  jobSpecSchema,
  OUTPUT_FORMATS,
  JOB_PARALLEL_MODES,
  QUALITY_BUDGETS,
  randomSeed,
  resolveJobSpec,
  SCHEDULERS,
  SEED_MAX,
  SPEC_LIMITS,
  type JobKind,
  type JobSpec,
  type PreviewSpec,
  type TextSpec,
  type JobSpecInput,
  type OutputFormat,
  type JobParallelMode,
  type QualityBudget,
  type ParallelSpec,
  type SchedulerName,
} from './domain/job-spec.js';
export { PRIORITY_DEFAULT, PRIORITY_MAX, PRIORITY_MIN, toBullPriority } from './domain/priority.js';
export { toSpecIssues } from './domain/zod-issues.js';
export { createModelCatalog, staticModelCatalog, type ModelCatalog } from './domain/model-catalog.js';
export {
  jobOutputSchema,
  makeProgress,
  type JobErrorInfo,
  type JobOutput,
  type JobProgress,
  type JobRecord,
  type JobWarning,
  type OutputKind,
} from './domain/job-record.js';
export { outputKey, sidecarKey } from './domain/output-key.js';
export { outputExpiryIndex, type OutputExpiryIndex } from './transport/output-expiry.js';
export {
  assertNever,
  parseJobEvent,
  previewData,
  PREVIEW_MAX_BASE64_CHARS,
  type ControlMessage,
  type JobCancelRequestedEvent,
  type JobEvent,
  type JobPreview,
  type JobPreviewEvent,
  type JobProgressEvent,
  type JobStateEvent,
  type PreviewData,
} from './domain/events.js';
export { canonicalWebhookEvents, DEFAULT_WEBHOOK_EVENTS, WEBHOOK_EVENTS, webhookWants, type WebhookEventName } from './domain/webhook-events.js';
export type { Unsubscribe } from './transport/event-bus.js';
export { keyLayout, type KeyLayout } from './transport/keys.js';
export { DEFAULT_PREFIX, resolveQueueOptions, type QueueOptions, type ResolvedQueueOptions } from './transport/options.js';
export { closeRedis, createRedis, DEFAULT_REDIS_URL, probeRedis, type RedisClient, type RedisRole } from './transport/redis.js';
export {
  describeRedisTarget,
  redactRedisUrl,
  resolveRedisTarget,
  type ClusterRedisTarget,
  type RedisConnection,
  type RedisNode,
  type RedisTarget,
  type SentinelRedisTarget,
  type StandaloneRedisTarget,
} from './transport/redis-target.js';
export { redisTargetFromEnv } from './transport/redis-env.js';
export { encodeCursor } from './domain/cursor.js';
export type { JobPage } from './transport/job-store.js';
export { bullJobOptions, queueNameFor, type QueueJobData } from './transport/bull-queues.js';
export { previewWebhookJobOptions, WEBHOOK_QUEUE_NAME, webhookDeliveryId, webhookJobOptions, type WebhookJobData } from './transport/webhook-queue.js';
export { webhookRetryDelayMs, webhookRetrySpanMs } from './domain/webhook-retry.js';
export { ADDRESS_CLASSES, classifyIp, formatIp, parseCidr, parseIpLiteral, parseIpv4, parseIpv6, type AddressClass, type IpAddress } from './domain/webhook-address.js';
export {
  CLASS_RULES,
  decideWebhookTarget,
  parseWebhookTarget,
  resolveWebhookTargetPolicy,
  type WebhookTarget,
  type WebhookTargetPolicy,
  type WebhookTargetPolicyOptions,
} from './domain/webhook-policy.js';
export {
  createWebhookTargetGuard,
  systemResolver,
  type HostResolver,
  type VettedWebhookTarget,
  type WebhookTargetGuard,
  type WebhookTargetGuardOptions,
} from './domain/webhook-target-guard.js';
export type { BatchWebhookData, JobPreviewWebhookData, JobStartWebhookData, JobWebhookData } from './transport/webhook-queue.js';
export type { CancelResult, JobClient, JobClientOptions, ListJobsQuery, QueueStateCounts, ReconcileReport, SubmitOptions, SubmitResult } from './transport/job-client.js';
export { startJobReconciler, type JobReconciler, type JobReconcilerOptions } from './transport/job-reconciler.js';
export { createJobClient } from './transport/redis-job-client.js';
export type { JobHandler, JobHandlerContext, JobHandlerResult, JobWorker, JobWorkerOptions, ResolvedJobWorkerOptions } from './transport/job-worker.js';
export { resolveJobWorkerOptions } from './transport/worker-options.js';
export { createJobWorker } from './transport/redis-job-worker.js';
export { startWebhookWorker, type WebhookDelivery, type WebhookWorker, type WebhookWorkerOptions } from './transport/webhook-worker.js';
export {
  hostStatusKeys,
  hostStatusSchema,
  listHostStatuses,
  publishHostStatus,
  RECENT_STEPS_KEPT,
  removeHostStatus,
  STEP_SECONDS_BUCKETS,
  type HostDeviceStatus,
  type HostGroupState,
  type HostBatchStatus,
  type HostGroupStatus,
  type HostJobStatus,
  type HostStageStatus,
  type HostStatus,
  type StepTiming,
  type StepTimeHistogram,
} from './transport/host-status.js';
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
} from './domain/batch-spec.js';
export { BATCH_BAND_BASE, BATCH_LEVELS, batchBand, batchChildBullPriority } from './domain/batch-priority.js';
export {
  BATCH_FINAL_STATUSES,
  BATCH_STATUSES,
  type BatchChild,
  type BatchChildCounters,
  type BatchCounts,
  type BatchFinalStatus,
  type BatchRecord,
  type BatchStatus,
  type BatchSummary,
} from './domain/batch-record.js';
export { batchStatus, countChildren, finalStatusOf, summarizeBatch, summarizeFromCounters } from './domain/batch-summary.js';
export { batchContactSheetKey, batchManifestKey, buildBatchManifest, type BatchManifest, type BatchManifestChild } from './domain/batch-manifest.js';
export { BATCH_QUEUE_NAME, type BatchJobData } from './transport/batch-queue.js';
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
} from './transport/batch-client.js';
export { createBatchClient } from './transport/redis-batch-client.js';
export { startBatchWorker, type BatchWorker, type BatchWorkerOptions } from './transport/batch-worker.js';
export { finishedJobsSince, percentiles, queueWindowStats, type FinishedJob, type Percentiles, type QueueWindowStats } from './transport/job-stats.js';
