import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  createBatchClient,
  createJobClient,
  createJobWorker,
  createModelCatalog,
  JOB_OVERHEAD_UNITS,
  ownerIdOfKey,
  QueuedWorkLimitError,
  resolveJobSpec,
  sampleSizeOf,
  WorkTooLargeError,
  workUnits,
  workUnitsOf,
  type BatchClient,
  type JobClient,
  type JobEvent,
  type JobWorker,
} from '../index.js';
import { deletePrefix, TEST_REDIS_URL, testPrefix, waitFor } from '../test-fixtures/redis.js';

const A = ownerIdOfKey('owner-a-key-0123456789');
const B = ownerIdOfKey('owner-b-key-0123456789');
const digit = (prompt: string, extra: Record<string, unknown> = {}) => ({ type: 'image', model: 'digits', prompt, ...extra });
/** digits is 16×16 (1 unit per step and image), so a job costs steps × count + overhead. */
const cost = (steps: number, count = 1) => steps * count + JOB_OVERHEAD_UNITS;

describe('work units', () => {
  it('scale with steps, count, frames and pixels (rounded up to 256-pixel units), plus a fixed overhead', () => {
    expect(JOB_OVERHEAD_UNITS).toBe(50);
    expect(workUnits({ steps: 50, count: 1 }, { frames: 1, height: 16, width: 16 })).toBe(100);
    expect(workUnits({ steps: 50, count: 4 }, { frames: 1, height: 16, width: 16 })).toBe(250);
    expect(workUnits({ steps: 10, count: 1 }, { frames: 8, height: 16, width: 16 })).toBe(130);
    expect(workUnits({ steps: 1, count: 1 }, { frames: 1, height: 64, width: 64 })).toBe(66);
    expect(workUnits({ steps: 1, count: 1 }, { frames: 1, height: 10, width: 10 })).toBe(51);
    // The example: 5,000 children × 1,000 steps × count 16.
    expect(5000 * workUnits({ steps: 1000, count: 16 }, { frames: 1, height: 16, width: 16 })).toBe(80_250_000);
  });

  it('costs a text-to-image job by its latent: the requested size over the VAE\'s 8 pixels per cell', () => {
    const catalog = createModelCatalog(fileURLToPath(new URL('../../../../test/fixtures/pipelines', import.meta.url)));
    const sd = catalog.find('tiny-sd15');
    if (!sd) throw new Error('tiny-sd15 fixture missing');
    const spec = resolveJobSpec({ type: 'image', model: 'tiny-sd15', prompt: 'a red cube', width: 128, height: 96, steps: 10, count: 2 }, catalog);
    expect(sampleSizeOf(spec, sd)).toEqual({ frames: 1, height: 12, width: 16 });
    expect(workUnitsOf(spec, catalog)).toBe(10 * 2 * 1 + JOB_OVERHEAD_UNITS);
    // Defaults (64×64 → 8×8), and a 512×512 request (64×64 latent: 16 units per step and image).
    expect(sampleSizeOf({}, sd)).toEqual({ frames: 1, height: 8, width: 8 });
    expect(workUnits({ steps: 50, count: 1 }, sampleSizeOf({ text: { width: 512, height: 512 } }, sd))).toBe(50 * 16 + JOB_OVERHEAD_UNITS);
    // Class models keep their own sample.
    const digits = createModelCatalog().find('digits');
    if (!digits) throw new Error('digits missing');
    expect(sampleSizeOf({}, digits)).toMatchObject({ frames: 1, height: 16, width: 16 });
  });

  it('derives owner ids from keys: stable, prefixed, never the key', () => {
    expect(A).toMatch(/^key_[0-9a-f]{16}$/);
    expect(ownerIdOfKey('owner-a-key-0123456789')).toBe(A);
    expect(A).not.toBe(B);
    expect(A).not.toContain('owner-a');
  });
});

