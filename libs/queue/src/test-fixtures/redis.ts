import { randomUUID } from 'node:crypto';

import { closeRedis, createRedis } from '../transport/redis.js';

/**
 * The one Redis fixture every suite shares (libs, apps, `test/`), imported as
 * `@asyncdiff/queue/test-fixtures`: which Redis tests use, a fresh key prefix per test, and the
 * cleanup that removes it. Test-only; production code never imports this subpath.
 */

/** Redis used by tests (the developer machine's, or REDIS_URL). */
export const TEST_REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/**
 * A fresh key prefix (hash-tagged like production) so tests never see each other's keys;
 * `label` names the suite in the keys (`t`, `gh`, `e2e`, …) so a leftover key says who left it.
 */
export function testPrefix(label = 't'): string {
  return `{${label}-${randomUUID()}}`;
}

/** Deletes every key under `prefix` (each test's cleanup). */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = createRedis(TEST_REDIS_URL, 'command');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    await closeRedis(redis);
  }
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  what = 'condition',
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
