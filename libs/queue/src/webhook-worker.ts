import { UnrecoverableError, Worker, type Job } from 'bullmq';

import { observeStartup } from './bull-queues.js';
import { isRetryable } from './errors.js';
import { resolveQueueOptions, type QueueOptions } from './options.js';
import { closeRedis, createRedis } from './redis.js';
import { WEBHOOK_QUEUE_NAME, type WebhookJobData } from './webhook-queue.js';

/** One delivery attempt handed to the deliver function (a job's or a batch's, see `subject`). */
export type WebhookDelivery = WebhookJobData & {
  /** Same on every retry of one delivery, so receivers can de-duplicate. */
  readonly deliveryId: string;
  /** 1 for the first try. */
  readonly attempt: number;
};

/** Options of `startWebhookWorker`. */
export interface WebhookWorkerOptions extends QueueOptions {
  /**
   * Makes one attempt; resolves when the receiver accepted it. Throwing retries with exponential
   * backoff (up to `webhookAttempts`); an error with `retryable: false` gives up at once.
   */
  deliver: (delivery: WebhookDelivery) => Promise<void>;
  /** Deliveries in flight at once. @defaultValue 4 */
  concurrency?: number;
  /** Called when a delivery failed for good. */
  onGiveUp?: (delivery: WebhookDelivery, err: Error) => void;
  onError?: (err: unknown) => void;
}

/** A running webhook worker; `close()` is repeat-safe and lets in-flight deliveries finish. */
export interface WebhookWorker {
  waitUntilReady(): Promise<void>;
  close(): Promise<void>;
}

/** Processes the `webhooks` queue with a caller-supplied delivery function (the API's HTTP POST). */
export function startWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const resolved = resolveQueueOptions(options);
  const onError = options.onError ?? (() => undefined);
  const connection = createRedis(resolved.connection, 'bullmq');
  connection.on('error', onError);
  const toDelivery = (job: Job<WebhookJobData>): WebhookDelivery => ({
    ...job.data,
    deliveryId: job.id ?? (job.data.subject === 'batch' ? job.data.batchId : job.data.jobId),
    attempt: job.attemptsMade + 1,
  });
  const worker = new Worker<WebhookJobData>(
    WEBHOOK_QUEUE_NAME,
    async (job) => {
      try {
        await options.deliver(toDelivery(job));
      } catch (err) {
        if (!isRetryable(err)) throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
        throw err;
      }
    },
    { connection, prefix: resolved.prefix, concurrency: options.concurrency ?? 4 },
  );
  worker.on('error', onError);
  worker.on('failed', (job, err) => {
    if (!job) return;
    const finalAttempt = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
    if (finalAttempt) options.onGiveUp?.(toDelivery(job), err);
  });
  const settleStartup = observeStartup([worker]);
  let closing: Promise<void> | undefined;
  return {
    waitUntilReady: async () => {
      await worker.waitUntilReady();
    },
    close() {
      closing ??= (async () => {
        await settleStartup();
        await worker.close().catch(onError);
        await closeRedis(connection);
      })();
      return closing;
    },
  };
}
