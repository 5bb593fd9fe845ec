import express, { type Express, type RequestHandler } from 'express';

import { ApiError } from '../errors.js';
import { clientOf } from '../http/auth.js';
import { idempotencyKeyHeader, jobIdParam, parseListQuery, requireJson } from '../http/validate.js';
import { viewOf, type RouteContext } from './context.js';

/** `POST /v1/jobs`, `GET /v1/jobs`, `GET /v1/jobs/:id`, `POST /v1/jobs/:id/cancel`. */
export function registerJobRoutes(app: Express, ctx: RouteContext, guard: readonly RequestHandler[]): void {
  const jsonBody: RequestHandler[] = [
    (req, _res, next) => {
      requireJson(req);
      next();
    },
    express.json({ limit: ctx.options.bodyLimitBytes, strict: true, type: ['application/json', 'application/*+json'] }),
  ];

  app.post('/v1/jobs', ...guard, ...jsonBody, async (req, res) => {
    const idempotencyKey = idempotencyKeyHeader(req);
    const client = clientOf(res);
    const { job, created } = await ctx.jobs.submit(req.body, {
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      // Without auth every client shares one key space (IPs change between retries).
      ...(client.authenticated && { scope: client.id }),
    });
    const view = await viewOf(ctx, job);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    res.status(202).location(view.links.self).json(view);
  });

  app.get('/v1/jobs', ...guard, async (req, res) => {
    const query = parseListQuery(req.query);
    const page = await ctx.jobs.list(query);
    const jobs = await Promise.all(page.jobs.map((j) => viewOf(ctx, j)));
    const next = page.nextCursor === null ? null : `/v1/jobs?${new URLSearchParams({ ...(query.status && { status: query.status }), limit: String(query.limit), cursor: page.nextCursor })}`;
    res.json({ jobs, nextCursor: page.nextCursor, links: { next } });
  });

  app.get('/v1/jobs/:id', ...guard, async (req, res) => {
    const id = jobIdParam(req);
    const job = await ctx.jobs.get(id);
    if (!job) throw new ApiError('JOB_NOT_FOUND', `job ${id} not found`, 'id');
    res.json(await viewOf(ctx, job));
  });

  app.post('/v1/jobs/:id/cancel', ...guard, async (req, res) => {
    const { job, pending } = await ctx.jobs.cancel(jobIdParam(req));
    // 200: the job is in its final state; 202: a running job was asked to stop (within one step).
    res.status(pending ? 202 : 200).json(await viewOf(ctx, job));
  });
}
