import { closeRedis, createRedis } from '@asyncdiff/queue';
import { afterEach, describe, expect, it } from 'vitest';

import { batchListSchema, batchViewSchema, errorSchema, jobViewSchema } from './index.js';
import { startHarness, TEST_REDIS_URL, waitFor, type Harness } from './test-fixtures/harness.js';

const KEY_A = 'admit-key-a-0123456789abcdef';
const KEY_B = 'admit-key-b-0123456789abcdef';
const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });
/** A digits job (16×16: 1 unit per step) costs steps × count + 50 units: 100 at the default 50 steps. */
const matrix = (seeds: number, steps = 50) => ({ matrix: { type: 'image', model: 'digits', prompts: ['1'], seeds: [...Array(seeds).keys()], steps: [steps] } });

describe('cost follows work (real Redis, real HTTP)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('charges a batch its work units, so a big batch empties the bucket (429 with Retry-After) where one request token would not', async () => {
    h = await startHarness({ apiKeys: [KEY_A, KEY_B], rateLimitBurst: 60, workRateBurst: 1500, workRatePerSec: 100 });
    const first = await h.post('/v1/batches', matrix(10), as(KEY_A, { 'Idempotency-Key': 'grid' })); // 1,000 units
    expect(first.status).toBe(202);
    const second = await h.post('/v1/batches', matrix(10), as(KEY_A));
    expect(second.status).toBe(429);
    const retryAfter = Number(second.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(4); // ~500 more units at 100/s
    expect(retryAfter).toBeLessThanOrEqual(6);
    expect(errorSchema.parse(await second.json()).error).toMatchObject({ code: 'WORK_RATE_LIMITED', field: 'body' });
    // Only 2 requests so far: the request bucket (60) is far from empty; it is the work that counts.
    expect(Number(second.headers.get('ratelimit-remaining'))).toBeGreaterThanOrEqual(57);
    // A replay creates nothing and costs nothing: the ~500 units left still admit 4 jobs of 100.
    const replay = await h.post('/v1/batches', matrix(10), as(KEY_A, { 'Idempotency-Key': 'grid' }));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await h.post('/v1/batches', matrix(4), as(KEY_A))).status).toBe(202);
    // Another key has its own bucket.
    expect((await h.post('/v1/batches', matrix(10), as(KEY_B))).status).toBe(202);
    // More than the bucket holds can never pass: refused outright, not "retry later".
    const huge = await h.post('/v1/batches', matrix(20), as(KEY_B));
    expect(huge.status).toBe(422);
    expect(huge.headers.get('retry-after')).toBeNull();
    expect(errorSchema.parse(await huge.json()).error).toMatchObject({ code: 'WORK_TOO_LARGE', field: 'body' });
    // Single jobs are charged the same way: 1 step × 16 images = 66 units each.
    await new Promise((r) => setTimeout(r, 1100));
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '1', steps: 1, count: 16 }, as(KEY_A))).status);
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(2);
    expect(statuses.at(-1)).toBe(429);
  });

  it('caps queued work per key and in total (429 QUEUED_WORK_LIMIT / QUEUE_FULL with Retry-After); ending work frees room', async () => {
    h = await startHarness({ apiKeys: [KEY_A, KEY_B], maxQueuedWorkPerKey: 300, maxQueuedWorkTotal: 500 });
    const job = { type: 'image', model: 'digits', prompt: '5' }; // 100 units
    const a = [];
    for (let i = 0; i < 3; i++) {
      const res = await h.post('/v1/jobs', job, as(KEY_A));
      expect(res.status).toBe(202);
      a.push(jobViewSchema.parse(await res.json()));
    }
    const over = await h.post('/v1/jobs', job, as(KEY_A));
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('10');
    expect(errorSchema.parse(await over.json()).error).toMatchObject({ code: 'QUEUED_WORK_LIMIT', field: 'body' });
    expect((await h.post('/v1/jobs', job, as(KEY_B))).status).toBe(202); // 400 queued in all
    expect((await h.post('/v1/jobs', job, as(KEY_B))).status).toBe(202); // 500
    const full = await h.post('/v1/jobs', job, as(KEY_B));
    expect(full.status).toBe(429);
    expect(errorSchema.parse(await full.json()).error).toMatchObject({ code: 'QUEUE_FULL', field: 'body' });
    // A batch is admitted whole or not at all, and one larger than a key's cap never is.
    const batch = await h.post('/v1/batches', matrix(5), as(KEY_A));
    expect(batch.status).toBe(422);
    expect(errorSchema.parse(await batch.json()).error.code).toBe('WORK_TOO_LARGE');
    // Canceling (a terminal transition) gives the units back.
    await h.request(`/v1/jobs/${a[0]!.id}/cancel`, { method: 'POST', headers: as(KEY_A) });
    expect((await h.post('/v1/jobs', job, as(KEY_A))).status).toBe(202);
    // Jobs that run to the end give theirs back too.
    await h.worker();
    await waitFor(async () => (await h.post('/v1/jobs', { ...job, steps: 1 }, as(KEY_B))).status === 202, 15_000, 'room after jobs ended');
  });

  it('lists batches from the counters on their records, never reading their children', async () => {
    h = await startHarness();
    await h.worker({ concurrency: 4 });
    const done = batchViewSchema.parse(await (await h.post('/v1/batches', matrix(4, 2))).json());
    await waitFor(async () => batchViewSchema.parse(await (await h.request(`/v1/batches/${done.id}`)).json()).status === 'completed', 15_000, 'batch');
    await h.request('/dashboard/api/queues/image/pause', { method: 'POST', headers: { 'x-asyncdiff-dashboard': '1', 'content-type': 'application/json' }, body: '{}' });
    const waiting = batchViewSchema.parse(await (await h.post('/v1/batches', matrix(3, 2))).json());
    const listed = async () => batchListSchema.parse(await (await h.request('/v1/batches')).json()).batches;
    const [w, d] = await listed();
    expect(w).toMatchObject({ id: waiting.id, status: 'queued', counts: { queued: 3, running: 0, succeeded: 0, failed: 0, canceled: 0 }, progress: { ended: 0, total: 3 } });
    expect(d).toMatchObject({ id: done.id, status: 'completed', counts: { queued: 0, running: 0, succeeded: 4, failed: 0, canceled: 0 }, progress: { percent: 100, ended: 4, total: 4 } });
    expect(d?.startedAt).not.toBeNull();
    // Delete the waiting batch's child records behind the API's back: GET /v1/batches/:id reads the
    // children (and reports them lost), the listing does not read them at all.
    const children = (await (await h.request(`/v1/batches/${waiting.id}/jobs`)).json()) as { jobs: Array<{ id: string }> };
    const redis = createRedis(TEST_REDIS_URL, 'command');
    await redis.del(...children.jobs.map((j) => `${h.prefix}:job:${j.id}`));
    await closeRedis(redis);
    expect(batchViewSchema.parse(await (await h.request(`/v1/batches/${waiting.id}`)).json()).counts).toMatchObject({ queued: 0, failed: 3 });
    expect((await listed())[0]?.counts).toMatchObject({ queued: 3, failed: 0 });
  });
});
