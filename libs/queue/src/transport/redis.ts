import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

import { assertNever } from '../domain/events.js';
import { resolveRedisTarget, type RedisConnection, type RedisTarget } from './redis-target.js';

/** Where Redis is when nothing says otherwise. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * A connection of either shape. Both speak the same commands (ioredis' `Commander`), so code
 * written against `RedisClient` runs unchanged on one server, behind Sentinel, or on a Cluster
 * — provided every multi-key command, MULTI and pipeline stays inside one hash tag.
 */
export type RedisClient = Redis | Cluster;

/** What a connection is used for; BullMQ needs `maxRetriesPerRequest: null` on blocking ones. */
export type RedisRole = 'command' | 'subscriber' | 'bullmq';

/**
 * Opens a connection for one role to any `RedisConnection` (URL or target): an ioredis `Redis`
 * for one server or a Sentinel-managed master, an ioredis `Cluster` for a Redis Cluster. Each
 * component owns its connections and closes them itself; BullMQ gets a `bullmq` connection it
 * may `duplicate()` for blocking commands (a Cluster duplicates into a Cluster).
 */
export function createRedis(connection: RedisConnection, role: RedisRole): RedisClient {
  return open(resolveRedisTarget(connection), {
    maxRetriesPerRequest: role === 'command' ? 3 : null,
    enableReadyCheck: true,
    connectionName: `asyncdiff-${role}`,
  });
}

/**
 * Whether Redis answers PING at `connection` within `timeoutMs` (never throws). For a Cluster
 * that also means the cluster reports itself healthy (`cluster_state:ok`); for Sentinel that a
 * Sentinel named a master that answers. The CLI uses it to decide between the configured Redis
 * and a private `redis-server` child.
 */
export async function probeRedis(connection: RedisConnection, timeoutMs = 1000): Promise<boolean> {
  let client: RedisClient;
  try {
    client = open(
      resolveRedisTarget(connection),
      { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: timeoutMs },
      { lazyConnect: true, enableOfflineQueue: false, clusterRetryStrategy: () => null },
      { sentinelRetryStrategy: () => null },
    );
  } catch {
    return false;
  }
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
export async function closeRedis(client: RedisClient): Promise<void> {
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}

/**
 * The one place a client is constructed. `node` applies to every server connection (for a
 * Cluster: each node's), `cluster` only to a Cluster, `sentinel` only to a Sentinel client.
 */
function open(target: RedisTarget, node: RedisOptions, cluster: ClusterOptions = {}, sentinel: RedisOptions = {}): RedisClient {
  switch (target.kind) {
    case 'standalone':
      return new Redis(target.url, node);
    case 'cluster':
      return new Cluster(
        target.nodes.map((n) => ({ host: n.host, port: n.port })),
        {
          enableReadyCheck: true,
          // Every key of ours is in one slot, on one master: reads from replicas would only add lag.
          scaleReads: 'master',
          ...cluster,
          // TLS endpoints of managed clusters present certificates for the names they announce.
          ...(target.tls && { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) }),
          redisOptions: {
            ...node,
            ...(target.username !== undefined && { username: target.username }),
            ...(target.password !== undefined && { password: target.password }),
            ...(target.tls && { tls: {} }),
          },
        },
      );
    case 'sentinel':
      return new Redis({
        ...node,
        ...sentinel,
        sentinels: target.sentinels.map((n) => ({ host: n.host, port: n.port })),
        name: target.name,
        db: target.db,
        ...(target.username !== undefined && { username: target.username }),
        ...(target.password !== undefined && { password: target.password }),
        ...(target.sentinelPassword !== undefined && { sentinelPassword: target.sentinelPassword }),
        ...(target.tls && { tls: {}, enableTLSForSentinelMode: true, sentinelTLS: {} }),
      });
    default:
      return assertNever(target);
  }
}
