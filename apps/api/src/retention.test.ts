import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { encodePng } from '@asyncdiff/media';
import { closeRedis, createRedis, outputExpiryIndex, outputKey, sidecarKey, type JobHandler } from '@asyncdiff/queue';
import { createLocalObjectStore, createS3ObjectStore, type ObjectStore } from '@asyncdiff/storage';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { startS3rver, type TestS3Server } from '../../../libs/storage/src/test-fixtures/s3rver-server.js';
import { apiOptionsFromEnv } from './env.js';
import { jobViewSchema } from './index.js';
import { startHarness, TEST_REDIS_URL, waitFor, type Harness } from './test-fixtures/harness.js';

const RETENTION_SEC = 2;

/**
 * What a GPU host does at the end of a run: writes the image and job.json (with the expiry it
 * computes from the job's retention) to the store, and returns that expiry with the outputs.
 */
function storingHandler(store: ObjectStore): JobHandler {
  return async ({ job }) => {
    const png = encodePng({ width: 2, height: 2, pixels: new Uint8Array([0, 64, 128, 255]) });
    const image = await store.put(outputKey(job.id, 0, 'png'), png, { contentType: 'image/png' });
    const finishedAt = Date.now();
    const expiresAt = job.outputRetentionSec === undefined ? null : finishedAt + job.outputRetentionSec * 1000;
    const sidecar = await store.put(sidecarKey(job.id), Buffer.from(JSON.stringify({ jobId: job.id, finishedAt, expiresAt })), { contentType: 'application/json' });
    return {
      outputs: [
        { key: outputKey(job.id, 0, 'png'), contentType: 'image/png', bytes: image.bytes, sha256: image.sha256, kind: 'image' },
        { key: sidecarKey(job.id), contentType: 'application/json', bytes: sidecar.bytes, sha256: sidecar.sha256, kind: 'sidecar' },
      ],
      ...(expiresAt !== null && { expiresAt }),
    };
  };
}

const spec = { type: 'image', model: 'digits', prompt: '5', steps: 1 };

async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await store.list(prefix)).items.map((i) => i.key).sort();
}

const backends: Array<[string, () => Promise<{ store: ObjectStore; done: () => Promise<void> }>]> = [
  [
    'local folder',
    async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'asyncdiff-retention-'));
      const store = createLocalObjectStore({ rootDir: dir });
      return { store, done: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) };
    },
  ],
  [
    's3 (s3rver)',
    async () => {
      const bucket = `t-${randomUUID()}`;
      const store = createS3ObjectStore({ bucket, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials, maxAttempts: 1 });
      await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
      return { store, done: () => store.close() };
    },
  ],
];

let s3: TestS3Server;
beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => s3?.close());

