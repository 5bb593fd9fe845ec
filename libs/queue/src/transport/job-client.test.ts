import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createJobClient, IdempotencyConflictError, JobNotFoundError, JobSpecError, type JobClient, type JobEvent } from '../index.js';
import { deletePrefix, TEST_REDIS_URL, testPrefix, waitFor } from '../test-fixtures/redis.js';

const digit = (prompt: string, extra: Record<string, unknown> = {}) => ({ type: 'image', model: 'digits', prompt, ...extra });

describe('job client (real Redis)', () => {
  let prefix: string;
  let client: JobClient;
  let redis: Redis;

  beforeEach(() => {
    prefix = testPrefix();
    client = createJobClient({ connection: TEST_REDIS_URL, prefix });
    redis = new Redis(TEST_REDIS_URL);
  });

  afterEach(async () => {
    await client.close();
    redis.disconnect();
    await deletePrefix(prefix);
  });

  it('records and enqueues a job with its priority, and reports its queue position', async () => {
    const { job, created } = await client.submit(digit('7', { seed: 42 }));
    expect(created).toBe(true);
    expect(job).toMatchObject({ status: 'queued', kind: 'image', attempts: 0, progress: { step: 0, steps: 50, percent: 0 } });
    expect(job.spec).toMatchObject({ seed: 42, classId: 7, priority: 50 });
    expect(await client.get(job.id)).toEqual(job);
    const queue = new Queue('image', { connection: { url: TEST_REDIS_URL }, prefix });
    const bull = await queue.getJob(job.id);
    expect(bull?.data).toEqual({ jobId: job.id });
    expect(bull?.opts.priority).toBe(51);
    expect(bull?.opts.attempts).toBe(3);
    expect(bull?.opts.removeOnComplete).toEqual({ age: 3600, count: 1000 });
    await queue.close();

    const low = (await client.submit(digit('1', { priority: 10 }))).job;
    const high = (await client.submit(digit('2', { priority: 90 }))).job;
    const same = (await client.submit(digit('3'))).job;
    expect(await client.queuePosition(high)).toBe(1);
    expect(await client.queuePosition(job)).toBe(2);
    expect(await client.queuePosition(same)).toBe(3);
    expect(await client.queuePosition(low)).toBe(4);
    const counts = await client.queueCounts();
    expect(counts.image.prioritized).toBe(4);
    expect(counts.video.prioritized).toBe(0);
  });

  it('gives the record a TTL so it outlives BullMQ retention, and draws a seed when absent', async () => {
    const { job } = await client.submit(digit('5'));
    const ttl = await redis.ttl(`${prefix}:job:${job.id}`);
    expect(ttl).toBeGreaterThan(7 * 24 * 3600 - 10);
    expect(job.spec.seed).toBeGreaterThanOrEqual(0);
    expect(job.spec.seed).toBeLessThan(2 ** 32);
  });

  it('rejects invalid specs without touching Redis', async () => {
    await expect(client.submit(digit('cat'))).rejects.toBeInstanceOf(JobSpecError);
    expect((await client.list({ limit: 10 })).jobs).toHaveLength(0);
  });

  it('returns the same job for a repeated Idempotency-Key, and refuses it for another body', async () => {
    const first = await client.submit(digit('4'), { idempotencyKey: 'abc' });
    const again = await client.submit({ prompt: '4', model: 'digits', type: 'image' }, { idempotencyKey: 'abc' });
    expect(again).toEqual({ job: first.job, created: false });
    await expect(client.submit(digit('5'), { idempotencyKey: 'abc' })).rejects.toBeInstanceOf(IdempotencyConflictError);
    // Scoped per client: another API key's "abc" is another job.
    const other = await client.submit(digit('4'), { idempotencyKey: 'abc', scope: 'key-2' });
    expect(other.created).toBe(true);
    expect(other.job.id).not.toBe(first.job.id);
    const [, idemKeys] = await redis.scan('0', 'MATCH', `${prefix}:idem:*`, 'COUNT', 1000);
    expect(idemKeys).toHaveLength(2);
    for (const key of idemKeys) expect(await redis.ttl(key)).toBeGreaterThan(24 * 3600 - 10);
  });

  it('creates exactly one job for concurrent submits with the same key', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => client.submit(digit('8'), { idempotencyKey: 'race' })));
    const ids = new Set(results.map((r) => r.job.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect((await client.queueCounts()).image.prioritized).toBe(1);
  });

  it('lists newest first with a stable cursor while new jobs arrive, filtered by status', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await client.submit(digit(String(i)))).job.id);
    const page1 = await client.list({ limit: 3 });
    expect(page1.jobs.map((j) => j.id)).toEqual(ids.slice(4).reverse());
    await client.submit(digit('9')); // a newcomer must not shift later pages
    const page2 = await client.list({ limit: 3, cursor: page1.nextCursor ?? '' });
    expect(page2.jobs.map((j) => j.id)).toEqual(ids.slice(1, 4).reverse());
    const page3 = await client.list({ limit: 3, cursor: page2.nextCursor ?? '' });
    expect(page3.jobs.map((j) => j.id)).toEqual([ids[0]]);
    expect(page3.nextCursor).toBeNull();

    await client.cancel(ids[2] ?? '');
    expect((await client.list({ status: 'canceled', limit: 10 })).jobs.map((j) => j.id)).toEqual([ids[2]]);
    expect((await client.list({ status: 'queued', limit: 100 })).jobs).toHaveLength(7);
  });

  it('cancels a queued job at once, idempotently, and removes it from BullMQ', async () => {
    const events: JobEvent[] = [];
    await client.onEvent((e) => events.push(e));
    const { job } = await client.submit(digit('6'));
    const first = await client.cancel(job.id);
    expect(first.pending).toBe(false);
    expect(first.job.status).toBe('canceled');
    expect(first.job.finishedAt).toBeGreaterThan(0);
    const second = await client.cancel(job.id);
    expect(second.job.status).toBe('canceled');
    expect(second.job.updatedAt).toBe(first.job.updatedAt);
    expect((await client.queueCounts()).image.prioritized).toBe(0);
    expect(await client.queuePosition(second.job)).toBeNull();
    await waitFor(() => events.some((e) => e.type === 'state' && e.status === 'canceled'), 5000, 'canceled event');
    expect(events.filter((e) => e.type === 'state').map((e) => (e.type === 'state' ? `${e.previous}->${e.status}` : ''))).toEqual([
      'null->queued',
      'queued->canceled',
    ]);
    expect(await client.terminalCounts()).toEqual({ 'image:canceled': 1 });
    await expect(client.cancel('job_00000000000000000000000000')).rejects.toBeInstanceOf(JobNotFoundError);
  });

  it('marks a quiet job whose BullMQ job vanished as lost', async () => {
    const quick = createJobClient({ connection: TEST_REDIS_URL, prefix, reconcileAfterMs: 0 });
    try {
      const { job } = await quick.submit(digit('3'));
      const queue = new Queue('image', { connection: { url: TEST_REDIS_URL }, prefix });
      await queue.remove(job.id);
      await queue.close();
      const seen = await quick.get(job.id);
      expect(seen).toMatchObject({ status: 'failed', error: { code: 'JOB_LOST' } });
    } finally {
      await quick.close();
    }
  });
});
