import { randomUUID } from 'node:crypto';

import { MetricsTime, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { z } from 'zod';

import { transitionJob, type LifecycleDeps } from './announce.js';
import { createBullQueue, queueNameFor, type QueueJobData } from './bull-queues.js';
import { errorInfo, isRetryable, JobCanceledError, JobFailureError, LeaseLostError, WorkerShutdownError } from '../domain/errors.js';
import { createEventBus, type Unsubscribe } from './event-bus.js';
import type { JobPreview } from '../domain/events.js';
import { initialProgress, jobOutputSchema, jobWarningsSchema, makeProgress, type JobRecord } from '../domain/job-record.js';
import type { JobHandlerResult, JobWorker, JobWorkerOptions } from './job-worker.js';
import { keyLayout } from './keys.js';
import { resolveQueueOptions } from './options.js';
import { closeRedis, createRedis } from './redis.js';
import { createRedisJobStore } from './redis-job-store.js';
import { throttleProgress } from './progress-throttle.js';
import { resolveJobWorkerOptions } from './worker-options.js';

/** What the BullMQ job completes with (visible in bull-board). */
interface RunSummary {
  readonly status: string;
  readonly skipped?: boolean;
}

interface ActiveRun {
  readonly controller: AbortController;
  readonly runId: string;
}

const outputsSchema = z.array(jobOutputSchema);
const timingsSchema = z.record(z.string(), z.number().finite()).optional();

/**
 * The GPU-host side: a BullMQ worker that keeps the job record in step with the run (see
 * `JobWorker`). Lifecycle per job: queued → running (host, runId) → succeeded | failed |
 * canceled, or back to queued on shutdown (BullMQ `moveToWait` + `WaitingError`, so no attempt is
 * spent) and on a retryable failure (BullMQ retries it after exponential backoff).
 */
export function createJobWorker(options: JobWorkerOptions): JobWorker {
  const queueOptions = resolveQueueOptions(options);
  const config = resolveJobWorkerOptions(options);
  const onError = options.onError ?? (() => undefined);
  const handler = options.handler;
  const keys = keyLayout(queueOptions.prefix);
  const redis = createRedis(queueOptions.connection, 'command');
  redis.on('error', onError);
  const bullConnection = createRedis(queueOptions.connection, 'bullmq');
  bullConnection.on('error', onError);
  const store = createRedisJobStore(redis, { keys, recordTtlSec: queueOptions.recordTtlSec, idempotencyTtlSec: queueOptions.idempotencyTtlSec });
  const bus = createEventBus(redis, queueOptions.connection, keys);
  const jobQueue = createBullQueue<QueueJobData>(queueNameFor(config.queue), bullConnection, queueOptions, {});
  jobQueue.on('error', onError);
  // No outbox relay here: webhook deliveries a terminal transition writes wait in the outbox for
  // the API's relay (woken by the state event), which adds them with the API's retry settings.
  const deps: LifecycleDeps = { store, bus, onError };
  const active = new Map<string, ActiveRun>();
  let shuttingDown = false;
  let closing: Promise<void> | undefined;
  let unsubscribe: Unsubscribe | undefined;

  const processor = async (job: Job<QueueJobData>, token?: string): Promise<RunSummary> => {
    const id = job.data.jobId;
    const before = await store.get(id);
    if (!before) throw new UnrecoverableError(`job record ${id} is missing`);
    const runId = randomUUID();
    const startedAt = Date.now();
    const start = await transitionJob(deps, id, 'running', {
      set: { host: config.hostId, runId, startedAt, progress: initialProgress(before.spec.steps) },
      remove: ['finishedAt', 'expiresAt'],
      incrementAttempts: true,
    });
    // Not startable: it was canceled while queued, or an earlier delivery already finished it.
    if (!start.ok) return { status: start.status ?? 'missing', skipped: true };

    const controller = new AbortController();
    active.set(id, { controller, runId });
    try {
      if (shuttingDown) controller.abort(new WorkerShutdownError(id));
      else if (await store.isCancelRequested(id)) controller.abort(new JobCanceledError(id));
      const result = await runHandler(start.record, runId, controller);
      return await succeed(start.record, runId, startedAt, result);
    } catch (err) {
      return await handleFailure(job, token, start.record, runId, startedAt, controller.signal, err);
    } finally {
      active.delete(id);
    }
  };

  const runHandler = async (record: JobRecord, runId: string, controller: AbortController): Promise<JobHandlerResult> => {
    const progress = throttleProgress(config.progressIntervalMs, async (p) => {
      try {
        if (controller.signal.aborted) return;
        const verdict = await store.writeProgress(record.id, runId, p);
        if (verdict === 'lost') return controller.abort(new LeaseLostError(record.id));
        await bus.publish({ type: 'progress', jobId: record.id, kind: record.kind, progress: p, at: Date.now() });
        if (verdict === 'cancel') controller.abort(new JobCanceledError(record.id));
      } catch (err) {
        onError(err);
      }
    });
    const reportProgress = (step: number, steps: number, extra?: { phase?: string }): Promise<void> => progress.report(makeProgress(step, steps, extra?.phase));
    // Previews bypass the progress chain: a slow progress write must not hold a preview back.
    const reportPreview = async (preview: JobPreview): Promise<void> => {
      if (controller.signal.aborted) return;
      await bus.publish({ type: 'preview', jobId: record.id, kind: record.kind, ...preview, at: Date.now() }).catch(onError);
    };
    try {
      if (controller.signal.aborted) throw controller.signal.reason;
      return await handler({ job: record, signal: controller.signal, reportProgress, reportPreview });
    } finally {
      await progress.flush();
    }
  };

  const succeed = async (record: JobRecord, runId: string, startedAt: number, result: JobHandlerResult): Promise<RunSummary> => {
    const outputs = outputsSchema.safeParse(result?.outputs);
    const handlerTimings = timingsSchema.safeParse(result?.timings);
    const warnings = jobWarningsSchema.safeParse(result?.warnings ?? []);
    if (!outputs.success || !handlerTimings.success || !warnings.success) {
      throw new JobFailureError('INVALID_HANDLER_RESULT', 'the job handler returned malformed outputs or timings', { retryable: false });
    }
    const finishedAt = Date.now();
    const timings = { ...handlerTimings.data, queueMs: startedAt - record.createdAt, runMs: finishedAt - startedAt };
    const done = await transitionJob(deps, record.id, 'succeeded', {
      runId,
      set: {
        outputs: outputs.data,
        timings,
        finishedAt,
        progress: makeProgress(record.progress.steps, record.progress.steps),
        ...(warnings.data.length > 0 && { warnings: warnings.data }),
        // The run's own expiry (it wrote it into job.json too); the transition computes one otherwise.
        ...(record.outputRetentionSec !== undefined && typeof result?.expiresAt === 'number' && Number.isSafeInteger(result.expiresAt) && { expiresAt: result.expiresAt }),
      },
      remove: ['error', ...(warnings.data.length > 0 ? [] : ['warnings'])],
    });
    if (!done.ok) onError(new LeaseLostError(record.id));
    return { status: 'succeeded' };
  };

  const handleFailure = async (
    job: Job<QueueJobData>,
    token: string | undefined,
    record: JobRecord,
    runId: string,
    startedAt: number,
    signal: AbortSignal,
    err: unknown,
  ): Promise<RunSummary> => {
    const reason: unknown = signal.aborted ? signal.reason : undefined;
    const id = record.id;
    if (reason instanceof JobCanceledError) {
      await transitionJob(deps, id, 'canceled', { runId, set: { finishedAt: Date.now() } });
      return { status: 'canceled' };
    }
    if (reason instanceof WorkerShutdownError) {
      // Hand the job back: record → queued, BullMQ active → wait (front of its priority), no attempt spent.
      await transitionJob(deps, id, 'queued', { runId, set: { progress: initialProgress(record.spec.steps) }, remove: ['runId'] });
      await job.moveToWait(token).catch(onError); // if this fails, stalled-job recovery re-queues it
      throw new WaitingError();
    }
    // Another run owns the job now (took it over after a stall): leave both record and BullMQ alone.
    if (reason instanceof LeaseLostError) throw new WaitingError();

    const info = errorInfo(err);
    const retryable = isRetryable(err);
    if (retryable && job.attemptsMade + 1 < (job.opts.attempts ?? 1)) {
      await transitionJob(deps, id, 'queued', { runId, set: { error: info, progress: initialProgress(record.spec.steps) }, remove: ['runId'] });
      throw err instanceof Error ? err : new Error(info.message);
    }
    const finishedAt = Date.now();
    await transitionJob(deps, id, 'failed', {
      runId,
      set: { error: info, finishedAt, timings: { queueMs: startedAt - record.createdAt, runMs: finishedAt - startedAt } },
    });
    throw retryable && err instanceof Error ? err : new UnrecoverableError(info.message);
  };

  const worker = new Worker<QueueJobData, RunSummary>(queueNameFor(config.queue), processor, {
    connection: bullConnection,
    prefix: queueOptions.prefix,
    concurrency: config.concurrency,
    lockDuration: config.lockDurationMs,
    stalledInterval: config.stalledIntervalMs,
    maxStalledCount: config.maxStalledCount,
    autorun: false,
    // BullMQ's built-in per-minute completed/failed counts (`Queue.getMetrics`), a day of them:
    // the dashboard's throughput chart reads them.
    metrics: { maxDataPoints: MetricsTime.ONE_HOUR * 24 },
  });
  worker.on('error', onError);
  // BullMQ could not renew a job's lock: it expired (a blocked event loop, a Redis failover) and
  // another worker may hold the job already. This run no longer owns it: stop it (LeaseLostError),
  // and the stalled-job check hands the job to whoever runs it next.
  worker.on('lockRenewalFailed', (jobIds: string[]) => {
    for (const jobId of jobIds) active.get(jobId)?.controller.abort(new LeaseLostError(jobId));
  });
  // A host died holding a job and BullMQ re-queued it: mirror that in the record. Read the record
  // first, then ask BullMQ: if a worker picked the job up in between, the state is no longer
  // waiting, or its new runId turns the guarded transition into a no-op.
  worker.on('stalled', (jobId: string) => {
    void (async () => {
      const record = await store.get(jobId);
      if (record?.status !== 'running' || !record.runId) return;
      const state = await jobQueue.getJobState(jobId);
      if (state !== 'waiting' && state !== 'prioritized') return;
      await transitionJob(deps, jobId, 'queued', { runId: record.runId, set: { progress: initialProgress(record.spec.steps) }, remove: ['runId'] });
    })().catch(onError);
  });

  let started = false;
  const run = (): void => {
    if (started || closing) return;
    started = true;
    worker.run().catch(onError);
  };
  const ready = (async () => {
    unsubscribe = await bus.onControl((message) => {
      if (message.type === 'cancel') active.get(message.jobId)?.controller.abort(new JobCanceledError(message.jobId));
    });
    if (config.autorun) run();
  })();
  ready.catch(onError);

  return {
    hostId: config.hostId,
    kind: config.queue,
    activeJobs: () => [...active.keys()],
    run,
    async waitUntilReady() {
      await ready;
      await worker.waitUntilReady();
    },
    close(closeOptions = {}) {
      closing ??= (async () => {
        const graceMs = closeOptions.graceMs ?? config.shutdownGraceMs;
        const abortAll = () => {
          shuttingDown = true;
          for (const [id, run_] of active) run_.controller.abort(new WorkerShutdownError(id));
        };
        await ready.catch(() => undefined);
        const stopped = worker.close();
        const timer = graceMs > 0 ? setTimeout(abortAll, graceMs) : undefined;
        if (!timer) abortAll();
        for (const step of [
          () => stopped,
          async () => unsubscribe?.(),
          () => bus.close(),
          () => jobQueue.close(),
          () => closeRedis(bullConnection),
          () => closeRedis(redis),
        ]) {
          try {
            await step();
          } catch (err) {
            onError(err);
          }
        }
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
