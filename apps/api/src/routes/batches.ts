import { toSpecIssues, type BatchClient } from '@asyncdiff/queue';
import express, { type Express, type Request, type RequestHandler } from 'express';

import { ApiError } from '../errors.js';
import { clientOf } from '../http/auth.js';
import { batchIdParam, idempotencyKeyHeader, parseBatchListQuery, parseListQuery, requireJson, retryFailedBodySchema } from '../http/validate.js';
import { toBatchView } from '../views/batch-view.js';
import { viewOf, type RouteContext } from './context.js';

/**
 * `POST /v1/batches`, `GET /v1/batches`, `GET /v1/batches/:id`, `GET /v1/batches/:id/jobs`,
 * `POST /v1/batches/:id/cancel`, `POST /v1/batches/:id/retry-failed`.
 */
export function registerBatchRoutes(app: Express, ctx: RouteContext, guard: readonly RequestHandler[]): void {
  const batchesOf = (): BatchClient => {
    if (!ctx.batches) throw new ApiError('UNAVAILABLE', 'batches are not enabled on this server', null);
    return ctx.batches;
  };
  const view = async (id: string) => {
    const summary = await batchesOf().summary(id);
    if (!summary) throw new ApiError('BATCH_NOT_FOUND', `batch ${id} not found`, 'id');
    return toBatchView(summary, ctx.urlFor, ctx.options.outputUrlExpiresInSec);
  };
  const jsonBody = (limit: number): RequestHandler[] => [
    (req, _res, next) => {
      requireJson(req);
      next();
    },
    express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] }),
  ];
  const optionalJsonBody = (limit: number): RequestHandler[] => [
    (req, _res, next) => {
      if (hasBody(req)) requireJson(req);
      next();
    },
    express.json({ limit, strict: true, type: ['application/json', 'application/*+json'] }),
  ];

  app.post('/v1/batches', ...guard, ...jsonBody(ctx.options.batchBodyLimitBytes), async (req, res) => {
    const idempotencyKey = idempotencyKeyHeader(req);
    const client = clientOf(res);
    const { batch, created } = await batchesOf().submit(req.body, {
      ...(idempotencyKey !== undefined && { idempotencyKey }),
      ...(client.authenticated && { scope: client.id }),
    });
    const body = await view(batch.id);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    res.status(202).location(body.links.self).json(body);
  });

  app.get('/v1/batches', ...guard, async (req, res) => {
    const query = parseBatchListQuery(req.query);
    const page = await batchesOf().list(query);
    const views = [];
    for (const b of page.batches) {
      const s = await batchesOf().summary(b.id);
      if (s) views.push(await toBatchView(s, ctx.urlFor, ctx.options.outputUrlExpiresInSec));
    }
    const next = page.nextCursor === null ? null : `/v1/batches?${new URLSearchParams({ limit: String(query.limit), cursor: page.nextCursor })}`;
    res.json({ batches: views, nextCursor: page.nextCursor, links: { next } });
  });

  app.get('/v1/batches/:id', ...guard, async (req, res) => {
    res.json(await view(batchIdParam(req)));
  });

  app.get('/v1/batches/:id/jobs', ...guard, async (req, res) => {
    const id = batchIdParam(req);
    const query = parseListQuery(req.query);
    const page = await batchesOf().listChildren(id, query);
    const jobs = await Promise.all(page.jobs.map(async ({ index, record }) => ({ batchIndex: index, ...(await viewOf(ctx, record)) })));
    const params = { ...(query.status && { status: query.status }), limit: String(query.limit) };
    const next = page.nextCursor === null ? null : `/v1/batches/${id}/jobs?${new URLSearchParams({ ...params, cursor: page.nextCursor })}`;
    res.json({ jobs, nextCursor: page.nextCursor, links: { next } });
  });

  app.post('/v1/batches/:id/cancel', ...guard, async (req, res) => {
    const id = batchIdParam(req);
    const { summary, pending } = await batchesOf().cancel(id);
    // 200: nothing is left running; 202: running children were told to stop (within one step).
    res.status(pending > 0 ? 202 : 200).json(await toBatchView(summary, ctx.urlFor, ctx.options.outputUrlExpiresInSec));
  });

  app.post('/v1/batches/:id/retry-failed', ...guard, ...optionalJsonBody(ctx.options.bodyLimitBytes), async (req, res) => {
    const id = batchIdParam(req);
    const parsed = retryFailedBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      const issues = toSpecIssues(parsed.error, req.body);
      const first = issues[0];
      throw new ApiError('INVALID_REQUEST', first ? `${first.field}: ${first.message}` : 'invalid body', first?.field ?? 'body', { issues });
    }
    const { retried, summary } = await batchesOf().retryFailed(id, parsed.data.include ? { include: parsed.data.include } : {});
    res.status(retried.length ? 202 : 200).json({ retried, batch: await toBatchView(summary, ctx.urlFor, ctx.options.outputUrlExpiresInSec) });
  });
}

function hasBody(req: Request): boolean {
  const length = req.get('content-length');
  return (length !== undefined && length !== '0') || req.get('transfer-encoding') !== undefined;
}
