import type { JobClient } from '@asyncdiff/queue';

/**
 * Token bucket in Redis, timed by the Redis server's clock, so every API process shares one
 * bucket per client. A negative cost refunds (never above capacity). Returns
 * {allowed 0|1, retryAfterMs, tokensLeft}.
 * KEYS: bucket   ARGV: capacity, refillPerSec, cost
 */
const TOKEN_BUCKET = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local retry = 0
if tokens >= cost then
  tokens = math.min(capacity, tokens - cost)
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return {allowed, retry, math.floor(tokens)}
`;

/** What one take from a bucket gave. */
export interface BucketResult {
  readonly allowed: boolean;
  /** When `cost` tokens will be there (0 when allowed). */
  readonly retryAfterMs: number;
  readonly tokensLeft: number;
}

/** One shared-bucket family: a capacity and refill rate over keys built from a client id. */
export interface TokenBucket {
  readonly capacity: number;
  readonly perSec: number;
  /** Takes `cost` tokens if there are that many (a negative cost gives tokens back). */
  take(clientId: string, cost: number): Promise<BucketResult>;
}

/** A bucket family in the queue's Redis under `keyFor(clientId)`. */
export function tokenBucket(redis: JobClient['redis'], keyFor: (clientId: string) => string, capacity: number, perSec: number): TokenBucket {
  return {
    capacity,
    perSec,
    async take(clientId, cost) {
      const [allowed, retryAfterMs, tokensLeft] = (await redis.eval(TOKEN_BUCKET, 1, keyFor(clientId), capacity, perSec, cost)) as [number, number, number];
      return { allowed: allowed === 1, retryAfterMs, tokensLeft };
    },
  };
}

/** Whole seconds for a Retry-After header (at least 1). */
export function retryAfterSec(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
