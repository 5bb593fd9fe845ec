import { randomUUID } from 'node:crypto';

import express, { type Express, type RequestHandler } from 'express';

import { BULL_BOARD_PATH, bullBoardRouter } from './dashboard/bull-board.js';
import { DASHBOARD_PATH, dashboardRouter } from './dashboard/routes.js';
import { urlResolver, type ApiDeps } from './deps.js';
import { authenticate } from './http/auth.js';
import { errorHandler, notFound } from './http/error-handler.js';
import { rateLimit } from './http/rate-limit.js';
import { requestMetrics } from './http/request-metrics.js';
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

/**
 * Builds the express application over injected dependencies (no listening socket, no workers):
 * embedders such as the CLI's `serve` mount or listen it themselves; `startApi` does both.
 */
export function createApp(deps: ApiDeps): Express {
  const options = resolveApiOptions(deps.options);
  const logger = deps.logger ?? console;
  const ctx: RouteContext = {
    jobs: deps.jobs,
    batches: deps.batches,
    urlFor: urlResolver(deps.outputUrls),
    options,
    metrics: deps.metrics ?? createApiMetrics(deps.jobs, deps.batches),
    logger,
    readiness: deps.readiness,
  };
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy);
  app.use(requestMetrics(ctx.metrics));
  app.use((req, res, next) => {
    const given = req.get('x-request-id');
    res.setHeader('X-Request-Id', given && /^[\x21-\x7e]{1,128}$/.test(given) ? given : randomUUID());
    next();
  });

  const guard: RequestHandler[] = [
    authenticate(options.apiKeys),
    rateLimit({ redis: deps.jobs.redis, keyFor: (id) => deps.jobs.keys.rateLimit(id), burst: options.rateLimitBurst, perSec: options.rateLimitPerSec }),
  ];
  registerJobRoutes(app, ctx, guard);
  registerJobEventRoutes(app, ctx, guard);
  registerBatchRoutes(app, ctx, guard);
  registerModelRoutes(app, ctx, guard);
  registerOpsRoutes(app, ctx);
  registerFileRoutes(app, deps.files);
  // The ops dashboard and bull-board: routers (not API routes), behind the same keys as /v1.
  const dashboard = dashboardRouter(ctx, { bullBoardPath: BULL_BOARD_PATH });
  app.use(DASHBOARD_PATH, dashboard.router);
  app.use(BULL_BOARD_PATH, dashboard.auth.require('page'), bullBoardRouter(deps.jobs, deps.batches));

  app.use(notFound(allowedMethodsFor));
  app.use(errorHandler(logger));
  return app;
}

const ROUTE_MATCHERS = API_ROUTES.map(([method, path]) => ({
  method: method.toUpperCase(),
  pattern: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+').replace(/\./g, '\\.')}/?$`),
}));

function allowedMethodsFor(path: string): string[] {
  return ROUTE_MATCHERS.filter((r) => r.pattern.test(path)).map((r) => r.method);
}
