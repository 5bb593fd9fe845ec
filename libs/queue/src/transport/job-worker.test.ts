import { setTimeout as sleep } from 'node:timers/promises';

import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  createJobClient,
  createJobWorker,
  JobFailureError,
  LeaseLostError,
  outputKey,
  type JobClient,
  type JobEvent,
  type JobHandler,
  type JobWorker,
  type JobWorkerOptions,
} from '../index.js';
import { keyLayout } from './keys.js';
import { createRedisJobStore } from './redis-job-store.js';
import { deletePrefix, TEST_REDIS_URL, testPrefix, waitFor } from '../test-fixtures/redis.js';

interface Log {
  starts: string[];
  completions: string[];
  stepsSeen: number[];
}

/** A handler doing real asynchronous work: one timer per step, honouring the abort signal. */
function timerHandler(log: Log, stepMs: number, failures: Array<Error | null> = []): JobHandler {
  return async ({ job, signal, reportProgress }) => {
    log.starts.push(job.id);
    const failure = failures.shift();
    const steps = job.spec.steps;
    for (let step = 1; step <= steps; step++) {
      await sleep(stepMs, undefined, { signal });
      if (failure && step === 2) throw failure;
      log.stepsSeen.push(step);
      await reportProgress(step, steps, { phase: 'denoise' });
    }
    log.completions.push(job.id);
    return {
      outputs: [{ key: outputKey(job.id, 0, 'png'), contentType: 'image/png', bytes: 68, sha256: 'a'.repeat(64), kind: 'image' }],
      timings: { denoiseMs: steps * stepMs },
    };
  };
}