describe('owners, queued work and batch counters (real Redis)', () => {
  let prefix: string;
  let jobs: JobClient;
  let batches: BatchClient;
  let redis: Redis;
  const workers: JobWorker[] = [];

  beforeEach(() => {
    prefix = testPrefix();
    jobs = createJobClient({ connection: TEST_REDIS_URL, prefix });
    batches = createBatchClient({ jobs });
    redis = new Redis(TEST_REDIS_URL);
  });

  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.close()));
    await batches.close();
    await jobs.close();
    redis.disconnect();
    await deletePrefix(prefix);
  });

  const worker = async (fail?: (seed: number) => boolean) => {
    const w = createJobWorker({
      connection: TEST_REDIS_URL,
      prefix,
      queue: 'image',
      concurrency: 4,
      backoffDelayMs: 10,
      handler: async ({ job }) => {
        await sleep(5);
        if (fail?.(job.spec.seed)) throw Object.assign(new Error('unlucky'), { retryable: false, code: 'UNLUCKY' });
        return { outputs: [], timings: {} };
      },
    });
    workers.push(w);
    await w.waitUntilReady();
    return w;
  };

  it('records the owner, lists per owner (also by status) from the owner index', async () => {
    const a1 = (await jobs.submit(digit('1'), { owner: A })).job;
    const b1 = (await jobs.submit(digit('2'), { owner: B })).job;
    const a2 = (await jobs.submit(digit('3'), { owner: A })).job;
    expect(a1.owner).toBe(A);
    expect(await jobs.get(a1.id)).toEqual(a1);
    expect((await jobs.list({ limit: 10, owner: A })).jobs.map((j) => j.id)).toEqual([a2.id, a1.id]);
    expect((await jobs.list({ limit: 10, owner: B })).jobs.map((j) => j.id)).toEqual([b1.id]);
    expect((await jobs.list({ limit: 10 })).jobs.map((j) => j.id)).toEqual([a2.id, b1.id, a1.id]);
    await jobs.cancel(a1.id);
    expect((await jobs.list({ limit: 10, owner: A, status: 'canceled' })).jobs.map((j) => j.id)).toEqual([a1.id]);
    expect((await jobs.list({ limit: 10, owner: A, status: 'queued' })).jobs.map((j) => j.id)).toEqual([a2.id]);
    expect((await jobs.list({ limit: 10, owner: B, status: 'canceled' })).jobs).toEqual([]);
    // Pages of one owner's listing.
    const page1 = await jobs.list({ limit: 1, owner: A });
    const page2 = await jobs.list({ limit: 1, owner: A, cursor: page1.nextCursor ?? '' });
    expect([...page1.jobs, ...page2.jobs].map((j) => j.id)).toEqual([a2.id, a1.id]);
    expect(page2.nextCursor).toBeNull();
    // Without an owner, jobs belong to the anonymous owner.
    expect((await jobs.submit(digit('4'))).job.owner).toBe('anonymous');
  });

  it('counts queued work at submit and releases it at the terminal transition', async () => {
    await jobs.submit(digit('1', { steps: 20 }), { owner: A });
    const { job: canceled } = await jobs.submit(digit('2', { steps: 30, count: 2 }), { owner: A });
    await jobs.submit(digit('3', { steps: 5 }), { owner: B });
    expect(canceled.work).toBe(cost(30, 2));
    expect(await jobs.queuedWork(A)).toEqual({ owner: cost(20) + cost(30, 2), total: cost(20) + cost(30, 2) + cost(5) });
    await jobs.cancel(canceled.id);
    await jobs.cancel(canceled.id); // repeat-safe: released once
    expect(await jobs.queuedWork(A)).toEqual({ owner: cost(20), total: cost(20) + cost(5) });
    await worker();
    await waitFor(async () => (await jobs.queuedWork(A)).total === 0, 10_000, 'work released');
    expect(await jobs.queuedWork(B)).toEqual({ owner: 0, total: 0 });
  });

  it('refuses work past the owner cap, the total cap, or larger than a cap; replays are free', async () => {
    const limits = { perOwner: cost(50) * 2, total: cost(50) * 3 };
    await jobs.submit(digit('1'), { owner: A, workLimits: limits, idempotencyKey: 'k1' });
    await jobs.submit(digit('2'), { owner: A, workLimits: limits });
    const refused = await jobs.submit(digit('3'), { owner: A, workLimits: limits }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(QueuedWorkLimitError);
    expect(refused).toMatchObject({ code: 'QUEUED_WORK_LIMIT', scope: 'owner', requestedUnits: cost(50), queuedUnits: cost(50) * 2, capUnits: limits.perOwner, field: 'body' });
    // A replay of an admitted request is answered, not refused, and not charged again.
    const replay = await jobs.submit(digit('1'), { owner: A, workLimits: limits, idempotencyKey: 'k1', admit: () => Promise.reject(new Error('charged a replay')) });
    expect(replay.created).toBe(false);
    expect((await jobs.queuedWork(A)).owner).toBe(cost(50) * 2);
    await jobs.submit(digit('4'), { owner: B, workLimits: limits });
    const full = await jobs.submit(digit('5'), { owner: B, workLimits: limits }).catch((e: unknown) => e);
    expect(full).toMatchObject({ code: 'QUEUE_FULL', scope: 'total', queuedUnits: cost(50) * 3 });
    const huge = await jobs.submit(digit('6', { steps: 1000, count: 16 }), { owner: B, workLimits: limits }).catch((e: unknown) => e);
    expect(huge).toBeInstanceOf(WorkTooLargeError);
    expect(huge).toMatchObject({ code: 'WORK_TOO_LARGE', requestedUnits: cost(1000, 16) });
    // Nothing refused was recorded, and the admission hook saw only admitted requests' costs.
    expect((await jobs.list({ limit: 10 })).jobs).toHaveLength(3);
    const seen: number[] = [];
    await jobs.submit(digit('7', { steps: 3 }), { owner: 'anonymous', admit: (units) => void seen.push(units) });
    expect(seen).toEqual([cost(3)]);
    await expect(jobs.submit(digit('8'), { admit: () => Promise.reject(new Error('no tokens')) })).rejects.toThrow('no tokens');
    expect((await jobs.list({ limit: 10 })).jobs).toHaveLength(4);
  });

  it('routes events to the listeners of their job only', async () => {
    const { job: x } = await jobs.submit(digit('1'));
    const { job: y } = await jobs.submit(digit('2'));
    const forX: JobEvent[] = [];
    const unsubscribe = await jobs.onJobEvents(x.id, (e) => forX.push(e));
    await jobs.cancel(y.id);
    await jobs.cancel(x.id);
    await waitFor(() => forX.length >= 1, 5000, 'event');
    await sleep(100);
    expect(forX.map((e) => [e.jobId, e.type])).toEqual([[x.id, 'state']]);
    unsubscribe();
    const again = (await jobs.submit(digit('3'))).job;
    await jobs.cancel(again.id);
    await sleep(100);
    expect(forX).toHaveLength(1);
  });

  it('keeps batch counters on the record through child transitions and retries; lists per owner', async () => {
    const { batch } = await batches.submit({ matrix: { type: 'image', model: 'digits', prompts: ['1'], seeds: [1, 2, 3, 4, 13], steps: [2] } }, { owner: A });
    const other = (await batches.submit({ jobs: [digit('2', { steps: 1 })] }, { owner: B })).batch;
    expect(batch).toMatchObject({ owner: A, work: 5 * cost(2), counters: { queued: 5, running: 0, succeeded: 0, failed: 0, canceled: 0 } });
    expect(await jobs.queuedWork(A)).toEqual({ owner: 5 * cost(2), total: 5 * cost(2) + cost(1) });
    expect((await batches.list({ limit: 10, owner: A })).batches.map((b) => b.id)).toEqual([batch.id]);
    expect((await batches.list({ limit: 10, owner: B })).batches.map((b) => b.id)).toEqual([other.id]);
    expect((await batches.list({ limit: 10 })).batches.map((b) => b.id)).toEqual([other.id, batch.id]);
    // Children are the owner's jobs.
    expect((await jobs.list({ limit: 10, owner: A })).jobs).toHaveLength(5);

    await worker((seed) => seed === 13);
    const counted = async () => (await batches.list({ limit: 10, owner: A })).batches[0];
    const done = await waitFor(async () => {
      const b = await counted();
      return b?.counters?.succeeded === 4 && b.counters.failed === 1 ? b : undefined;
    }, 15_000, 'children ended');
    expect(done.counters).toEqual({ queued: 0, running: 0, succeeded: 4, failed: 1, canceled: 0 });
    expect(done.firstStartedAt).toBeGreaterThanOrEqual(batch.createdAt);
    expect(done.lastFinishedAt).toBeGreaterThanOrEqual(done.firstStartedAt ?? Infinity);
    // The counters agree with the children themselves.
    expect((await batches.summary(batch.id))?.counts).toMatchObject(done.counters ?? {});
    await waitFor(async () => (await jobs.queuedWork(A)).owner === 0, 10_000, 'batch work released');

    // Retrying the failed child: it leaves the counters, a queued one joins (and is charged).
    const { retried } = await batches.retryFailed(batch.id);
    expect(retried).toHaveLength(1);
    const retry = await jobs.get(retried[0]?.jobId ?? '');
    expect(retry).toMatchObject({ owner: A, batchId: batch.id, work: cost(2) });
    await waitFor(async () => {
      const b = await counted();
      return b?.counters?.failed === 1 && b.counters.succeeded === 4 && b.counters.queued === 0 && b.counters.running === 0 ? b : undefined;
    }, 15_000, 'retried child failed again');
    expect((await batches.summary(batch.id))?.counts).toMatchObject({ succeeded: 4, failed: 1, total: 5 });
    await waitFor(async () => (await jobs.queuedWork(A)).owner === 0, 10_000, 'retry work released');
  });

  it('charges a batch at once against the caps and refuses it whole', async () => {
    const limits = { perOwner: 4 * cost(1), total: 0 };
    await expect(batches.submit({ matrix: { type: 'image', model: 'digits', prompts: ['1'], seeds: [1, 2, 3, 4, 5], steps: [1] } }, { owner: A, workLimits: limits })).rejects.toMatchObject({
      code: 'WORK_TOO_LARGE',
      requestedUnits: 5 * cost(1),
    });
    await batches.submit({ matrix: { type: 'image', model: 'digits', prompts: ['1'], seeds: [1, 2, 3], steps: [1] } }, { owner: A, workLimits: limits });
    await expect(batches.submit({ matrix: { type: 'image', model: 'digits', prompts: ['1'], seeds: [1, 2], steps: [1] } }, { owner: A, workLimits: limits })).rejects.toMatchObject({
      code: 'QUEUED_WORK_LIMIT',
      queuedUnits: 3 * cost(1),
    });
    expect((await batches.list({ limit: 10 })).batches).toHaveLength(1);
    expect((await jobs.list({ limit: 100 })).jobs).toHaveLength(3);
    expect(await jobs.queuedWork(A)).toEqual({ owner: 3 * cost(1), total: 3 * cost(1) });
  });
});
