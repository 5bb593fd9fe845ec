import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { createJobClient, type JobClient, type JobEvent, type JobRecord, type ModelCatalog } from '@asyncdiff/queue';
import { deletePrefix, TEST_REDIS_URL, testPrefix, waitFor as sharedWaitFor } from '@asyncdiff/queue/test-fixtures';
import { createLocalObjectStore, type LocalObjectStore } from '@asyncdiff/storage';

export { TEST_REDIS_URL };

/** Polls `check` until it returns something other than undefined/false; throws after `timeoutMs` (gpu-host suites wait longer). */
export function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  return sharedWaitFor(check, timeoutMs, what, 25);
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
  const prefix = testPrefix('gh');
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