describe('job worker (real Redis, timer-based handler)', () => {
  let prefix: string;
  let client: JobClient;
  const workers: JobWorker[] = [];
  let log: Log;

  const startWorker = async (handler: JobHandler, extra: Partial<JobWorkerOptions> = {}): Promise<JobWorker> => {
    const worker = createJobWorker({ connection: TEST_REDIS_URL, prefix, queue: 'image', handler, backoffDelayMs: 50, ...extra });
    workers.push(worker);
    await worker.waitUntilReady();
    return worker;
  };
  const submit = async (steps: number, extra: Record<string, unknown> = {}) =>
    (await client.submit({ type: 'image', model: 'digits', prompt: '7', steps, ...extra })).job;
  const finished = (id: string, timeoutMs = 15_000) =>
    waitFor(async () => {
      const r = await client.get(id);
      return r && ['succeeded', 'failed', 'canceled'].includes(r.status) ? r : undefined;
    }, timeoutMs, `job ${id} to finish`);

  beforeEach(() => {
    prefix = testPrefix();
    client = createJobClient({ connection: TEST_REDIS_URL, prefix, backoffDelayMs: 50 });
    log = { starts: [], completions: [], stepsSeen: [] };
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
    await client.close();
    await deletePrefix(prefix);
  });

  it('runs a job, with progress visible in the store and as events, and stores outputs and timings', async () => {
    const events: JobEvent[] = [];
    await client.onEvent((e) => events.push(e));
    const worker = await startWorker(timerHandler(log, 40), { hostId: 'host-a' });
    const job = await submit(8);
    const midway = await waitFor(async () => {
      const r = await client.get(job.id);
      return r && r.status === 'running' && r.progress.step >= 3 ? r : undefined;
    }, 10_000, 'progress');
    expect(midway).toMatchObject({ host: 'host-a', attempts: 1, progress: { steps: 8, phase: 'denoise' } });
    expect(worker.activeJobs()).toEqual([job.id]);
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'succeeded', progress: { step: 8, steps: 8, percent: 100 }, attempts: 1 });
    expect(done.outputs).toEqual([{ key: `jobs/${job.id}/0000.png`, contentType: 'image/png', bytes: 68, sha256: 'a'.repeat(64), kind: 'image' }]);
    expect(done.timings).toMatchObject({ denoiseMs: 320 });
    expect(done.timings['runMs']).toBeGreaterThanOrEqual(320);
    expect(done.timings['queueMs']).toBeGreaterThanOrEqual(0);
    expect(done.startedAt).toBeLessThanOrEqual(done.finishedAt ?? 0);
    // The record changes first, its event is published right after: wait for it.
    await waitFor(() => events.some((e) => e.jobId === job.id && e.type === 'state' && e.status === 'succeeded'), 5000, 'succeeded event');
    const mine = events.filter((e) => e.jobId === job.id);
    expect(mine.filter((e) => e.type === 'progress').map((e) => (e.type === 'progress' ? e.progress.step : 0))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(mine.filter((e) => e.type === 'state').map((e) => (e.type === 'state' ? e.status : ''))).toEqual(['queued', 'running', 'succeeded']);
    expect(await client.terminalCounts()).toEqual({ 'image:succeeded': 1 });
  });

  it('with progressIntervalMs, writes progress about once per interval and always the last step', async () => {
    const events: JobEvent[] = [];
    await client.onEvent((e) => events.push(e));
    await startWorker(timerHandler(log, 10), { progressIntervalMs: 100 });
    const job = await submit(40);
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'succeeded', progress: { step: 40, steps: 40, percent: 100 } });
    await waitFor(() => events.some((e) => e.jobId === job.id && e.type === 'state' && e.status === 'succeeded'), 5000, 'succeeded event');
    const steps = events.filter((e) => e.jobId === job.id && e.type === 'progress').map((e) => (e.type === 'progress' ? e.progress.step : 0));
    // 40 steps of ≥ 10 ms take ≥ 400 ms: the first step, about one per 100 ms, and the last.
    expect(steps.length).toBeGreaterThanOrEqual(3);
    expect(steps.length).toBeLessThan(20);
    expect(steps[0]).toBe(1);
    expect(steps.at(-1)).toBe(40);
    for (let i = 1; i < steps.length; i++) expect(steps[i]!).toBeGreaterThan(steps[i - 1]!);
    // The handler awaited every report and was not held back to one step per interval.
    expect(log.stepsSeen).toHaveLength(40);
    expect(done.timings['runMs']).toBeLessThan(40 * 100);
  });

  it('stops a running job within one step when it is canceled, ending canceled', async () => {
    await startWorker(timerHandler(log, 100));
    const job = await submit(50);
    await waitFor(async () => ((await client.get(job.id))?.progress.step ?? 0) >= 2, 10_000, 'two steps');
    const stepsAtCancel = log.stepsSeen.length;
    const asked = await client.cancel(job.id);
    expect(asked.pending).toBe(true);
    expect(asked.job.status).toBe('running');
    expect(asked.job.cancelRequestedAt).toBeGreaterThan(0);
    const done = await finished(job.id, 5000);
    expect(done.status).toBe('canceled');
    expect(log.stepsSeen.length - stepsAtCancel).toBeLessThanOrEqual(1);
    expect(log.completions).toEqual([]);
    expect((await client.cancel(job.id)).job.status).toBe('canceled');
  });

  it('retries a retryable failure after backoff and then succeeds once', async () => {
    await startWorker(timerHandler(log, 10, [new Error('transient device hiccup')]));
    const job = await submit(4);
    const done = await finished(job.id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(2);
    expect(done.error).toBeUndefined();
    expect(log.starts).toEqual([job.id, job.id]);
    expect(log.completions).toEqual([job.id]);
  });

  it('fails a non-retryable error at once, with its code', async () => {
    await startWorker(timerHandler(log, 10, [new JobFailureError('MODEL_NOT_FOUND', 'no such model on this host', { retryable: false })]));
    const job = await submit(4);
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'MODEL_NOT_FOUND', message: 'no such model on this host' } });
    expect(log.starts).toHaveLength(1);
    const queue = new Queue('image', { connection: { url: TEST_REDIS_URL }, prefix });
    // The record is written before BullMQ moves the job, so wait for BullMQ to catch up.
    await waitFor(async () => (await queue.getJobState(job.id)) === 'failed', 5000, 'BullMQ failed');
    expect((await queue.getJob(job.id))?.attemptsMade).toBe(1);
    await queue.close();
  });

  it('fails after the last attempt of a retryable error', async () => {
    const boom = () => new Error('still broken');
    await startWorker(timerHandler(log, 5, [boom(), boom(), boom()]));
    const job = await submit(3);
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'JOB_FAILED', message: 'still broken' } });
  });

  it('hands a job back on close mid-job; another worker finishes it exactly once', async () => {
    const completedIds: string[] = [];
    const first = await startWorker(timerHandler(log, 60), { hostId: 'host-a' });
    const job = await submit(10);
    await waitFor(async () => ((await client.get(job.id))?.progress.step ?? 0) >= 2, 10_000, 'two steps');
    await first.close();
    await first.close(); // repeat-safe
    const handedBack = await client.get(job.id);
    expect(handedBack).toMatchObject({ status: 'queued', attempts: 1, progress: { step: 0 } });
    expect(handedBack?.runId).toBeUndefined();
    expect(await client.queuePosition(handedBack!)).toBe(1);

    const queue = new Queue('image', { connection: { url: TEST_REDIS_URL }, prefix });
    const bullBefore = await queue.getJob(job.id);
    expect(bullBefore?.attemptsMade).toBe(0);

    await startWorker(timerHandler(log, 10), { hostId: 'host-b' });
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'succeeded', host: 'host-b', attempts: 2 });
    completedIds.push(...log.completions);
    expect(completedIds).toEqual([job.id]);
    expect(log.starts).toEqual([job.id, job.id]);
    await waitFor(async () => (await queue.getJobState(job.id)) === 'completed', 5000, 'BullMQ completed');
    expect((await queue.getJob(job.id))?.returnvalue).toEqual({ status: 'succeeded' });
    await queue.close();
  });

  it('never starts a job canceled while queued', async () => {
    const job = await submit(3);
    await client.cancel(job.id);
    await startWorker(timerHandler(log, 5));
    const other = await submit(2);
    await finished(other.id);
    expect(log.starts).toEqual([other.id]);
    expect((await client.get(job.id))?.status).toBe('canceled');
  });

  it('keeps renewing its lock through a job longer than the lock (no stall, one run)', async () => {
    await startWorker(timerHandler(log, 150), { lockDurationMs: 1000, stalledIntervalMs: 1000 });
    const job = await submit(20); // 3 s, three lock lifetimes
    const done = await finished(job.id, 20_000);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(log.starts).toHaveLength(1);
  });

  it('recovers a job whose host died mid-run: re-queued as stalled, finished by another host, dead run fenced off', async () => {
    const job = await submit(3);
    const redis = new Redis(TEST_REDIS_URL);
    const store = createRedisJobStore(redis, { keys: keyLayout(prefix), recordTtlSec: 3600, idempotencyTtlSec: 3600 });
    // A "host" that takes the job, marks it running, then dies without a word.
    const dead = new Worker(
      'image',
      async (bullJob) => {
        await store.transition(bullJob.id ?? '', 'running', { set: { host: 'dead-host', runId: 'dead-run' }, incrementAttempts: true });
        await new Promise(() => undefined);
      },
      // Workers share BullMQ's stalled-check throttle key, so the dead one uses the same interval.
      { connection: { url: TEST_REDIS_URL, maxRetriesPerRequest: null }, prefix, lockDuration: 1000, stalledInterval: 1000 },
    );
    try {
      await waitFor(async () => (await client.get(job.id))?.host === 'dead-host', 10_000, 'dead host to start');
      await dead.close(true);
      await startWorker(timerHandler(log, 10), { hostId: 'host-b', lockDurationMs: 1000, stalledIntervalMs: 1000 });
      const done = await finished(job.id, 20_000);
      expect(done).toMatchObject({ status: 'succeeded', host: 'host-b', attempts: 2 });
      expect(log.completions).toEqual([job.id]);
      expect(await store.writeProgress(job.id, 'dead-run', { step: 1, steps: 3, percent: 33.3 })).toBe('lost');
    } finally {
      redis.disconnect();
    }
  });

  it('stops a run whose BullMQ lock is lost (LeaseLostError) at once; the stalled check hands the job on and it succeeds once', async () => {
    const reasons: unknown[] = [];
    const inner = timerHandler(log, 100);
    const handler: JobHandler = async (ctx) => {
      try {
        return await inner(ctx);
      } catch (err) {
        reasons.push(ctx.signal.reason);
        throw err;
      }
    };
    // A stalled check far away: only the failed lock renewal can stop this run.
    const first = await startWorker(handler, { lockDurationMs: 1000, stalledIntervalMs: 60_000 });
    const job = await submit(30); // 3 s
    const redis = new Redis(TEST_REDIS_URL);
    try {
      await waitFor(async () => ((await client.get(job.id))?.progress.step ?? 0) >= 2, 10_000, 'step 2');
      // The lock vanishes (it expired while the loop was blocked, a failover lost it): renewal fails.
      expect(await redis.del(`${prefix}:image:${job.id}:lock`)).toBe(1);
      await waitFor(() => reasons.length > 0, 2000, 'the run to stop');
      expect(reasons[0]).toBeInstanceOf(LeaseLostError);
      expect(log.stepsSeen.length).toBeLessThan(30);
      expect(log.completions).toEqual([]);
      // Nothing but the lock renewal noticed: the record still shows the stopped run.
      expect((await client.get(job.id))?.status).toBe('running');

      await first.close();
      await redis.del(`${prefix}:image:stalled-check`); // the first worker's throttle
      await startWorker(timerHandler(log, 10), { hostId: 'host-b', lockDurationMs: 1000, stalledIntervalMs: 1000 });
      const done = await finished(job.id, 30_000);
      expect(done).toMatchObject({ status: 'succeeded', attempts: 2, host: 'host-b' });
      expect(log.starts).toEqual([job.id, job.id]);
      expect(log.completions).toEqual([job.id]);
    } finally {
      redis.disconnect();
    }
  }, 40_000);
});
