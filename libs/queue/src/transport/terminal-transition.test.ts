import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createBatchClient, createJobClient, createWebhookTargetGuard, JOB_OVERHEAD_UNITS, ownerIdOfKey, type BatchClient, type JobClient } from '../index.js';
import type { JobStore } from './job-store.js';
import { keyLayout, type KeyLayout } from './keys.js';
import { createRedisJobStore } from './redis-job-store.js';
import { deletePrefix, TEST_REDIS_URL, testPrefix } from '../test-fixtures/redis.js';

const A = ownerIdOfKey('terminal-owner-a-0123456789');
const HOOK = 'http://127.0.0.1:9/hook';
/** digits is 16×16 (1 unit per step and image): a job costs steps × count + overhead. */
const cost = (steps: number) => steps + JOB_OVERHEAD_UNITS;

/**
 * The terminal transition is one Lua script that does two jobs at once: the webhook outbox write
 * and the owner's accounting (owner index, queued work, batch counters). These tests hold both to
 * the same transition, through every path that ends a job (the store, the client's cancel, the
 * reconciler), against real Redis. The webhook URL is never connected to.
 */
describe('terminal transition: outbox and accounting together (real Redis)', () => {
  let prefix: string;
  let keys: KeyLayout;
  let jobs: JobClient;
  let batches: BatchClient;
  let redis: Redis;
  let store: JobStore;

  beforeEach(() => {
    prefix = testPrefix();
    keys = keyLayout(prefix);
    jobs = createJobClient({ connection: TEST_REDIS_URL, prefix, reconcileAfterMs: 0, webhookGuard: createWebhookTargetGuard({ allowPrivate: true }) });
    batches = createBatchClient({ jobs });
    redis = new Redis(TEST_REDIS_URL);
    store = createRedisJobStore(redis, { keys, recordTtlSec: 3600, idempotencyTtlSec: 3600 });
  });
  afterEach(async () => {
    await batches.close();
    await jobs.close();
    redis.disconnect();
    await deletePrefix(prefix);
  });

  const digit = (steps: number, webhook?: string) => ({ type: 'image', model: 'digits', prompt: '5', steps, ...(webhook !== undefined && { webhook }) });
  const outbox = async () => (await redis.lrange(keys.webhookOutbox, 0, -1)).map((s) => JSON.parse(s) as Record<string, unknown>);
  const ownerIds = async (status: 'queued' | 'running' | 'failed' | 'canceled') => redis.zrange(keys.ownerIndex(A, status), 0, -1);

  it('ends a job with its webhook in the outbox and its work released, in one step; a refused transition does neither', async () => {
    const { job } = await jobs.submit(digit(20, HOOK), { owner: A });
    const { job: quiet } = await jobs.submit(digit(7), { owner: A });
    expect(await jobs.queuedWork(A)).toEqual({ owner: cost(20) + cost(7), total: cost(20) + cost(7) });

    const running = await store.transition(job.id, 'running', { set: { runId: 'r1' } });
    expect(running).toMatchObject({ ok: true, previous: 'queued' });
    expect(running.ok && running.webhookOutboxItem).toBeFalsy();
    expect(await ownerIds('running')).toEqual([job.id]);
    expect(await outbox()).toEqual([]);
    expect((await jobs.queuedWork(A)).owner).toBe(cost(20) + cost(7));

    const failed = await store.transition(job.id, 'failed', { runId: 'r1', set: { error: { code: 'X', message: 'x' } } });
    if (!failed.ok) throw new Error(`transition refused: ${failed.reason}`);
    expect(failed.record.status).toBe('failed');
    const items = await outbox();
    expect(items).toEqual([{ subject: 'job', event: 'completed', jobId: job.id, url: HOOK, status: 'failed', at: expect.any(Number) as number }]);
    expect(JSON.parse(failed.webhookOutboxItem ?? '{}')).toEqual(items[0]);
    expect(await jobs.queuedWork(A)).toEqual({ owner: cost(7), total: cost(7) });
    expect(await ownerIds('running')).toEqual([]);
    expect(await ownerIds('failed')).toEqual([job.id]);

    // Refused (failed is terminal): no second delivery, no second release.
    expect(await store.transition(job.id, 'canceled')).toMatchObject({ ok: false, reason: 'status', status: 'failed' });
    expect(await outbox()).toHaveLength(1);
    expect(await jobs.queuedWork(A)).toEqual({ owner: cost(7), total: cost(7) });

    // A job without a webhook: released, nothing in the outbox.
    await jobs.cancel(quiet.id);
    expect(await jobs.queuedWork(A)).toEqual({ owner: 0, total: 0 });
    expect(await outbox()).toHaveLength(1);
    expect(await ownerIds('canceled')).toEqual([quiet.id]);
  });

  it('writes a start delivery on the first start only, and only for webhooks that asked; completed only when asked', async () => {
    const { job } = await jobs.submit({ ...digit(5, HOOK), webhookEvents: ['start'] }, { owner: A });
    const first = await store.transition(job.id, 'running', { set: { runId: 'r1' }, incrementAttempts: true });
    expect(first.ok && JSON.parse(first.webhookOutboxItem ?? '{}')).toEqual({ subject: 'job', event: 'start', jobId: job.id, url: HOOK, status: 'running', at: expect.any(Number) as number });
    // Handed back and started again: attempts 2, no second start.
    await store.transition(job.id, 'queued', { runId: 'r1', remove: ['runId'] });
    const again = await store.transition(job.id, 'running', { set: { runId: 'r2' }, incrementAttempts: true });
    expect(again.ok && again.webhookOutboxItem).toBeFalsy();
    // Ends: it asked for start only.
    const ended = await store.transition(job.id, 'succeeded', { runId: 'r2' });
    expect(ended.ok && ended.webhookOutboxItem).toBeFalsy();
    expect((await outbox()).map((i) => i['event'])).toEqual(['start']);
    // The default (completed only) writes nothing at start.
    const { job: plain } = await jobs.submit(digit(5, HOOK), { owner: A });
    const started = await store.transition(plain.id, 'running', { set: { runId: 'r3' }, incrementAttempts: true });
    expect(started.ok && started.webhookOutboxItem).toBeFalsy();
  });

  it('stamps expiresAt and indexes it on a terminal state of a record with a retention (the run\'s own value when it wrote one)', async () => {
    const { job: a } = await jobs.submit(digit(3), { owner: A, outputRetentionSec: 60 });
    const { job: b } = await jobs.submit(digit(3), { owner: A, outputRetentionSec: 60 });
    const { job: keep } = await jobs.submit(digit(3), { owner: A });
    expect(a.outputRetentionSec).toBe(60);
    const canceled = await store.transition(a.id, 'canceled', { set: { finishedAt: 1 } });
    if (!canceled.ok) throw new Error('refused');
    const at = canceled.record.updatedAt;
    expect(canceled.record.expiresAt).toBe(at + 60_000);
    await store.transition(b.id, 'running', { set: { runId: 'r' }, incrementAttempts: true });
    const done = await store.transition(b.id, 'succeeded', { runId: 'r', set: { expiresAt: 1_234_567_890_123 } });
    expect(done.ok && done.record.expiresAt).toBe(1_234_567_890_123);
    await jobs.cancel(keep.id);
    expect((await store.get(keep.id))?.expiresAt).toBeUndefined();
    expect(await redis.zrange(keys.outputExpiry, 0, -1, 'WITHSCORES')).toEqual([b.id, '1234567890123', a.id, String(at + 60_000)]);
  });

  it('a job the reconciler fails (JOB_LOST) is announced to its webhook and gives its work back', async () => {
    const { job } = await jobs.submit(digit(12, HOOK), { owner: A });
    await jobs.bullQueues()[0]!.remove(job.id);
    expect(await jobs.reconcile()).toEqual({ checked: 1, failed: 1 });
    expect((await store.get(job.id))?.error?.code).toBe('JOB_LOST');
    // The client relays what the transition wrote at once: from the outbox into the webhooks queue.
    expect((await jobs.webhookQueue.getJob(`wh-${job.id}`))?.data).toMatchObject({ subject: 'job', jobId: job.id, url: HOOK, status: 'failed' });
    expect(await outbox()).toEqual([]);
    expect(await jobs.queuedWork(A)).toEqual({ owner: 0, total: 0 });
    expect(await ownerIds('failed')).toEqual([job.id]);
  });

  it('a batch child ends with its batch counters and work updated, and its own webhook (if any) stays the batch\'s', async () => {
    const { batch } = await batches.submit({ webhook: HOOK, jobs: [digit(3), digit(4)] }, { owner: A });
    expect(batch.counters).toEqual({ queued: 2, running: 0, succeeded: 0, failed: 0, canceled: 0 });
    const children = (await jobs.list({ limit: 10, owner: A })).jobs;
    expect(children).toHaveLength(2);
    const first = children.find((c) => c.spec.steps === 3)!;
    await jobs.cancel(first.id);
    const after = await batches.get(batch.id);
    expect(after?.counters).toEqual({ queued: 1, running: 0, succeeded: 0, failed: 0, canceled: 1 });
    expect(after?.lastFinishedAt).toBeGreaterThanOrEqual(batch.createdAt);
    expect(await jobs.queuedWork(A)).toEqual({ owner: cost(4), total: cost(4) });
    // Children carry no webhook of their own: the batch's is delivered once, when the batch ends.
    expect(await outbox()).toEqual([]);
  });
});
