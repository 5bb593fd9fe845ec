import { z } from 'zod';

import { InvalidArgumentError } from '../domain/errors.js';
import { parseRedisNodes, resolveRedisTarget, type RedisTarget } from './redis-target.js';

const text = z.string().trim().min(1, 'must not be empty');
const envSchema = z.object({
  REDIS_URL: text.optional(),
  REDIS_CLUSTER_NODES: text.optional(),
  REDIS_SENTINELS: text.optional(),
  REDIS_SENTINEL_NAME: text.optional(),
  REDIS_USERNAME: text.optional(),
  REDIS_PASSWORD: z.string().min(1, 'must not be empty').optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1, 'must not be empty').optional(),
  REDIS_TLS: z.enum(['0', '1', 'true', 'false']).optional(),
});

/**
 * Where Redis is, from the environment (parsed once, at a process's edge), or undefined when the
 * environment does not say (callers then use `redis://127.0.0.1:6379`):
 *
 * - `REDIS_CLUSTER_NODES=h1:p1,h2:p2,…` — a Redis Cluster (seed nodes);
 * - `REDIS_SENTINELS=s1:26379,s2:26379` with `REDIS_SENTINEL_NAME=<master group>` — Sentinel;
 *   `REDIS_SENTINEL_PASSWORD` where the Sentinels require one;
 * - for both: `REDIS_USERNAME` / `REDIS_PASSWORD` authenticate to the data nodes, `REDIS_TLS=1`
 *   uses TLS. Either wins over `REDIS_URL`, so a Deployment that composes a `REDIS_URL` for the
 *   bundled single Redis switches by adding one variable to its ConfigMap;
 * - else `REDIS_URL`: `redis://…`, or the `redis+cluster://` / `redis+sentinel://` URL forms
 *   (`RedisConnection`), carrying their own credentials.
 *
 * A bad or contradictory value throws `InvalidArgumentError` whose `field` is the variable.
 */
export function redisTargetFromEnv(env: NodeJS.ProcessEnv = process.env): RedisTarget | undefined {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(String(issue?.path[0] ?? 'REDIS_URL'), issue?.message ?? 'invalid', 'INVALID_OPTIONS');
  }
  const e = parsed.data;
  if (e.REDIS_SENTINEL_NAME !== undefined && e.REDIS_SENTINELS === undefined) {
    throw new InvalidArgumentError('REDIS_SENTINEL_NAME', 'is set but REDIS_SENTINELS is not', 'INVALID_OPTIONS');
  }
  const auth = { ...(e.REDIS_USERNAME !== undefined && { username: e.REDIS_USERNAME }), ...(e.REDIS_PASSWORD !== undefined && { password: e.REDIS_PASSWORD }) };
  const tls = e.REDIS_TLS === '1' || e.REDIS_TLS === 'true';
  if (e.REDIS_CLUSTER_NODES !== undefined) {
    if (e.REDIS_SENTINELS !== undefined) throw new InvalidArgumentError('REDIS_SENTINELS', 'set either REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both', 'INVALID_OPTIONS');
    return { kind: 'cluster', nodes: parseRedisNodes(e.REDIS_CLUSTER_NODES, 6379, 'REDIS_CLUSTER_NODES'), ...auth, tls };
  }
  if (e.REDIS_SENTINELS !== undefined) {
    if (e.REDIS_SENTINEL_NAME === undefined) throw new InvalidArgumentError('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS (the master group name)', 'INVALID_OPTIONS');
    return {
      kind: 'sentinel',
      sentinels: parseRedisNodes(e.REDIS_SENTINELS, 26379, 'REDIS_SENTINELS'),
      name: e.REDIS_SENTINEL_NAME,
      ...auth,
      ...(e.REDIS_SENTINEL_PASSWORD !== undefined && { sentinelPassword: e.REDIS_SENTINEL_PASSWORD }),
      db: 0,
      tls,
    };
  }
  return e.REDIS_URL === undefined ? undefined : resolveRedisTarget(e.REDIS_URL, 'REDIS_URL');
}
