import { Queue, type JobsOptions } from 'bullmq';

import type { JobKind } from '../domain/job-spec.js';
import type { ResolvedQueueOptions } from './options.js';
import type { RedisClient } from './redis.js';

/** What a BullMQ job of the `image`/`video` queues carries: only the id; the record has the rest. */
export interface QueueJobData {
  readonly jobId: string;
}

/** BullMQ queue name of a job kind. */
export function queueNameFor(kind: JobKind): string {
  return kind;
}

/**
 * Default BullMQ job options: bounded retries with exponential backoff, and retention by age and
 * count (our own record outlives both, so `GET /v1/jobs/:id` keeps working after BullMQ forgets).
 */
export function bullJobOptions(options: ResolvedQueueOptions): JobsOptions {
  return {
    attempts: options.attempts,
    backoff: { type: 'exponential', delay: options.backoffDelayMs },
    removeOnComplete: { age: options.removeOnCompleteAgeSec, count: options.removeOnCompleteCount },
    removeOnFail: { age: options.removeOnFailAgeSec, count: options.removeOnFailCount },
  };
}

/** A producer-side BullMQ queue for `name` on a shared connection (the caller closes it). */
export function createBullQueue<T>(name: string, connection: RedisClient, options: ResolvedQueueOptions, defaults: JobsOptions): Queue<T> {
  return new Queue<T>(name, { connection, prefix: options.prefix, defaultJobOptions: defaults });
}

/**
 * BullMQ does not settle the start-up (INFO) of a Queue/Worker/FlowProducer that is closed while
 * it runs, which surfaces as an unhandled rejection. Observe the start-up of each object now;
 * the returned function waits for them (at most `ms`) and is called first thing in `close()`.
 */
export function observeStartup(objects: readonly { waitUntilReady(): Promise<unknown> }[], ms = 2000): () => Promise<void> {
  const started = Promise.all(objects.map((o) => o.waitUntilReady().then(() => undefined, () => undefined)));
  return async () => {
    await Promise.race([started, new Promise((r) => setTimeout(r, ms).unref())]);
  };
}
