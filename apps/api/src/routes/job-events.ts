import { assertNever, isTerminal, type JobEvent } from '@asyncdiff/queue';
import type { Express, RequestHandler } from 'express';

import { ApiError } from '../errors.js';
import { jobIdParam } from '../http/validate.js';
import { viewOf, type RouteContext } from './context.js';

/**
 * `GET /v1/jobs/:id/events` — Server-Sent Events. First a `job` event with the current state,
 * then `progress`, `state` and `cancel-requested` events as they happen, and a final `job` event
 * (with outputs and their URLs) when the job reaches a terminal state; then the stream ends.
 * A reconnecting client simply starts over from the current state.
 */
export function registerJobEventRoutes(app: Express, ctx: RouteContext, guard: readonly RequestHandler[]): void {
  app.get('/v1/jobs/:id/events', ...guard, async (req, res) => {
    const id = jobIdParam(req);
    const pending: JobEvent[] = [];
    let deliver: ((event: JobEvent) => void) | undefined;
    // Subscribe before reading the record, so nothing between the snapshot and the stream is lost.
    const unsubscribe = await ctx.jobs.onEvent((event) => {
      if (event.jobId !== id) return;
      if (deliver) deliver(event);
      else pending.push(event);
    });
    let closed = false;
    let heartbeat: NodeJS.Timeout | undefined;
    const cleanup = () => {
      if (closed) return false;
      closed = true;
      clearInterval(heartbeat);
      unsubscribe();
      ctx.metrics.sseStreams -= 1;
      return true;
    };
    const finish = () => {
      if (cleanup()) res.end();
    };
    ctx.metrics.sseStreams += 1;
    try {
      const record = await ctx.jobs.get(id);
      if (!record) throw new ApiError('JOB_NOT_FOUND', `job ${id} not found`, 'id');
      res.status(200).set({
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache, no-transform',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      res.flushHeaders();
      let seq = 0;
      const send = (name: string, data: unknown) => {
        if (!closed) res.write(`id: ${++seq}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      res.on('close', finish); // the client went away (or we ended the stream)
      send('job', await viewOf(ctx, record));
      if (isTerminal(record.status)) return finish();
      heartbeat = setInterval(() => !closed && res.write(': keep-alive\n\n'), ctx.options.sseHeartbeatMs);

      let chain = Promise.resolve();
      deliver = (event) => {
        chain = chain.then(() => forward(ctx, event, send, finish)).catch((err: unknown) => {
          ctx.logger.error('SSE forward failed', err);
          finish();
        });
      };
      // Events that raced the snapshot: drop the ones it already reflects.
      for (const event of pending.splice(0)) if (event.at >= record.updatedAt) deliver(event);
    } catch (err) {
      // Before the stream started the error handler answers with JSON; after, the stream just ends.
      if (res.headersSent) finish();
      else cleanup();
      throw err;
    }
  });
}

async function forward(ctx: RouteContext, event: JobEvent, send: (name: string, data: unknown) => void, finish: () => void): Promise<void> {
  switch (event.type) {
    case 'progress':
      send('progress', { jobId: event.jobId, progress: event.progress, at: new Date(event.at).toISOString() });
      return;
    case 'cancel-requested':
      send('cancel-requested', { jobId: event.jobId, at: new Date(event.at).toISOString() });
      return;
    case 'state': {
      send('state', {
        jobId: event.jobId,
        status: event.status,
        previous: event.previous,
        at: new Date(event.at).toISOString(),
        ...(event.error && { error: event.error }),
      });
      if (!isTerminal(event.status)) return;
      const record = await ctx.jobs.get(event.jobId);
      if (record) send('job', await viewOf(ctx, record));
      finish();
      return;
    }
    default:
      assertNever(event);
  }
}
