import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

import { isBatchId, isJobId, JOB_KINDS, type JobClient, type JobKind } from '@asyncdiff/queue';
import express, { Router, type Request, type Response } from 'express';
import { z } from 'zod';

import { ApiError } from '../errors.js';
import { viewOf, type RouteContext } from '../routes/context.js';
import { toBatchView } from '../views/batch-view.js';
import { dashboardAuth, safeNext, sessionCookie, type DashboardAuth, type DashboardUser } from './auth.js';
import { createDashboardFeed, type DashboardFeed, type FeedMessage } from './feed.js';
import { DASHBOARD_CSP, dashboardPage, loginPage } from './page.js';
import { snapshotBuilder } from './snapshot.js';

/** Where the dashboard lives. */
export const DASHBOARD_PATH = '/dashboard';

const ASSET_DIR = new URL('../../assets/', import.meta.url);
const fromPackage = (file: string) => pathToFileURL(createRequire(import.meta.url).resolve(file));
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/**
 * The static files of the client (no build step: plain ES modules + CSS, see assets/README.md),
 * and uPlot as npm installed it: the page never loads anything from another origin.
 */
const ASSETS: Readonly<Record<string, { type: string; file: URL }>> = {
  'dashboard.js': { type: JS, file: new URL('dashboard.js', ASSET_DIR) },
  'dashboard-charts.js': { type: JS, file: new URL('dashboard-charts.js', ASSET_DIR) },
  'dashboard.css': { type: CSS, file: new URL('dashboard.css', ASSET_DIR) },
  'uplot.iife.min.js': { type: JS, file: fromPackage('uplot/dist/uPlot.iife.min.js') },
  'uplot.min.css': { type: CSS, file: fromPackage('uplot/dist/uPlot.min.css') },
};

type Queue = ReturnType<JobClient['bullQueues']>[number];

/** What `dashboardRouter` returns: the router plus the shared pieces bull-board reuses. */
export interface Dashboard {
  readonly router: Router;
  readonly auth: DashboardAuth;
  readonly feed: DashboardFeed;
}

/**
 * The ops dashboard under `/dashboard`: the page, its login, a JSON snapshot, an SSE stream of
 * live updates, and the actions (pause/resume/clean/retry/cancel). Admin keys only while keys
 * are configured (see `dashboardAuth`); actions need the `X-Asyncdiff-Dashboard: 1` header.
 */
