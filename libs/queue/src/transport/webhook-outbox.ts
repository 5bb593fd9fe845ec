import type { Queue } from 'bullmq';

import type { KeyLayout } from './keys.js';
import { parseWebhookJobData, webhookDeliveryId, type WebhookJobData } from './webhook-queue.js';
import type { RedisClient } from './redis.js';

/**
 * The webhook outbox: the Lua script that moves a job to a terminal state (or commits a batch)
 * appends the delivery to a Redis list in the same atomic step, so a crash right after the
 * transition cannot lose it. The relay then adds it to the BullMQ `webhooks` queue under its
 * delivery id (a repeated add is a no-op) and removes it from the list; an item relayed twice
 * (a crash between the two, or two relays racing) is still delivered once per BullMQ job.
 */
export interface WebhookOutbox {
  /** Relays one item exactly as the script wrote it (the fast path right after a transition). */
  relay(item: string): Promise<void>;
  /** Relays up to `limit` items still in the outbox, oldest first; returns how many it handled. */
  relayPending(limit?: number): Promise<number>;
}

/** The outbox over `redis`, relaying into `queue` (whose default job options carry the retries). */
export function createWebhookOutbox(redis: RedisClient, keys: KeyLayout, queue: Queue<WebhookJobData>, onError: (err: unknown) => void): WebhookOutbox {
  const relay = async (item: string): Promise<void> => {
    const data = parseWebhookJobData(item);
    if (data) await queue.add(data.subject === 'batch' ? 'deliver-batch' : 'deliver', data, { jobId: webhookDeliveryId(data) });
    else onError(new Error(`dropped a malformed webhook outbox entry: ${item.slice(0, 200)}`));
    await redis.lrem(keys.webhookOutbox, 1, item);
  };
  return {
    relay,
    async relayPending(limit = 100) {
      const items = await redis.lrange(keys.webhookOutbox, 0, limit - 1);
      for (const item of items) await relay(item);
      return items.length;
    },
  };
}
