import { describe, expect, it } from 'vitest';

import { resolveQueueOptions } from './options.js';
import { webhookRetryDelayMs, webhookRetrySpanMs } from '../domain/webhook-retry.js';

describe('webhook retry schedule', () => {
  it('doubles from the base delay and stops at the cap', () => {
    // Hand-computed: 1 s, 2 s, 4 s … 2048 s, then the 1 h cap.
    const delays = Array.from({ length: 14 }, (_, i) => webhookRetryDelayMs(i + 1, 1000, 3_600_000));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 1_024_000, 2_048_000, 3_600_000, 3_600_000]);
    expect(webhookRetryDelayMs(0, 1000, 3_600_000)).toBe(0);
    expect(webhookRetryDelayMs(5000, 1000, 3_600_000)).toBe(3_600_000); // no overflow to Infinity/NaN
  });

  it('sums the delays between the first and the last attempt', () => {
    expect(webhookRetrySpanMs(1, 1000, 3_600_000)).toBe(0);
    expect(webhookRetrySpanMs(4, 1000, 3_600_000)).toBe(1000 + 2000 + 4000);
    // 12 doublings (4,095 s) then 23 capped hours.
    expect(webhookRetrySpanMs(36, 1000, 3_600_000)).toBe(4_095_000 + 23 * 3_600_000);
  });

  it('by default keeps trying a receiver for about a day, at most an hour apart', () => {
    const o = resolveQueueOptions();
    const span = webhookRetrySpanMs(o.webhookAttempts, o.webhookBackoffDelayMs, o.webhookBackoffMaxMs);
    expect(span).toBeGreaterThanOrEqual(23 * 3_600_000);
    expect(span).toBeLessThanOrEqual(26 * 3_600_000);
    expect(o.webhookBackoffMaxMs).toBe(3_600_000);
  });
});
