import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { BatchClient, JobClient } from '@asyncdiff/queue';
import type { Router } from 'express';

/** Where bull-board is mounted. */
export const BULL_BOARD_PATH = '/admin/queues';

/**
 * bull-board for deep inspection of the BullMQ queues (image, video, webhooks, batches), in
 * read-only mode: every change to a job must go through our lifecycle (records, events,
 * webhooks), which bull-board's retry/promote/clean buttons would bypass — the dashboard's
 * actions do it properly. Behind the same access check as the dashboard.
 */
export function bullBoardRouter(jobs: JobClient, batches: BatchClient | undefined): Router {
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  const queues = [...jobs.bullQueues(), ...(batches ? [batches.queue] : [])];
  createBullBoard({
    queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: true })),
    // @bull-board/express 9.10.1 pins its own @bull-board/api 9.10.1 beside our 9.10.2: the two
    // adapter types differ by a private field only; at run time they interoperate (tested).
    serverAdapter: serverAdapter as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
    options: { uiConfig: { boardTitle: 'asyncdiff queues' } },
  });
  return serverAdapter.getRouter() as Router;
}
