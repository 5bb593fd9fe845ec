import type { Logger } from '../deps.js';
import { retryAfterSec, type TokenBucket } from './token-bucket.js';

/**
 * Rate limit on failed authentication per client IP (bearer keys, dashboard logins and
 * sessions, the metrics token), so keys cannot be guessed at speed. Failures are counted in a
 * Redis bucket shared by every API process; once an IP runs out, this process refuses its
 * authenticated requests without even checking them (429 with Retry-After) until the bucket has
 * refilled. The happy path costs nothing: Redis is only asked after a failure.
 */
export interface AuthFailureLimiter {
  /** Seconds the IP still has to wait, as this process knows it; undefined when it may try. */
  blocked(ip: string): number | undefined;
  /**
   * Counts one failure. Returns the seconds to wait when the IP had already run out (answer 429
   * instead of 401); a failure that spends its last token is still answered 401, but from then on
   * the IP waits.
   */
  fail(ip: string): Promise<number | undefined>;
}

const MAX_BLOCKED = 10_000;

/** A limiter over `bucket` (one token per failure). */
export function authFailureLimiter(bucket: TokenBucket, logger: Logger, now: () => number = Date.now): AuthFailureLimiter {
  const blockedUntil = new Map<string, number>();
  return {
    blocked(ip) {
      const until = blockedUntil.get(ip);
      if (until === undefined) return undefined;
      const left = until - now();
      if (left > 0) return retryAfterSec(left);
      blockedUntil.delete(ip);
      return undefined;
    },
    async fail(ip) {
      let result;
      try {
        result = await bucket.take(`authfail:${ip}`, 1);
      } catch (err) {
        logger.warn('auth failure limiter unavailable', err);
        return undefined;
      }
      if (result.allowed && result.tokensLeft >= 1) return undefined;
      const waitMs = result.allowed ? Math.ceil(1000 / bucket.perSec) : result.retryAfterMs;
      if (blockedUntil.size >= MAX_BLOCKED) blockedUntil.delete(blockedUntil.keys().next().value as string);
      blockedUntil.set(ip, now() + waitMs);
      return result.allowed ? undefined : retryAfterSec(waitMs);
    },
  };
}
