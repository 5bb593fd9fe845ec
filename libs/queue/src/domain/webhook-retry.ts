/** The BullMQ backoff type of webhook deliveries (computed by `webhookRetryDelayMs` in the worker). */
export const WEBHOOK_BACKOFF_TYPE = 'webhook-capped';

/**
 * Delay before retry number `retry` (1 = the first retry) of a webhook: doubles from `baseMs` and
 * stops growing at `maxMs`, so a receiver that is down for hours is still tried every `maxMs`
 * instead of ever more rarely (plain exponential backoff reaches a day after 17 doublings).
 */
export function webhookRetryDelayMs(retry: number, baseMs: number, maxMs: number): number {
  if (retry < 1) return 0;
  // 2^(retry-1) overflows to Infinity long after it passes any cap; min() keeps it finite.
  return Math.min(maxMs, Math.round(baseMs * 2 ** (retry - 1)));
}

/** How long after the first attempt the last one is made: the sum of every retry delay. */
export function webhookRetrySpanMs(attempts: number, baseMs: number, maxMs: number): number {
  let total = 0;
  for (let retry = 1; retry < attempts; retry++) total += webhookRetryDelayMs(retry, baseMs, maxMs);
  return total;
}
