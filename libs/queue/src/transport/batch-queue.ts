import type { JobsOptions } from 'bullmq';

/** BullMQ queue of batch parents: each runs the finaliser once all its children have ended. */
export const BATCH_QUEUE_NAME = 'batches';

/** What a batch parent carries: the batch and the flow round it closes. */
export interface BatchJobData {
  readonly batchId: string;
  readonly round: number;
}

/**
 * Parent jobs retry finalisation (storage briefly down) with backoff for about 17 minutes, and
 * are kept a day (done) or a week (given up) for inspection.
 */
export function batchParentOptions(): JobsOptions {
  return {
    attempts: 10,
    backoff: { type: 'exponential', delay: 2000 },
    removeOnComplete: { age: 24 * 3600, count: 10_000 },
    removeOnFail: { age: 7 * 24 * 3600, count: 10_000 },
  };
}