export function dashboardRouter(ctx: RouteContext, options: { bullBoardPath: string }): Dashboard {
  const router = Router();
  const auth = dashboardAuth(ctx.keys, ctx.options.apiAdminKeys, ctx.jobs, ctx.authFailures, `${DASHBOARD_PATH}/login`);
  const build = snapshotBuilder({ jobs: ctx.jobs, batches: ctx.batches, urlFor: ctx.urlFor, outputUrlExpiresInSec: ctx.options.outputUrlExpiresInSec });
  const feed = createDashboardFeed({ jobs: ctx.jobs, build, logger: ctx.logger });
  const page = auth.require('page');
  const api = auth.require('api');
  const action = [api, auth.requireActionHeader(), express.json({ limit: 4096 })];
  const secure = (req: Request) => req.secure;

  router.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', DASHBOARD_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });

  router.get('/assets/:file', async (req, res) => {
    const file = String(req.params['file']);
    const asset = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!asset) throw new ApiError('NOT_FOUND', `no asset ${file}`, 'path');
    res.type(asset.type).setHeader('Cache-Control', 'no-cache');
    res.send(await readFile(asset.file));
  });

  router.get('/login', async (req, res) => {
    const next = safeNext(req.query['next'], DASHBOARD_PATH);
    if (!auth.enabled || (await auth.access(req)).kind === 'user') return res.redirect(303, next);
    res.type('html').send(loginPage({ basePath: DASHBOARD_PATH, next }));
  });

  router.post('/login', express.urlencoded({ extended: false, limit: 4096 }), async (req, res) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next = safeNext(body['next'], DASHBOARD_PATH);
    const ip = req.ip ?? 'unknown';
    const tooMany = (seconds: number) => {
      res.setHeader('Retry-After', String(seconds));
      res.status(429).type('html').send(loginPage({ basePath: DASHBOARD_PATH, next, error: `Too many failed attempts; try again in ${seconds} s.` }));
    };
    const blocked = ctx.authFailures.blocked(ip);
    if (blocked !== undefined) return tooMany(blocked);
    // Sessions are only ever issued for admin keys.
    const token = typeof body['key'] === 'string' ? (await auth.signer()).issue(body['key']) : undefined;
    if (!token) {
      const wait = await ctx.authFailures.fail(ip);
      if (wait !== undefined) return tooMany(wait);
      res.status(401).type('html').send(loginPage({ basePath: DASHBOARD_PATH, next, error: 'Unknown API key, or not an admin key.' }));
      return;
    }
    res.setHeader('Set-Cookie', sessionCookie(token, (await auth.signer()).ttlMs, secure(req)));
    res.redirect(303, next);
  });

  router.post('/logout', (req, res) => {
    res.setHeader('Set-Cookie', sessionCookie('', 0, secure(req)));
    res.redirect(303, `${DASHBOARD_PATH}/login`);
  });

  router.get('/', page, async (_req, res) => {
    const snapshot = await build();
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(dashboardPage({ basePath: DASHBOARD_PATH, snapshot, authEnabled: auth.enabled, bullBoardPath: options.bullBoardPath }));
  });

  router.get('/api/snapshot', api, async (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(await build());
  });

  router.get('/api/stream', api, async (req, res) => {
    const user = res.locals['dashboardUser'] as DashboardUser | undefined;
    const slot = ctx.sse.reserve(`dashboard:${user?.keyId ?? req.ip ?? 'unknown'}`);
    const stream = slot.start(res);
    try {
      const unsubscribe = await feed.subscribe((m: FeedMessage) => void stream.send(m.event, m.data));
      stream.onClose(unsubscribe);
    } catch (err) {
      ctx.logger.warn('dashboard stream failed', err);
      stream.close();
    }
  });

  router.get('/api/jobs/:id', api, async (req, res) => {
    const id = String(req.params['id']);
    if (!isJobId(id)) throw new ApiError('INVALID_ID', 'not a job id', 'id');
    const job = await ctx.jobs.get(id);
    if (!job) throw new ApiError('JOB_NOT_FOUND', `job ${id} not found`, 'id');
    res.json(await viewOf(ctx, job));
  });

  router.get('/api/batches/:id', api, async (req, res) => {
    const id = String(req.params['id']);
    if (!isBatchId(id)) throw new ApiError('INVALID_ID', 'not a batch id', 'id');
    const summary = await ctx.batches?.summary(id);
    if (!summary) throw new ApiError('BATCH_NOT_FOUND', `batch ${id} not found`, 'id');
    res.json(await toBatchView(summary, ctx.urlFor, ctx.options.outputUrlExpiresInSec));
  });

  const done = (res: Response, body: Record<string, unknown>) => {
    feed.invalidate();
    res.json({ ok: true, ...body });
  };
  const batchesOf = () => {
    if (!ctx.batches) throw new ApiError('UNAVAILABLE', 'batches are not enabled on this server', null);
    return ctx.batches;
  };

  router.post('/api/jobs/:id/cancel', ...action, async (req, res) => {
    const id = String(req.params['id']);
    if (!isJobId(id)) throw new ApiError('INVALID_ID', 'not a job id', 'id');
    const { job, pending } = await ctx.jobs.cancel(id);
    done(res, { job: { id: job.id, status: job.status }, pending });
  });

  router.post('/api/jobs/:id/retry', ...action, async (req, res) => {
    const id = String(req.params['id']);
    if (!isJobId(id)) throw new ApiError('INVALID_ID', 'not a job id', 'id');
    const { job, created } = await batchesOf().retryJob(id);
    done(res, { job: { id: job.id, status: job.status }, created });
  });

  router.post('/api/batches/:id/cancel', ...action, async (req, res) => {
    const id = String(req.params['id']);
    if (!isBatchId(id)) throw new ApiError('INVALID_ID', 'not a batch id', 'id');
    const { summary, pending } = await batchesOf().cancel(id);
    done(res, { batch: { id, status: summary.status }, pending });
  });

  router.post('/api/batches/:id/retry-failed', ...action, async (req, res) => {
    const id = String(req.params['id']);
    if (!isBatchId(id)) throw new ApiError('INVALID_ID', 'not a batch id', 'id');
    const { retried, summary } = await batchesOf().retryFailed(id);
    done(res, { batch: { id, status: summary.status }, retried: retried.length });
  });

  const queueOf = (req: Request): { queue: Queue; kind: JobKind | 'batches' } => {
    const name = String(req.params['name']);
    const all = [...ctx.jobs.bullQueues(), ...(ctx.batches ? [ctx.batches.queue] : [])];
    const queue = all.find((q) => q.name === name && ((JOB_KINDS as readonly string[]).includes(name) || name === 'batches'));
    if (!queue) throw new ApiError('NOT_FOUND', `no queue ${name}`, 'name');
    return { queue, kind: name as JobKind | 'batches' };
  };
  const jobKindOf = (req: Request): JobKind => {
    const { kind } = queueOf(req);
    if (kind === 'batches') throw new ApiError('INVALID_REQUEST', 'this action applies to the image and video queues', 'name');
    return kind;
  };

  router.post('/api/queues/:name/pause', ...action, async (req, res) => {
    const { queue } = queueOf(req);
    await queue.pause();
    done(res, { queue: queue.name, paused: true });
  });

  router.post('/api/queues/:name/resume', ...action, async (req, res) => {
    const { queue } = queueOf(req);
    await queue.resume();
    done(res, { queue: queue.name, paused: false });
  });

  const cleanBody = z.strictObject({ state: z.enum(['completed', 'failed']), graceSec: z.number().int().min(0).max(30 * 24 * 3600).optional() });
  router.post('/api/queues/:name/clean', ...action, async (req, res) => {
    const { queue } = queueOf(req);
    const body = cleanBody.safeParse(req.body ?? {});
    if (!body.success) throw new ApiError('INVALID_REQUEST', 'send {"state": "completed" | "failed", "graceSec"?: n}', 'state');
    // Only BullMQ's retained copies go; job records (GET /v1/jobs/:id) stay until their TTL.
    const removed = await queue.clean((body.data.graceSec ?? 0) * 1000, 10_000, body.data.state);
    done(res, { queue: queue.name, removed: removed.length });
  });

  router.post('/api/queues/:name/retry-failed', ...action, async (req, res) => {
    const kind = jobKindOf(req);
    let retried = 0;
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await ctx.jobs.list({ status: 'failed', limit: 100, ...(cursor !== undefined && { cursor }) });
      for (const job of page.jobs) {
        if (job.kind !== kind || job.retriedBy) continue;
        const r = await batchesOf().retryJob(job.id);
        if (r.created) retried++;
      }
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    done(res, { queue: kind, retried });
  });

  router.post('/api/queues/:name/cancel-queued', ...action, async (req, res) => {
    const kind = jobKindOf(req);
    let canceled = 0;
    let cursor: string | undefined;
    for (let pages = 0; pages < 50; pages++) {
      const page = await ctx.jobs.list({ status: 'queued', limit: 100, ...(cursor !== undefined && { cursor }) });
      for (const job of page.jobs) {
        if (job.kind !== kind) continue;
        const r = await ctx.jobs.cancel(job.id);
        if (r.job.status === 'canceled') canceled++;
      }
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    done(res, { queue: kind, canceled });
  });

  return { router, auth, feed };
}