describe('output retention (OUTPUT_RETENTION_DAYS)', () => {
  let h: Harness | undefined;
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await h?.close();
    await cleanup?.();
    h = undefined;
    cleanup = undefined;
  });

  for (const [name, open] of backends) {
    it(`${name}: stamps expiresAt, then removes the files of expired jobs (record gone or not) and keeps fresh ones`, async () => {
      const { store, done } = await open();
      cleanup = done;
      h = await startHarness({ outputRetentionDays: RETENTION_SEC / 86_400, outputStore: store, outputSweepIntervalMs: 0 });
      // A job canceled while queued (no worker yet) ends without a run: the transition computes its expiry.
      const queued = jobViewSchema.parse(await (await h.post('/v1/jobs', spec)).json());
      const canceled = jobViewSchema.parse(await (await h.request(queued.links.cancel, { method: 'POST' })).json());
      expect(canceled.status).toBe('canceled');
      const lag = Date.parse(canceled.expiresAt!) - Date.parse(canceled.finishedAt!);
      expect(lag).toBeGreaterThanOrEqual(RETENTION_SEC * 1000);
      expect(lag).toBeLessThan(RETENTION_SEC * 1000 + 1000);
      await h.worker({ handler: storingHandler(store) });
      type View = ReturnType<typeof jobViewSchema.parse>;
      const finished = async (id: string): Promise<View> =>
        waitFor(async () => {
          const v = jobViewSchema.parse(await (await h!.request(`/v1/jobs/${id}`)).json());
          return v.status === 'succeeded' || v.status === 'canceled' ? v : undefined;
        }, 15_000, `job ${id}`);

      const a = await finished(jobViewSchema.parse(await (await h.post('/v1/jobs', spec)).json()).id);
      // One expiry: the record's, each output's and job.json's are the same instant.
      expect(a.expiresAt).not.toBeNull();
      expect(a.outputs.map((o) => o.expiresAt)).toEqual([a.expiresAt, a.expiresAt]);
      const sidecar = JSON.parse((await store.get(sidecarKey(a.id))).toString()) as { finishedAt: number; expiresAt: number };
      expect(sidecar.expiresAt).toBe(Date.parse(a.expiresAt!));
      expect(sidecar.expiresAt - sidecar.finishedAt).toBe(RETENTION_SEC * 1000);
      expect(a.outputs[0]?.url).not.toBeNull();


      await sleep(Math.max(0, Date.parse(a.expiresAt!) - Date.now()) + 50);
      // Expired: no URL is handed out any more, swept or not.
      expect(jobViewSchema.parse(await (await h.request(`/v1/jobs/${a.id}`)).json()).outputs.map((o) => o.url)).toEqual([null, null]);
      const b = await finished(jobViewSchema.parse(await (await h.post('/v1/jobs', spec)).json()).id);
      expect(Date.parse(b.expiresAt!)).toBeGreaterThan(Date.now());
      expect(await keysUnder(store, `jobs/${a.id}/`)).toEqual([outputKey(a.id, 0, 'png'), sidecarKey(a.id)].sort());

      // As if Redis had already expired A's record: the index still knows its files.
      const redis = createRedis(TEST_REDIS_URL, 'command');
      try {
        await redis.del(`${h.prefix}:job:${a.id}`);
        // Due: A and the canceled job (which had no files).
        const report = await h.api.sweepOutputs();
        expect(report).toEqual({ jobs: 2, files: 2, failed: 0 });
        expect(await keysUnder(store, `jobs/${a.id}/`)).toEqual([]);
        expect(await keysUnder(store, `jobs/${b.id}/`)).toEqual([outputKey(b.id, 0, 'png'), sidecarKey(b.id)].sort());
        const index = outputExpiryIndex(redis, h.api.jobs.keys);
        expect(await index.expiresAt(a.id)).toBeUndefined();
        expect(await index.expiresAt(b.id)).toBe(Date.parse(b.expiresAt!));
        expect(await h.api.sweepOutputs()).toMatchObject({ jobs: 0, files: 0 });
      } finally {
        await closeRedis(redis);
      }
    });
  }

  it('keeps outputs by default: no expiresAt, nothing indexed, nothing swept', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'asyncdiff-retention-'));
    const store = createLocalObjectStore({ rootDir: dir });
    cleanup = async () => (await store.close(), rmSync(dir, { recursive: true, force: true }));
    h = await startHarness({ outputStore: store, outputSweepIntervalMs: 0 });
    await h.worker({ handler: storingHandler(store) });
    const { id } = jobViewSchema.parse(await (await h.post('/v1/jobs', spec)).json());
    const job = await waitFor(async () => {
      const v = jobViewSchema.parse(await (await h!.request(`/v1/jobs/${id}`)).json());
      return v.status === 'succeeded' ? v : undefined;
    }, 15_000, 'the job');
    expect(job.expiresAt).toBeNull();
    expect(job.outputs.every((o) => o.expiresAt === null && o.url !== null)).toBe(true);
    expect(await h.api.sweepOutputs()).toEqual({ jobs: 0, files: 0, failed: 0 });
    expect(await keysUnder(store, `jobs/${id}/`)).toHaveLength(2);
  });

  it('reads OUTPUT_RETENTION_DAYS and OUTPUT_SWEEP_INTERVAL_MS, naming a bad one', () => {
    expect(apiOptionsFromEnv({ OUTPUT_RETENTION_DAYS: '0.5', OUTPUT_SWEEP_INTERVAL_MS: '60000' })).toMatchObject({ outputRetentionDays: 0.5, outputSweepIntervalMs: 60_000 });
    expect(() => apiOptionsFromEnv({ OUTPUT_RETENTION_DAYS: '-1' })).toThrow(/OUTPUT_RETENTION_DAYS/);
    expect(() => apiOptionsFromEnv({ OUTPUT_RETENTION_DAYS: 'week' })).toThrow(/OUTPUT_RETENTION_DAYS/);
  });
});
