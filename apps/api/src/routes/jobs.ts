import { isTerminal, type JobRecord } from '@asyncdiff/queue';
import express, { type Express, type RequestHandler, type Response } from 'express';

import { ApiError } from '../errors.js';
import { clientOf } from '../http/auth.js';
import { parsePrefer } from '../http/prefer.js';
import { SYNC_WAIT_ROUTE } from '../http/request-metrics.js';
import { idempotencyKeyHeader, jobIdParam, parseListQuery, requireJson } from '../http/validate.js';
import { submitAs, viewOf, visibleTo, type RouteContext } from './context.js';
import { waitForEnd } from './wait-for-end.js';

/**
 * `POST /v1/jobs`, `GET /v1/jobs`, `GET /v1/jobs/:id`, `POST /v1/jobs/:id/cancel`.
 *
 * `POST /v1/jobs` with `Prefer: wait[=N]` (N 1…60 s, `wait` alone is 60; Replicate's sync mode)
 * holds the response until the job ends or N seconds pass: an ended job is answered 200, one still
 * queued or running 202 as without the header; both carry `Preference-Applied: wait=N` and
 * `Location`. The wait ends early (202) when the server starts draining.
 */
export function registerJobRoutes(app: Express, ctx: RouteContext, guard: readonly RequestHandler[]): void {
  const jsonBody: RequestHandler[] = [
    (req, _res, next) => {
      requireJson(req);
      next();
    },
    express.json({ limit: ctx.options.bodyLimitBytes, strict: true, type: ['application/json', 'application/*+json'] }),
  ];

  app.post('/v1/jobs', ...guard, ...jsonBody, async (req, res) => {
    // Read before anything is created or charged: a bad Prefer is refused with nothing to undo.
    const { waitSec } = parsePrefer(req.headers['prefer']);
    const idempotencyKey = idempotencyKeyHeader(req);
    const { options, charged } = submitAs(ctx, res);
    let result;
    try {
      result = await ctx.jobs.submit(req.body, { ...options, ...(idempotencyKey !== undefined && { idempotencyKey }) });
    } catch (err) {
      // Refused after it was charged (a queued-work cap): nothing was created, give the units back.
      await ctx.work.refund(clientOf(res).id, charged());
      throw err;
    }
    const { job, created } = result;
    if (!created) await ctx.work.refund(clientOf(res).id, charged());
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    let current = job;
    if (waitSec !== undefined) {
      res.locals['metricsRoute'] = SYNC_WAIT_ROUTE;
      current = (await waitForEnd(ctx.jobs, job.id, waitSec * 1000, requestSignal(ctx, res))) ?? job;
      res.setHeader('Preference-Applied', `wait=${waitSec}`);
    }
    const view = await viewOf(ctx, current);
    res.status(waitSec !== undefined && isTerminal(current.status) ? 200 : 202).location(view.links.self).json(view);
  });

  app.get('/v1/jobs', ...guard, async (req, res) => {
    const query = parseListQuery(req.query);
    const client = clientOf(res);
    const page = await ctx.jobs.list({ ...query, ...(!client.seesAll && { owner: client.owner }) });
    const jobs = await Promise.all(page.jobs.map((j) => viewOf(ctx, j)));
    const next = page.nextCursor === null ? null : `/v1/jobs?${new URLSearchParams({ ...(query.status && { status: query.status }), limit: String(query.limit), cursor: page.nextCursor })}`;
    res.json({ jobs, nextCursor: page.nextCursor, links: { next } });
  });

  app.get('/v1/jobs/:id', ...guard, async (req, res) => {
    res.json(await viewOf(ctx, await visibleJob(ctx, res, jobIdParam(req))));
  });

  app.post('/v1/jobs/:id/cancel', ...guard, async (req, res) => {
    const id = jobIdParam(req);
    await visibleJob(ctx, res, id);
    const { job, pending } = await ctx.jobs.cancel(id);
    // 200: the job is in its final state; 202: a running job was asked to stop (within one step).
    res.status(pending ? 202 : 200).json(await viewOf(ctx, job));
  });
}

/** The job if the client may see it; JOB_NOT_FOUND otherwise (whether it exists is nobody else's business). */
export async function visibleJob(ctx: RouteContext, res: Response, id: string): Promise<JobRecord> {
  const job = await ctx.jobs.get(id);
  if (!job || !visibleTo(res, job)) throw new ApiError('JOB_NOT_FOUND', `job ${id} not found`, 'id');
  return job;
}

/** Aborts when the client goes away before its response, or when the server starts draining. */
function requestSignal(ctx: RouteContext, res: Response): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  return AbortSignal.any([gone.signal, ctx.closing]);
}
