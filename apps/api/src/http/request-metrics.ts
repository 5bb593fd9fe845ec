import type { NextFunction, Request, Response } from 'express';

import type { ApiMetrics } from '../metrics/api-metrics.js';

/** Route label of `POST /v1/jobs` with `Prefer: wait`, whose duration is the job's, not the API's. */
export const SYNC_WAIT_ROUTE = '/v1/jobs#wait';

/**
 * Counts every request and times it, labelled by route template (`/v1/jobs/:id`, never the raw
 * path, so label cardinality stays bounded) and status. A handler may set
 * `res.locals.metricsRoute` to file its request under another fixed label (`SYNC_WAIT_ROUTE`), so
 * waits it holds on purpose stay out of the latency of the route.
 */
export function requestMetrics(metrics: ApiMetrics) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const start = process.hrtime.bigint();
    res.on('finish', () => record());
    res.on('close', () => record());
    let done = false;
    const record = () => {
      if (done) return;
      done = true;
      const routePath = (req.route as { path?: unknown } | undefined)?.path;
      const override = res.locals['metricsRoute'];
      const route = typeof override === 'string' ? override : typeof routePath === 'string' ? `${req.baseUrl}${routePath}` : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      metrics.requests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.latency.observe({ method: req.method, route }, seconds);
    };
    next();
  };
}
