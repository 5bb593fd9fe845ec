import type { JobsOptions, Queue } from 'bullmq';

import type { JobRecord } from './job-record.js';
import { isTerminal, type TerminalJobStatus } from './lifecycle.js';
import type { ResolvedQueueOptions } from './options.js';

/** BullMQ queue holding webhook deliveries (processed by the API process). */
export const WEBHOOK_QUEUE_NAME = 'webhooks';

/** One delivery to make: the job's terminal state, POSTed to `url` (the body is built at delivery). */
export interface WebhookJobData {
  readonly jobId: string;
  readonly url: string;
  readonly status: TerminalJobStatus;
  readonly at: number;
}

/** Retries with exponential backoff; deliveries are kept a day (done) or a week (given up). */
export function webhookJobOptions(options: ResolvedQueueOptions): JobsOptions {
  return {
    attempts: options.webhookAttempts,
    backoff: { type: 'exponential', delay: options.webhookBackoffDelayMs },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}

/**
 * Schedules the webhook of a job that reached a terminal state (no-op without a webhook URL).
 * The BullMQ id `wh-<jobId>` makes a duplicate enqueue of the same job a no-op.
 */
export async function enqueueWebhook(queue: Queue<WebhookJobData>, record: JobRecord): Promise<void> {
  if (!record.spec.webhook || !isTerminal(record.status)) return;
  const data: WebhookJobData = { jobId: record.id, url: record.spec.webhook, status: record.status, at: record.updatedAt };
  await queue.add('deliver', data, { jobId: `wh-${record.id}` });
}
