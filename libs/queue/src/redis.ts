import { Redis } from 'ioredis';
import { z } from 'zod';

/** Where Redis is when nothing says otherwise. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const envSchema = z.object({ REDIS_URL: z.string().trim().min(1).optional() });

/** The Redis URL for this process: `REDIS_URL`, else `redis://127.0.0.1:6379`. Call at the edge. */
export function redisUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const parsed = envSchema.safeParse(env);
  return (parsed.success ? parsed.data.REDIS_URL : undefined) ?? DEFAULT_REDIS_URL;
}

/** What a connection is used for; BullMQ needs `maxRetriesPerRequest: null` on blocking ones. */
export type RedisRole = 'command' | 'subscriber' | 'bullmq';

/**
 * Opens a connection for one role. Each component owns its connections and closes them itself;
 * BullMQ gets a `bullmq` connection it may `duplicate()` for blocking commands.
 */
export function createRedis(url: string, role: RedisRole): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'command' ? 3 : null,
    enableReadyCheck: true,
    connectionName: `asyncdiff-${role}`,
  });
}

/**
 * Whether a Redis server answers PING at `url` within `timeoutMs` (never throws). The CLI uses
 * it to decide between the configured Redis and a private `redis-server` child.
 */
export async function probeRedis(url: string, timeoutMs = 1000): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
  });
  client.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  try {
    const ping = (async () => {
      await client.connect();
      return (await client.ping()) === 'PONG';
    })().catch(() => false);
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    return await Promise.race([ping, timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    client.disconnect();
  }
}

/** Closes a connection, politely if it is up, at once otherwise; never throws. */
export async function closeRedis(client: Redis): Promise<void> {
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}
