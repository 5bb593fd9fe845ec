import { summarizeFromCounters, toSpecIssues, type BatchClient, type BatchRecord } from '@asyncdiff/queue';
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';

import { ApiError } from '../errors.js';
import { clientOf } from '../http/auth.js';
import { batchIdParam, idempotencyKeyHeader, parseBatchListQuery, parseListQuery, requireJson, retryFailedBodySchema } from '../http/validate.js';
import { toBatchView, type BatchView } from '../views/batch-view.js';
import { submitAs, viewOf, visibleTo, type RouteContext } from './context.js';

/**
 * `POST /v1/batches`, `GET /v1/batches`, `GET /v1/batches/:id`, `GET /v1/batches/:id/jobs`,
 * `POST /v1/batches/:id/cancel`, `POST /v1/batches/:id/retry-failed`.
 */
export function registerBatchRoutes(app: Express, ctx: RouteContext, guard: readonly RequestHandler[]): void {
  const batchesOf = (): BatchClient => {
    if (!ctx.batches) throw new ApiError('UNAVAILABLE', 'batches are not enabled on this server', null);
    return ctx.batches;
  };
  const notFound = (id: string) => new ApiError('BATCH_NOT_FOUND', `batch ${id} not found`, 'id');
  /** The batch if the client may see it; BATCH_NOT_FOUND otherwise (also for another key's batch). */
  const visible = async (res: Response, id: string): Promise<BatchRecord> => {
    const record = await batchesOf().get(id);
    if (!record || !visibleTo(res, record)) throw notFound(id);
    return record;
  };
  const view = async (id: string) => {
    const summary = await batchesOf().summary(id);
    if (!summary) throw notFound(id);
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
    const { options, charged } = submitAs(ctx, res);
    let result;
    try {
      result = await batchesOf().submit(req.body, { ...options, ...(idempotencyKey !== undefined && { idempotencyKey }) });
    } catch (err) {
      await ctx.work.refund(clientOf(res).id, charged());
      throw err;
    }
    const { batch, created } = result;
    if (!created) await ctx.work.refund(clientOf(res).id, charged());
    const body = await view(batch.id);
    if (!created) res.setHeader('Idempotent-Replayed', 'true');
    res.status(202).location(body.links.self).json(body);
  });

  app.get('/v1/batches', ...guard, async (req, res) => {
    const query = parseBatchListQuery(req.query);
    const client = clientOf(res);
    const page = await batchesOf().list({ ...query, ...(!client.seesAll && { owner: client.owner }) });
    const views: BatchView[] = [];
    for (const b of page.batches) {
      // From the counters on the record: a listing never reads children (older batches without
      // counters are summarised the slow way).
      const s = summarizeFromCounters(b) ?? (await batchesOf().summary(b.id));
      if (s) views.push(await toBatchView(s, ctx.urlFor, ctx.options.outputUrlExpiresInSec));
    }
    const next = page.nextCursor === null ? null : `/v1/batches?${new URLSearchParams({ limit: String(query.limit), cursor: page.nextCursor })}`;
    res.json({ batches: views, nextCursor: page.nextCursor, links: { next } });
  });

  app.get('/v1/batches/:id', ...guard, async (req, res) => {
    const id = batchIdParam(req);
    await visible(res, id);
    res.json(await view(id));
  });

  app.get('/v1/batches/:id/jobs', ...guard, async (req, res) => {
    const id = batchIdParam(req);
    await visible(res, id);
    const query = parseListQuery(req.query);
    const page = await batchesOf().listChildren(id, query);
    const jobs = await Promise.all(page.jobs.map(async ({ index, record }) => ({ batchIndex: index, ...(await viewOf(ctx, record)) })));
    const params = { ...(query.status && { status: query.status }), limit: String(query.limit) };
    const next = page.nextCursor === null ? null : `/v1/batches/${id}/jobs?${new URLSearchParams({ ...params, cursor: page.nextCursor })}`;
    res.json({ jobs, nextCursor: page.nextCursor, links: { next } });
  });

  app.post('/v1/batches/:id/cancel', ...guard, async (req, res) => {
    const id = batchIdParam(req);
    await visible(res, id);
    const { summary, pending } = await batchesOf().cancel(id);
    // 200: nothing is left running; 202: running children were told to stop (within one step).
    res.status(pending > 0 ? 202 : 200).json(await toBatchView(summary, ctx.urlFor, ctx.options.outputUrlExpiresInSec));
  });

  app.post('/v1/batches/:id/retry-failed', ...guard, ...optionalJsonBody(ctx.options.bodyLimitBytes), async (req, res) => {
    const id = batchIdParam(req);
    await visible(res, id);
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
