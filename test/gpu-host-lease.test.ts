/**
 * A GPU host's run of a job ends when the job is no longer its to run: its `timeoutSec` passed
 * (TIMEOUT, devices freed) or another run owns the job (lease lost: nothing more is encoded,
 * uploaded or saved). Real Redis, stage processes and models.
 */
import { closeRedis, createRedis, type JobStateEvent } from '@asyncdiff/queue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { startGpuHost, type GpuHost, type GpuHostOptions } from '../apps/gpu-host/src/index.js';
import { createWorld, TEST_REDIS_URL, waitFor, type World } from './gpu-host-fixtures.js';

describe('gpu-host: runs that must stop', () => {
  let world: World;
  const hosts: GpuHost[] = [];
  const start = async (extra: GpuHostOptions = {}): Promise<GpuHost> => {
    const h = await startGpuHost({ connection: TEST_REDIS_URL, prefix: world.prefix, storage: world.store, devices: 'cpu', backoffDelayMs: 50, healthIntervalMs: 0, ...extra });
    hosts.push(h);
    return h;
  };
  const events = (id: string, status: string) => world.events.filter((e): e is JobStateEvent => e.type === 'state' && e.jobId === id && e.status === status);

  beforeEach(async () => {
    world = await createWorld();
  });
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.close()));
    await world.dispose();
  });

  it('a job past its timeoutSec fails with TIMEOUT mid-generation, at once, and frees its devices', async () => {
    const host = await start({ hostId: 'clock' });
    // Warm the engine first, so the clock runs out while generating, not while loading.
    const warm = await world.submit({ type: 'video', model: 'moving-digits', prompt: '2', steps: 2, parallel: { mode: 'async' } });
    expect((await world.finished(warm.id, 60_000)).status).toBe('succeeded');
    const slow = await world.submit({ type: 'video', model: 'moving-digits', prompt: '3', steps: 1000, timeoutSec: 2, parallel: { mode: 'async' } });
    expect(slow.spec.timeoutSec).toBe(2);
    const failed = await world.finished(slow.id, 30_000);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'TIMEOUT' });
    expect(failed.error?.message).toContain('timeoutSec (2 s)');
    expect(failed.attempts).toBe(1); // not retried: it would take as long again
    expect(failed.progress.step).toBeGreaterThan(0); // stopped while generating…
    expect(failed.progress.step).toBeLessThan(1000);
    expect(failed.timings['runMs']).toBeLessThan(10_000);
    expect(await world.keysOf(slow.id)).toEqual([]); // …and nothing was encoded or uploaded
    const redis = createRedis(TEST_REDIS_URL, 'command');
    try {
      expect(await redis.exists(`${world.prefix}:ckpt:${slow.id}`)).toBe(0);
    } finally {
      await closeRedis(redis);
    }
    // The devices are free: the next async job (both devices) runs on the warm engine.
    expect(host.status().groups[0]!.jobs).toEqual([]);
    const next = await world.submit({ type: 'video', model: 'moving-digits', prompt: '4', steps: 10, parallel: { mode: 'async' } });
    const done = await world.finished(next.id, 30_000);
    expect(done.status).toBe('succeeded');
    expect(done.timings['engineOpenMs']).toBe(0);
  }, 90_000);

  it('a run whose job was taken over by another run stops: no encode, no upload, no checkpoint, no record write', async () => {
    const host = await start({ hostId: 'host-a', checkpointIntervalMs: 1 });
    // One step: the sampler has nothing left to abort, so only the checks after it can stop the run.
    const job = await world.submit({ type: 'image', model: 'digits', prompt: '5', steps: 1, count: 2, parallel: { mode: 'sequential' } });
    const running = await waitFor(async () => {
      const r = await world.client.get(job.id);
      return r?.status === 'running' && r.runId ? r : undefined;
    }, 20_000, 'the job to start');
    // Another host takes the job over (what a takeover after a stall writes) while this one is
    // still opening its engine.
    const redis = createRedis(TEST_REDIS_URL, 'command');
    try {
      await redis.hset(`${world.prefix}:job:${job.id}`, 'runId', 'run-of-host-b', 'host', 'host-b');
      await waitFor(() => host.status().groups[0]!.state === 'idle' && host.status().groups[0]!.stages.length > 0, 20_000, 'host-a to stop the run');
      await new Promise((r) => setTimeout(r, 300));
      expect(await world.keysOf(job.id)).toEqual([]);
      expect(await redis.exists(`${world.prefix}:ckpt:${job.id}`)).toBe(0);
      const after = await world.client.get(job.id);
      expect(after).toMatchObject({ status: 'running', runId: 'run-of-host-b', host: 'host-b', attempts: running.attempts });
      expect(after?.progress.step).toBe(0);
      expect(events(job.id, 'succeeded')).toEqual([]);
    } finally {
      await closeRedis(redis);
    }
  }, 60_000);
});
