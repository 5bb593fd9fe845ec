import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { Redis } from 'ioredis';

import { createJobClient, type JobClient, type JobEvent, type JobRecord, type ModelCatalog } from '@asyncdiff/queue';
import { createLocalObjectStore, type LocalObjectStore } from '@asyncdiff/storage';

/** Redis used by the gpu-host suites (the developer machine's, or REDIS_URL). */
export const TEST_REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/** A fresh hash-tagged key prefix, so suites never see each other's queues or keys. */
export function testPrefix(): string {
  return `{gh-${randomUUID()}}`;
}

/** Deletes every key under `prefix`. */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Polls `check` until it returns something other than undefined/false; throws after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One isolated world per test: a prefix, a client, a local store in a temp folder, an event log. */
export interface World {
  readonly prefix: string;
  readonly client: JobClient;
  readonly storeDir: string;
  readonly store: LocalObjectStore;
  readonly events: JobEvent[];
  submit(body: Record<string, unknown>): Promise<JobRecord>;
  finished(id: string, timeoutMs?: number): Promise<JobRecord>;
  /** Keys stored for a job. */
  keysOf(id: string): Promise<string[]>;
  dispose(): Promise<void>;
}

/** Builds a `World`; `models` lets a test accept jobs for packages the hosts do not have. */
export async function createWorld(models?: ModelCatalog): Promise<World> {
  const prefix = testPrefix();
  const client = createJobClient({ connection: TEST_REDIS_URL, prefix, backoffDelayMs: 50, ...(models && { models }) });
  const storeDir = mkdtempSync(path.join(tmpdir(), 'gpu-host-test-'));
  const store = createLocalObjectStore({ rootDir: storeDir, urlSecret: 'x'.repeat(32) });
  const events: JobEvent[] = [];
  const unsubscribe = await client.onEvent((e) => events.push(e));
  return {
    prefix,
    client,
    storeDir,
    store,
    events,
    submit: async (body) => (await client.submit(body)).job,
    finished: (id, timeoutMs = 60_000) =>
      waitFor(
        async () => {
          const r = await client.get(id);
          return r && ['succeeded', 'failed', 'canceled'].includes(r.status) ? r : undefined;
        },
        timeoutMs,
        `job ${id} to finish`,
      ),
    keysOf: async (id) => (await store.list(`jobs/${id}/`)).items.map((i) => i.key).sort(),
    dispose: async () => {
      unsubscribe();
      await client.close();
      await store.close();
      await deletePrefix(prefix);
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
