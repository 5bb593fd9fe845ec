import type { RedisClient } from './redis.js';

import type { KeyLayout } from './keys.js';

/**
 * The index of ended jobs by the time their outputs expire (`<prefix>:outputs:expiry`), written
 * by the terminal transition of records stamped with a retention. It outlives the records (which
 * Redis expires on their own TTL), so files are found and removed even after their record is gone.
 */
export interface OutputExpiryIndex {
  /** Ids of jobs whose outputs expired at or before `now` (ms), soonest-expired first. */
  due(now: number, limit: number): Promise<string[]>;
  /** Drops ids whose files have been removed. */
  forget(ids: readonly string[]): Promise<void>;
  /** When a job's outputs expire (ms), or undefined when it is not indexed. */
  expiresAt(id: string): Promise<number | undefined>;
}

/** The index over `redis` with the given key layout. */
export function outputExpiryIndex(redis: RedisClient, keys: KeyLayout): OutputExpiryIndex {
  return {
    due: (now, limit) => redis.zrangebyscore(keys.outputExpiry, '-inf', now, 'LIMIT', 0, limit),
    async forget(ids) {
      if (ids.length) await redis.zrem(keys.outputExpiry, ...ids);
    },
    async expiresAt(id) {
      const score = await redis.zscore(keys.outputExpiry, id);
      return score === null ? undefined : Number(score);
    },
  };
}
