import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createJobClient, createWebhookTargetGuard, startJobReconciler, type JobClient, type JobEvent, type JobReconciler } from '../index.js';
import { keyLayout } from './keys.js';
import { createRedisJobStore } from './redis-job-store.js';
import type { JobStore } from './job-store.js';
import { deletePrefix, TEST_REDIS_URL, testPrefix, waitFor } from '../test-fixtures/redis.js';

/** Background reconciliation against real Redis and BullMQ's own stalled-job checker. */
describe('job reconciler (real Redis)', () => {
  let prefix: string;
  let redis: Redis;
  let store: JobStore;
  const clients: JobClient[] = [];
  const closers: Array<() => Promise<unknown>> = [];

  beforeEach(() => {
    prefix = testPrefix();
    redis = new Redis(TEST_REDIS_URL);
    store = createRedisJobStore(redis, { keys: keyLayout(prefix), recordTtlSec: 3600, idempotencyTtlSec: 3600 });
  });
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    redis.disconnect();
    await deletePrefix(prefix);
  });

  const client = (reconcileAfterMs: number) => {
    const c = createJobClient({ connection: TEST_REDIS_URL, prefix, reconcileAfterMs, webhookGuard: createWebhookTargetGuard({ allowPrivate: true }) });
    clients.push(c);
    return c;
  };
  const reconciler = (jobs: JobClient, intervalMs = 200): JobReconciler => {
    const r = startJobReconciler({ jobs, intervalMs });
    closers.push(() => r.close());
    return r;
  };
  const digit = (webhook?: string) => ({ type: 'image', model: 'digits', prompt: '5', ...(webhook !== undefined && { webhook }) });

  it('fails a running job that BullMQ\'s stalled checker gave up on, with code STALLED, and announces it (event + webhook)', async () => {
    const jobs = client(0);
    const events: JobEvent[] = [];
    closers.push(await jobs.onEvent((e) => events.push(e)).then((off) => async () => off()));
    const { job } = await jobs.submit(digit('http://127.0.0.1:9/hook'));
    const workerConnection = { url: TEST_REDIS_URL, maxRetriesPerRequest: null };
    // A host that takes the job, marks it running, and dies holding it.
    const dead = new Worker(
      'image',
      async (bullJob) => {
        await store.transition(bullJob.id ?? '', 'running', { set: { host: 'dead-host', runId: 'dead-run' }, incrementAttempts: true });
        await new Promise(() => undefined);
      },
      { connection: workerConnection, prefix, lockDuration: 1000, stalledInterval: 1000, maxStalledCount: 0 },
    );
    await waitFor(async () => (await store.get(job.id))?.status === 'running', 10_000, 'the dead host to start');
    await dead.close(true);
    // Another host's worker runs BullMQ's stalled check; with maxStalledCount 0 the first stall fails the job.
    const checker = new Worker('image', async () => undefined, { connection: workerConnection, prefix, lockDuration: 1000, stalledInterval: 1000, maxStalledCount: 0, autorun: false });
    closers.push(() => checker.close());
    void checker.run();
    const queue = new Queue('image', { connection: workerConnection, prefix });
    closers.push(() => queue.close());
    await waitFor(async () => (await queue.getJobState(job.id)) === 'failed', 20_000, 'BullMQ to fail the stalled job');
    // Nobody reads the job through the client: only the background pass can notice.
    expect((await store.get(job.id))?.status).toBe('running');
    reconciler(jobs);
    const failed = await waitFor(async () => {
      const r = await store.get(job.id);
      return r?.status === 'failed' ? r : undefined;
    }, 10_000, 'the record to fail');
    expect(failed.error).toEqual({ code: 'STALLED', message: 'job stalled more than allowable limit' });
    await waitFor(() => events.some((e) => e.type === 'state' && e.jobId === job.id && e.status === 'failed'), 5000, 'the failed event');
    const delivery = await jobs.webhookQueue.getJob(`wh-${job.id}`);
    expect(delivery?.data).toMatchObject({ jobId: job.id, status: 'failed' });
  });

  it('fails a queued job whose BullMQ job is gone (JOB_LOST) once it has been quiet for the grace period, and leaves healthy ones alone', async () => {
    const patient = client(60_000);
    const { job: lost } = await patient.submit(digit());
    const { job: healthy } = await patient.submit(digit());
    await patient.bullQueues()[0]!.remove(lost.id);
    // Within the grace period nothing happens (it might be mid-submit).
    expect(await patient.reconcile()).toEqual({ checked: 0, failed: 0 });
    expect((await store.get(lost.id))?.status).toBe('queued');

    const quick = client(0);
    expect(await quick.reconcile()).toEqual({ checked: 2, failed: 1 });
    expect((await store.get(lost.id))?.error?.code).toBe('JOB_LOST');
    expect((await store.get(healthy.id))?.status).toBe('queued');
    expect(await quick.reconcile()).toEqual({ checked: 1, failed: 0 });
  });

  it('walks a long backlog across passes instead of rereading its head', async () => {
    const quick = client(0);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await quick.submit(digit())).job.id);
    await quick.bullQueues()[0]!.remove(ids[4]!);
    // Two records per status and pass: the lost one (newest) is reached on the third pass.
    const reports = [];
    for (let i = 0; i < 3; i++) reports.push(await quick.reconcile({ limit: 2 }));
    expect(reports.map((r) => r.failed)).toEqual([0, 0, 1]);
    expect((await store.get(ids[4]!))?.error?.code).toBe('JOB_LOST');
  });
});
