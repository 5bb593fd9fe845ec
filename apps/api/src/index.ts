/**
 * @asyncdiff/api — the REST API of the fleet: validates, enqueues and reports jobs and batches,
 * finalises batches (manifest, contact sheet), and serves the ops dashboard and the API reference page (`/docs`). Embed it
 * with `createApp` (bring your own server) or `startApi` (listens, delivers webhooks); `main.ts`
 * runs it standalone.
 */
export { createApp } from './app.js';
export { startApi, type ApiServer, type StartApiOptions } from './server.js';
export { apiOptionsFromEnv } from './env.js';
export { keysConfigured, resolveApiOptions, type ApiOptions, type ResolvedApiOptions } from './options.js';
export { assertSafeBind, InsecureBindError, isLoopbackHost } from './bind-policy.js';
export type { ApiDeps, Logger, OutputUrlSource, UrlFor } from './deps.js';
export type { FileServer, OpenedFile } from './routes/files.js';
export { storageDeps } from './storage-deps.js';
export { ApiError, HTTP_STATUS, toApiError, type ApiErrorCode } from './errors.js';
export { createApiMetrics, type ApiMetrics } from './metrics/api-metrics.js';
export { createLogger, fromPino, LOG_LEVELS, type LoggerOptions, type LogLevel, type StructuredLogger } from './log/logger.js';
export { API_ROUTES, openApiDocument } from './openapi/document.js';
export { errorSchema, jobListSchema, jobViewSchema, modelListSchema } from './openapi/schemas.js';
export { batchJobListSchema, batchListSchema, batchRetrySchema, batchViewSchema } from './openapi/schemas.js';
export { JOB_STREAM_EVENTS, type JobStreamEvent, type JobStreamEventName } from './openapi/job-stream.js';
export type { ArtifactView, BatchView } from './views/batch-view.js';
export { createBatchFinalizer, type ArtifactStore, type BatchFinalizerOptions } from './batches/finalizer.js';
export { DASHBOARD_PATH } from './dashboard/routes.js';
export { DOCS_PATH } from './docs/routes.js';
export { BULL_BOARD_PATH } from './dashboard/bull-board.js';
export type { JobView, OutputView } from './views/job-view.js';
export { SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './webhooks/signature.js';
export { formatWebhookSecret, parseWebhookSecret, standardWebhookHeaders, type WebhookSigningKeys } from './webhooks/signing-keys.js';
export type { WebhookSecretView } from './routes/webhooks.js';
export { startOutputSweeper, type OutputStore, type OutputSweeper, type OutputSweeperOptions, type SweepReport } from './retention/output-sweeper.js';
