import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createJobClient, createWebhookTargetGuard, startWebhookWorker, type JobClient, type WebhookDelivery, type WebhookWorker } from '../index.js';
import { keyLayout } from './keys.js';
import { createRedisJobStore } from './redis-job-store.js';
import { deletePrefix, TEST_REDIS_URL, testPrefix, waitFor } from '../test-fixtures/redis.js';

/**
 * The webhook outbox against real Redis and BullMQ. The deliver function records instead of
 * POSTing (HTTP delivery is the API's, tested there); the webhook URL is never connected to.
 */
describe('webhook outbox (real Redis)', () => {
  let prefix: string;
  let client: JobClient;
  let redis: Redis;
  let worker: WebhookWorker | undefined;
  const delivered: WebhookDelivery[] = [];

  beforeEach(() => {
    prefix = testPrefix();
    // Literal loopback URLs below: allowed by the opt-in, resolved by nobody.
    client = createJobClient({ connection: TEST_REDIS_URL, prefix, webhookGuard: createWebhookTargetGuard({ allowPrivate: true }) });
    redis = new Redis(TEST_REDIS_URL);
    delivered.length = 0;
  });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
    await client.close();
    redis.disconnect();
    await deletePrefix(prefix);
  });

  const startWorker = (relayIntervalMs = 100) => {
    worker = startWebhookWorker({
      connection: TEST_REDIS_URL,
      prefix,
      relayIntervalMs,
      deliver: async (d) => {
        delivered.push(d);
      },
    });
    return worker;
  };
  const submit = async (webhook?: string) =>
    (await client.submit({ type: 'image', model: 'digits', prompt: '4', ...(webhook !== undefined && { webhook }) })).job;

  it('writes the delivery in the same script as the terminal transition; a crash right after it loses nothing', async () => {
    const keys = keyLayout(prefix);
    const job = await submit('http://127.0.0.1:9/hook');
    // The transition exactly as a process makes it, and then that process dies: no relay, no enqueue.
    const store = createRedisJobStore(redis, { keys, recordTtlSec: 3600, idempotencyTtlSec: 3600 });
    const result = await store.transition(job.id, 'canceled', { set: { finishedAt: Date.now() } });
    expect(result.ok).toBe(true);
    expect(await redis.llen(keys.webhookOutbox)).toBe(1);
    expect(await client.webhookQueue.getJob(`wh-${job.id}`)).toBeUndefined();

    // A later relay (the API's sweep) finds it and it is delivered, once.
    startWorker();
    await waitFor(() => delivered.length >= 1, 10_000, 'the delivery');
    expect(delivered[0]).toMatchObject({ subject: 'job', jobId: job.id, url: 'http://127.0.0.1:9/hook', status: 'canceled', deliveryId: `wh-${job.id}`, attempt: 1 });
    expect(await redis.llen(keys.webhookOutbox)).toBe(0);
    await new Promise((r) => setTimeout(r, 300));
    expect(delivered).toHaveLength(1);
  });

  it('relays an entry seen twice (crash between the enqueue and the removal, or two relays racing) into one delivery', async () => {
    const keys = keyLayout(prefix);
    const job = await submit('http://127.0.0.1:9/twice');
    const store = createRedisJobStore(redis, { keys, recordTtlSec: 3600, idempotencyTtlSec: 3600 });
    const result = await store.transition(job.id, 'canceled');
    if (!result.ok || !result.webhookOutboxItem) throw new Error('expected an outbox item');
    await redis.rpush(keys.webhookOutbox, result.webhookOutboxItem, 'not json');
    startWorker();
    await waitFor(async () => (await redis.llen(keys.webhookOutbox)) === 0, 10_000, 'the outbox to drain');
    await waitFor(() => delivered.length >= 1, 10_000, 'the delivery');
    await new Promise((r) => setTimeout(r, 300));
    expect(delivered.map((d) => d.deliveryId)).toEqual([`wh-${job.id}`]);
  });

  it('writes nothing for jobs without a webhook or transitions that are not terminal', async () => {
    const keys = keyLayout(prefix);
    const store = createRedisJobStore(redis, { keys, recordTtlSec: 3600, idempotencyTtlSec: 3600 });
    const plain = await submit();
    const withHook = await submit('http://127.0.0.1:9/x');
    expect((await store.transition(plain.id, 'canceled')).ok).toBe(true);
    expect((await store.transition(withHook.id, 'running', { set: { runId: 'r1' } })).ok).toBe(true);
    expect(await redis.llen(keys.webhookOutbox)).toBe(0);
    // A refused transition (already terminal) writes nothing either.
    expect((await store.transition(plain.id, 'failed')).ok).toBe(false);
    expect(await redis.llen(keys.webhookOutbox)).toBe(0);
  });

  it('relays at once on the API side (cancel) without waiting for a sweep', async () => {
    startWorker(0); // no sweep: only the fast path can deliver
    const job = await submit('http://127.0.0.1:9/fast');
    await client.cancel(job.id);
    await waitFor(() => delivered.length >= 1, 10_000, 'the delivery');
    expect(delivered[0]).toMatchObject({ jobId: job.id, status: 'canceled' });
  });
});
