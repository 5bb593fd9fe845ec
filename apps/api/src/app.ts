import express, { type Express, type RequestHandler } from 'express';

import { BULL_BOARD_PATH, bullBoardRouter } from './dashboard/bull-board.js';
import { DASHBOARD_PATH, dashboardRouter } from './dashboard/routes.js';
import { urlResolver, type ApiDeps } from './deps.js';
import { DOCS_PATH, docsRouter } from './docs/routes.js';
import { authenticate, keyRing } from './http/auth.js';
import { authFailureLimiter } from './http/auth-failures.js';
import { errorHandler, notFound } from './http/error-handler.js';
import { rateLimit, workCharger } from './http/rate-limit.js';
import { requestLogging } from './http/request-log.js';
import { requestMetrics } from './http/request-metrics.js';
import { sseHub, type SseHub } from './http/sse.js';
import { tokenBucket } from './http/token-bucket.js';
import { createLogger } from './log/logger.js';
import { createApiMetrics } from './metrics/api-metrics.js';
import { API_ROUTES } from './openapi/document.js';
import { resolveApiOptions } from './options.js';
import { registerBatchRoutes } from './routes/batches.js';
import type { RouteContext } from './routes/context.js';
import { registerFileRoutes } from './routes/files.js';
import { registerJobEventRoutes } from './routes/job-events.js';
import { registerJobRoutes } from './routes/jobs.js';
import { registerModelRoutes } from './routes/models.js';
import { registerOpsRoutes } from './routes/ops.js';
import { registerWebhookRoutes } from './routes/webhooks.js';

/**
 * Builds the express application over injected dependencies (no listening socket, no workers):
 * embedders such as the CLI's `serve` mount or listen it themselves; `startApi` does both.
 */
export function createApp(deps: ApiDeps): Express {
  return buildApp(deps).app;
}

/** The app plus the handles a server needs to shut it down gracefully. */
export interface BuiltApp {
  readonly app: Express;
  /** Every open SSE stream (ended first when draining). */
  readonly sse: SseHub;
  /** From now on every response asks its client to close the connection (draining). */
  startDraining(): void;
}

/** `createApp` with its shutdown handles (used by `startApi`). */
export function buildApp(deps: ApiDeps): BuiltApp {
  const options = resolveApiOptions(deps.options);
  const logger = deps.logger ?? createLogger();
  const metrics = deps.metrics ?? createApiMetrics(deps.jobs, deps.batches);
  const { redis, keys: layout } = deps.jobs;
  const bucket = (name: string, capacity: number, perSec: number) => (capacity > 0 ? tokenBucket(redis, (id) => layout.rateLimit(`${name}${id}`), capacity, perSec) : undefined);
  const keys = keyRing(options.apiKeys, options.apiAdminKeys);
  const authFailures = authFailureLimiter(tokenBucket(redis, (id) => layout.rateLimit(id), options.authFailureBurst, options.authFailurePerSec), logger);
  const sse = sseHub({
    maxPerClient: options.maxSseStreamsPerKey,
    maxBufferedBytes: options.sseMaxBufferedBytes,
    heartbeatMs: options.sseHeartbeatMs,
    onCount: (open) => (metrics.sseStreams = open),
    onDrop: (reason) => metrics.sseDropped.inc({ reason }),
  });
  const closing = new AbortController();
  const ctx: RouteContext = {
    jobs: deps.jobs,
    batches: deps.batches,
    urlFor: urlResolver(deps.outputUrls),
    options,
    metrics,
    logger,
    readiness: deps.readiness,
    keys,
    authFailures,
    work: workCharger(bucket('work:', options.workRateBurst, options.workRatePerSec), logger),
    workLimits: { perOwner: options.maxQueuedWorkPerKey, total: options.maxQueuedWorkTotal },
    sse,
    closing: closing.signal,
    outputRetentionSec: options.outputRetentionSec,
    webhookSecret: deps.webhookSecret,
  };
  let draining = false;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy);
  app.use(requestMetrics(ctx.metrics));
  app.use(requestLogging(logger));
  app.use((_req, res, next) => {
    if (draining) res.setHeader('Connection', 'close');
    next();
  });

  const guard: RequestHandler[] = [authenticate(keys, authFailures), rateLimit(bucket('', options.rateLimitBurst, options.rateLimitPerSec))];
  registerJobRoutes(app, ctx, guard);
  registerJobEventRoutes(app, ctx, guard);
  registerBatchRoutes(app, ctx, guard);
  registerModelRoutes(app, ctx, guard);
  registerWebhookRoutes(app, ctx, guard);
  registerOpsRoutes(app, ctx);
  registerFileRoutes(app, deps.files);
  // The ops dashboard and bull-board: routers (not API routes), for admin keys only.
  const dashboard = dashboardRouter(ctx, { bullBoardPath: BULL_BOARD_PATH });
  app.use(DASHBOARD_PATH, dashboard.router);
  app.use(BULL_BOARD_PATH, dashboard.auth.require('page'), bullBoardRouter(deps.jobs, deps.batches));
  // The API reference page (Redoc over /openapi.json), open like the document.
  app.use(DOCS_PATH, docsRouter());

  app.use(notFound(allowedMethodsFor));
  app.use(errorHandler(logger));
  return {
    app,
    sse,
    startDraining() {
      draining = true;
      closing.abort();
    },
  };
}

const ROUTE_MATCHERS = API_ROUTES.map(([method, path]) => ({
  method: method.toUpperCase(),
  pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}/?$`),
}));

function allowedMethodsFor(path: string): string[] {
  return ROUTE_MATCHERS.filter((r) => r.pattern.test(path)).map((r) => r.method);
}
