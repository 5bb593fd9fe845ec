import { createHash } from 'node:crypto';

import type { RedisClient } from './redis.js';

/** A Lua script run with EVALSHA, loading it with EVAL the first time a server lacks it. */
export interface LuaScript {
  run(client: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown>;
}

/** Wraps Lua source; all keys a script touches must be passed in `keys` (Redis Cluster rule). */
export function luaScript(source: string): LuaScript {
  const sha = createHash('sha1').update(source).digest('hex');
  return {
    async run(client, keys, args) {
      try {
        return await client.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
        return client.eval(source, keys.length, ...keys, ...args);
      }
    },
  };
}

/** Turns HGETALL-style `[field, value, …]` into an object. */
export function pairsToObject(flat: readonly unknown[], from = 0): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = from; i + 1 < flat.length; i += 2) out[String(flat[i])] = String(flat[i + 1]);
  return out;
}
