import { Worker } from 'bullmq';

import type { BatchClient, FinalizationInput, FinalizationOutcome } from './batch-client.js';
import { BATCH_QUEUE_NAME, type BatchJobData } from './batch-queue.js';
import { observeStartup } from './bull-queues.js';
import type { BatchFinalStatus } from '../domain/batch-record.js';
import { resolveQueueOptions, type QueueOptions } from './options.js';
import { closeRedis, createRedis } from './redis.js';

/** Options of `startBatchWorker`. */
export interface BatchWorkerOptions extends QueueOptions {
  readonly batches: BatchClient;
  /**
   * Writes the batch's artefacts (manifest, contact sheet) and says where. Throwing retries the
   * finalisation with backoff; it must be idempotent (it may run again for the same round).
   */
  readonly finalize: (input: FinalizationInput) => Promise<FinalizationOutcome>;
  /** Batches finalised at once. @defaultValue 1 */
  readonly concurrency?: number;
  /** How often to look for batches whose flow cannot complete (see `BatchClient.sweep`); 0 disables. @defaultValue 60000 */
  readonly sweepIntervalMs?: number;
  /** Called after a batch was closed. */
  readonly onFinalized?: (batchId: string, status: BatchFinalStatus, ms: number) => void;
  readonly onError?: (err: unknown) => void;
}

/** A running batch worker; `close()` is repeat-safe and lets a running finalisation end. */
export interface BatchWorker {
  waitUntilReady(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Processes the `batches` queue: a parent job becomes runnable when all children of its round
 * have ended (completed, or failed with `ignoreDependencyOnFailure`, or removed by a cancel).
 * The worker then checks that *every* current child of the batch has ended (a later retry round
 * may still run), finalises, and closes the batch unless a retry reopened it meanwhile.
 */
export function startBatchWorker(options: BatchWorkerOptions): BatchWorker {
  const resolved = resolveQueueOptions(options);
  const onError = options.onError ?? (() => undefined);
  const connection = createRedis(resolved.connection, 'bullmq');
  connection.on('error', onError);
  const worker = new Worker<BatchJobData, { status: string }>(
    BATCH_QUEUE_NAME,
    async (job) => {
      const started = Date.now();
      const input = await options.batches.prepareFinalization(job.data.batchId);
      if (!input) return { status: 'pending' };
      const outcome = await options.finalize(input);
      const committed = await options.batches.commitFinalization(input, outcome);
      if (committed) options.onFinalized?.(input.record.id, input.status, Date.now() - started);
      return { status: committed ? input.status : 'superseded' };
    },
    { connection, prefix: resolved.prefix, concurrency: options.concurrency ?? 1, lockDuration: 60_000 },
  );
  worker.on('error', onError);
  worker.on('failed', (_job, err) => onError(err));
  const settleStartup = observeStartup([worker]);
  const sweepMs = options.sweepIntervalMs ?? 60_000;
  const sweeper = sweepMs > 0 ? setInterval(() => void options.batches.sweep({ quietMs: sweepMs }).catch(onError), sweepMs) : undefined;
  sweeper?.unref();
  let closing: Promise<void> | undefined;
  return {
    waitUntilReady: async () => {
      await worker.waitUntilReady();
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweeper);
        await settleStartup();
        await worker.close().catch(onError);
        await closeRedis(connection);
      })();
      return closing;
    },
  };
}
