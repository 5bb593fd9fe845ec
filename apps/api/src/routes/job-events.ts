import { assertNever, isTerminal, previewData, type JobEvent } from '@asyncdiff/queue';
import type { Express, RequestHandler } from 'express';

import { clientOf } from '../http/auth.js';
import type { SseStream } from '../http/sse.js';
import { jobIdParam } from '../http/validate.js';
import { viewOf, type RouteContext } from './context.js';
import { visibleJob } from './jobs.js';

/**
 * `GET /v1/jobs/:id/events` — Server-Sent Events. First a `job` event with the current state,
 * then `progress`, `state` and `cancel-requested` events as they happen (and `preview` events, a
 * base64 PNG of the predicted image every k-th step, for jobs submitted with `preview: {every: k}`), and a final `job` event
 * (with outputs and their URLs) when the job reaches a terminal state; then the stream ends.
 * A reconnecting client simply starts over from the current state; when the API's own Redis
 * subscription reconnects, the stream re-reads the job and ends if it ended meanwhile. Only this job's events reach
 * the stream (listeners are kept per job id); streams per client are capped and a client that
 * stops reading is cut off (see `SseHub`).
 */
export function registerJobEventRoutes(app: Express, ctx: RouteContext, guard: readonly RequestHandler[]): void {
  app.get('/v1/jobs/:id/events', ...guard, async (req, res) => {
    const id = jobIdParam(req);
    const slot = ctx.sse.reserve(clientOf(res).id);
    const pending: JobEvent[] = [];
    let deliver: ((event: JobEvent) => void) | undefined;
    let unsubscribe: (() => void) | undefined;
    let stream: SseStream | undefined;
    try {
      // Subscribe before reading the record, so nothing between the snapshot and the stream is lost.
      unsubscribe = await ctx.jobs.onJobEvents(id, (event) => {
        if (deliver) deliver(event);
        else pending.push(event);
      });
      const record = await visibleJob(ctx, res, id);
      const view = await viewOf(ctx, record);
      stream = slot.start(res);
      stream.onClose(() => unsubscribe?.());
      const open = stream;
      open.send('job', view);
      if (isTerminal(record.status)) return open.close();

      let chain = Promise.resolve();
      deliver = (event) => {
        chain = chain.then(() => forward(ctx, event, open)).catch((err: unknown) => {
          ctx.logger.error('SSE forward failed', err);
          open.close();
        });
      };
      // Events that raced the snapshot: drop the ones it already reflects.
      for (const event of pending.splice(0)) if (event.at >= record.updatedAt) deliver(event);
      // Pub/sub loses what is published while Redis is away: after a reconnect, catch up from the
      // record, so a job that ended meanwhile still ends its stream (with the final `job` event).
      const stopResync = ctx.jobs.onResync(() => {
        chain = chain
          .then(async () => {
            const now = await ctx.jobs.get(id);
            if (now && !isTerminal(now.status)) return;
            if (now) open.send('job', await viewOf(ctx, now));
            open.close();
          })
          .catch((err: unknown) => {
            ctx.logger.error('SSE resync failed', err);
            open.close();
          });
      });
      open.onClose(stopResync);
    } catch (err) {
      // Before the stream started the error handler answers with JSON; after, the stream just ends.
      if (stream) stream.close();
      else {
        unsubscribe?.();
        slot.release();
      }
      throw err;
    }
  });
}

async function forward(ctx: RouteContext, event: JobEvent, stream: SseStream): Promise<void> {
  switch (event.type) {
    case 'progress':
      stream.send('progress', { jobId: event.jobId, progress: event.progress, at: new Date(event.at).toISOString() });
      return;
    case 'preview':
      // The agreed data shape of a `preview` event: exactly these fields (no `at`, no `kind`).
      stream.send('preview', previewData(event));
      return;
    case 'cancel-requested':
      stream.send('cancel-requested', { jobId: event.jobId, at: new Date(event.at).toISOString() });
      return;
    case 'state': {
      stream.send('state', {
        jobId: event.jobId,
        status: event.status,
        previous: event.previous,
        at: new Date(event.at).toISOString(),
        ...(event.error && { error: event.error }),
      });
      if (!isTerminal(event.status)) return;
      const record = await ctx.jobs.get(event.jobId);
      if (record) stream.send('job', await viewOf(ctx, record));
      stream.close();
      return;
    }
    default:
      assertNever(event);
  }
}
