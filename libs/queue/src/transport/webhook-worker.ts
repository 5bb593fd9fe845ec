import { DelayedError, Queue, UnrecoverableError, Worker, type Job } from 'bullmq';

import { observeStartup } from './bull-queues.js';
import { isRetryable } from '../domain/errors.js';
import { keyLayout } from './keys.js';
import { positiveInt, resolveQueueOptions, type QueueOptions } from './options.js';
import { closeRedis, createRedis } from './redis.js';
import { createWebhookOutbox } from './webhook-outbox.js';
import { parseWebhookTarget } from '../domain/webhook-policy.js';
import { WEBHOOK_QUEUE_NAME, webhookJobOptions, type WebhookJobData } from './webhook-queue.js';
import { WEBHOOK_BACKOFF_TYPE, webhookRetryDelayMs } from '../domain/webhook-retry.js';

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
   * Makes one attempt; resolves when the receiver accepted it. Throwing retries with the capped
   * backoff (up to `webhookAttempts`); an error with `retryable: false` gives up at once.
   */
  deliver: (delivery: WebhookDelivery) => Promise<void>;
  /** Deliveries in flight at once, all receivers together. @defaultValue 16 */
  concurrency?: number;
  /**
   * Deliveries in flight at once to one receiver (`host:port` of its URL) in this process. A
   * receiver that hangs holds at most this many slots; its other deliveries wait (delayed, no
   * attempt spent) while everyone else's go out. @defaultValue 2
   */
  perReceiverConcurrency?: number;
  /** How long a delivery to a receiver at its limit waits before it is looked at again. @defaultValue 1000 */
  receiverBusyDelayMs?: number;
  /**
   * How often the webhook outbox is swept for deliveries nobody relayed yet (written by a
   * transition in a GPU host, or left by a crash right after one). 0: only `relayNow()`. @defaultValue 1000
   */
  relayIntervalMs?: number;
  /** Called when a delivery failed for good. */
  onGiveUp?: (delivery: WebhookDelivery, err: Error) => void;
  onError?: (err: unknown) => void;
}

/** A running webhook worker; `close()` is repeat-safe and lets in-flight deliveries finish. */
export interface WebhookWorker {
  waitUntilReady(): Promise<void>;
  /** Sweeps the outbox now (e.g. on a terminal `state` event) instead of at the next interval. */
  relayNow(): void;
  close(): Promise<void>;
}

/**
 * Processes the `webhooks` queue with a caller-supplied delivery function (the API's HTTP POST),
 * relays the webhook outbox into it, retries with a capped doubling backoff computed from this
 * worker's options, and limits deliveries per receiver so that one slow receiver cannot hold
 * every slot.
 */
export function startWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const resolved = resolveQueueOptions(options);
  const concurrency = positiveInt('concurrency', options.concurrency, 16);
  const perReceiver = positiveInt('perReceiverConcurrency', options.perReceiverConcurrency, 2);
  const busyDelayMs = positiveInt('receiverBusyDelayMs', options.receiverBusyDelayMs, 1000);
  const relayIntervalMs = positiveInt('relayIntervalMs', options.relayIntervalMs, 1000, 0);
  const onError = options.onError ?? (() => undefined);
  const connection = createRedis(resolved.connection, 'bullmq');
  connection.on('error', onError);
  const relayConnection = createRedis(resolved.connection, 'bullmq');
  relayConnection.on('error', onError);
  const relayQueue = new Queue<WebhookJobData>(WEBHOOK_QUEUE_NAME, { connection: relayConnection, prefix: resolved.prefix, defaultJobOptions: webhookJobOptions(resolved) });
  relayQueue.on('error', onError);
  const outbox = createWebhookOutbox(relayConnection, keyLayout(resolved.prefix), relayQueue, onError);
  const inFlight = new Map<string, number>();

  const toDelivery = (job: Job<WebhookJobData>): WebhookDelivery => ({
    ...job.data,
    deliveryId: job.id ?? (job.data.subject === 'batch' ? job.data.batchId : job.data.jobId),
    attempt: job.attemptsMade + 1,
  });
  const receiverOf = (url: string): string => {
    const parsed = parseWebhookTarget(url);
    return parsed.ok ? parsed.target.receiverKey : url;
  };

  const worker = new Worker<WebhookJobData>(
    WEBHOOK_QUEUE_NAME,
    async (job, token) => {
      const receiver = receiverOf(job.data.url);
      const busy = inFlight.get(receiver) ?? 0;
      if (busy >= perReceiver) {
        // Step aside without spending an attempt; a little jitter keeps waiters from moving in lockstep.
        await job.moveToDelayed(Date.now() + busyDelayMs + Math.floor(Math.random() * busyDelayMs * 0.25), token);
        throw new DelayedError();
      }
      inFlight.set(receiver, busy + 1);
      try {
        await options.deliver(toDelivery(job));
      } catch (err) {
        if (!isRetryable(err)) throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
        throw err;
      } finally {
        const left = (inFlight.get(receiver) ?? 1) - 1;
        if (left > 0) inFlight.set(receiver, left);
        else inFlight.delete(receiver);
      }
    },
    {
      connection,
      prefix: resolved.prefix,
      concurrency,
      settings: {
        // Timing is this (delivering) worker's decision, whoever relayed the delivery.
        backoffStrategy: (attemptsMade: number, type?: string) =>
          type === WEBHOOK_BACKOFF_TYPE ? webhookRetryDelayMs(attemptsMade, resolved.webhookBackoffDelayMs, resolved.webhookBackoffMaxMs) : resolved.webhookBackoffDelayMs,
      },
    },
  );
  worker.on('error', onError);
  worker.on('failed', (job, err) => {
    if (!job) return;
    const finalAttempt = job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError';
    if (finalAttempt) options.onGiveUp?.(toDelivery(job), err);
  });

  let relaying: Promise<void> | undefined;
  let again = false;
  let closed = false;
  const relayNow = (): void => {
    if (closed) return;
    if (relaying) {
      again = true;
      return;
    }
    relaying = (async () => {
      do {
        again = false;
        while ((await outbox.relayPending(100)) === 100 && !closed);
      } while (again && !closed);
    })()
      .catch(onError)
      .finally(() => {
        relaying = undefined;
      });
  };
  const timer = relayIntervalMs > 0 ? setInterval(relayNow, relayIntervalMs) : undefined;
  timer?.unref();
  relayNow();

  const settleStartup = observeStartup([worker, relayQueue]);
  let closing: Promise<void> | undefined;
  return {
    waitUntilReady: async () => {
      await worker.waitUntilReady();
    },
    relayNow,
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(timer);
        await settleStartup();
        await relaying;
        await worker.close().catch(onError);
        await relayQueue.close().catch(onError);
        await closeRedis(relayConnection);
        await closeRedis(connection);
      })();
      return closing;
    },
  };
}
