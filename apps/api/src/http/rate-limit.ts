import type { NextFunction, Request, Response } from 'express';
import type { JobClient } from '@asyncdiff/queue';

import { ApiError } from '../errors.js';
import { clientOf } from './auth.js';

/**
 * Token bucket in Redis, timed by the Redis server's clock, so every API process shares one
 * bucket per client. Returns {allowed 0|1, retryAfterMs, tokensLeft}.
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
  tokens = tokens - cost
  allowed = 1
else
  retry = math.ceil((cost - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
return {allowed, retry, math.floor(tokens)}
`;

/** Settings of `rateLimit`. */
export interface RateLimitConfig {
  readonly redis: JobClient['redis'];
  /** Builds the bucket key from a client id (so it shares the queue's key prefix). */
  readonly keyFor: (clientId: string) => string;
  readonly burst: number;
  readonly perSec: number;
}

/**
 * Per-client rate limiting (client = API key, or IP without auth): 429 with `Retry-After` when
 * the bucket is empty; `RateLimit-Limit`/`RateLimit-Remaining` on every answer. If Redis fails
 * the request is let through: availability over strictness.
 */
export function rateLimit(config: RateLimitConfig) {
  return async (_req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (config.burst <= 0) return next();
    let result: [number, number, number];
    try {
      result = (await config.redis.eval(TOKEN_BUCKET, 1, config.keyFor(clientOf(res).id), config.burst, config.perSec, 1)) as [number, number, number];
    } catch {
      return next();
    }
    const [allowed, retryAfterMs, left] = result;
    res.setHeader('RateLimit-Limit', String(config.burst));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, left)));
    if (allowed === 1) return next();
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    next(new ApiError('RATE_LIMITED', `rate limit exceeded; retry in ${seconds} s`, null, { headers: { 'Retry-After': String(seconds) } }));
  };
}
