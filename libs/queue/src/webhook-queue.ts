import type { JobsOptions, Queue } from 'bullmq';

import type { BatchFinalStatus } from './batch-record.js';
import type { JobRecord } from './job-record.js';
import { isTerminal, type TerminalJobStatus } from './lifecycle.js';
import type { ResolvedQueueOptions } from './options.js';

/** BullMQ queue holding webhook deliveries (processed by the API process). */
export const WEBHOOK_QUEUE_NAME = 'webhooks';

/** One delivery to make: the job's terminal state, POSTed to `url` (the body is built at delivery). */
export interface JobWebhookData {
  /** Absent on deliveries queued before batches existed. */
  readonly subject?: 'job';
  readonly jobId: string;
  readonly url: string;
  readonly status: TerminalJobStatus;
  readonly at: number;
}

/** A batch's webhook: sent once per finalisation (again after a retry-failed round ends). */
export interface BatchWebhookData {
  readonly subject: 'batch';
  readonly batchId: string;
  readonly round: number;
  readonly url: string;
  readonly status: BatchFinalStatus;
  readonly at: number;
}

/** What the `webhooks` queue carries, discriminated on `subject`. */
export type WebhookJobData = JobWebhookData | BatchWebhookData;

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
  const data: JobWebhookData = { jobId: record.id, url: record.spec.webhook, status: record.status, at: record.updatedAt };
  await queue.add('deliver', data, { jobId: `wh-${record.id}` });
}

/** Schedules a finished batch's webhook (no-op without one); one delivery per batch round. */
export async function enqueueBatchWebhook(queue: Queue<WebhookJobData>, data: Omit<BatchWebhookData, 'subject'>): Promise<void> {
  await queue.add('deliver-batch', { subject: 'batch', ...data }, { jobId: `wh-${data.batchId}-r${data.round}` });
}
