import type { NextFunction, Request, Response } from 'express';

import type { Logger } from '../deps.js';
import { ApiError } from '../errors.js';
import { clientOf } from './auth.js';
import { retryAfterSec, type TokenBucket } from './token-bucket.js';

/**
 * Per-client request limiting (client = API key, or IP without auth): each request costs one
 * token; 429 RATE_LIMITED with `Retry-After` when the bucket is empty;
 * `RateLimit-Limit`/`RateLimit-Remaining` on every answer. If Redis fails the request is let
 * through: availability over strictness. `bucket` undefined: no limit.
 */
export function rateLimit(bucket: TokenBucket | undefined) {
  return async (_req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!bucket) return next();
    let result;
    try {
      result = await bucket.take(clientOf(res).id, 1);
    } catch {
      return next();
    }
    res.setHeader('RateLimit-Limit', String(bucket.capacity));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, result.tokensLeft)));
    if (result.allowed) return next();
    const seconds = retryAfterSec(result.retryAfterMs);
    next(new ApiError('RATE_LIMITED', `rate limit exceeded; retry in ${seconds} s`, null, { headers: { 'Retry-After': String(seconds) } }));
  };
}

/**
 * Charges submissions by their work units (see `workUnits` in the queue) from a second bucket
 * per client, so one 5,000-child batch costs what 5,000 jobs cost. Used as the queue's `admit`
 * hook (after validation, before anything is written); `refund` gives units back when nothing
 * was created after all (an idempotent replay, a queued-work cap).
 */
export interface WorkCharger {
  /** Throws WORK_TOO_LARGE (never fits the bucket) or WORK_RATE_LIMITED (429, Retry-After). */
  charge(clientId: string, units: number): Promise<void>;
  refund(clientId: string, units: number): Promise<void>;
}

/** A charger over `bucket` (undefined: work is not rate-limited). Redis failures let work through. */
export function workCharger(bucket: TokenBucket | undefined, logger: Logger): WorkCharger {
  return {
    async charge(clientId, units) {
      if (!bucket) return;
      if (units > bucket.capacity) {
        throw new ApiError('WORK_TOO_LARGE', `this request needs ${units} work units, more than the ${bucket.capacity} one client may spend at once; split it`, 'body');
      }
      let result;
      try {
        result = await bucket.take(clientId, units);
      } catch (err) {
        logger.warn('work rate limiter unavailable; admitting', err);
        return;
      }
      if (result.allowed) return;
      const seconds = retryAfterSec(result.retryAfterMs);
      throw new ApiError('WORK_RATE_LIMITED', `this request needs ${units} work units; ${result.tokensLeft} are available now, enough in ${seconds} s`, 'body', {
        headers: { 'Retry-After': String(seconds) },
      });
    },
    async refund(clientId, units) {
      if (!bucket || units <= 0) return;
      await bucket.take(clientId, -units).catch((err: unknown) => logger.warn('work refund failed', err));
    },
  };
}
