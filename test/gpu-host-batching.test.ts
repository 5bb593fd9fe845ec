/**
 * Continuous batching in a GPU host: jobs that run on one device share that device's batch,
 * joining and leaving at step boundaries, and each gets the bytes it gets alone. Real Redis,
 * stage processes and models.
 */
import { sidecarKey } from '@asyncdiff/queue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { startGpuHost, type GpuHost, type GpuHostOptions, type JobSidecar } from '../apps/gpu-host/src/index.js';
import { createWorld, TEST_REDIS_URL, waitFor, type World } from './gpu-host-fixtures.js';

describe('gpu-host: continuous batching (digits, sequential jobs)', () => {
  let world: World;
  const hosts: GpuHost[] = [];
  const start = async (extra: GpuHostOptions = {}): Promise<GpuHost> => {
    const h = await startGpuHost({ connection: TEST_REDIS_URL, prefix: world.prefix, storage: world.store, devices: 'cpu', backoffDelayMs: 50, healthIntervalMs: 0, ...extra });
    hosts.push(h);
    return h;
  };
  const sidecarOf = async (id: string) => JSON.parse((await world.store.get(sidecarKey(id))).toString('utf8')) as JobSidecar;
  const pngOf = async (id: string) => world.store.get(`jobs/${id}/0000.png`);
  const spec = (prompt: string, seed: number, steps: number) => ({ type: 'image', model: 'digits', prompt, seed, steps, parallel: { mode: 'sequential' } });

  beforeEach(async () => {
    world = await createWorld();
  });
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.close()));
    await world.dispose();
  });

  it('jobs submitted together share batches, each with the bytes it gets alone; the heartbeat shows occupancy', async () => {
    // A generous step budget and any gain: admission lets batches grow to the 32-row cap (16 jobs)
    // whatever a loaded test machine measures.
    const host = await start({ hostId: 'batcher', maxStepMs: 1000, minBatchGain: 1 });
    const lone = await world.submit(spec('7', 21, 40));
    const loneDone = await world.finished(lone.id, 60_000);
    expect(loneDone.status).toBe('succeeded');
    const loneSidecar = await sidecarOf(lone.id);

    // Ten jobs at once on two devices: batches of several jobs, joining as others leave.
    const occupancy: number[] = [];
    const watch = setInterval(() => {
      for (const b of host.status().groups[0]!.batches ?? []) occupancy.push(b.members);
    }, 5);
    const again = await world.submit(spec('7', 21, 40));
    const others = await Promise.all(Array.from({ length: 9 }, (_, i) => world.submit(spec(String(i), 100 + i, 20 + 5 * i))));
    const all = [again, ...others];
    const done = await Promise.all(all.map((j) => world.finished(j.id, 120_000)));
    clearInterval(watch);
    expect(done.map((d) => d.status)).toEqual(all.map(() => 'succeeded'));
    expect(Math.max(...occupancy)).toBeGreaterThanOrEqual(3);
    // The same job, alone and inside a batch: the same PNG, byte for byte.
    expect((await pngOf(again.id)).equals(await pngOf(lone.id))).toBe(true);
    const sidecars = await Promise.all(all.map((j) => sidecarOf(j.id)));
    expect(sidecars.filter((s) => s.batched).length).toBeGreaterThanOrEqual(3);
    for (const s of sidecars) expect(s.parallel.used.mode).toBe('sequential');
    expect(loneSidecar.batched).toBe(true); // a batch of one
    // Every batch emptied and gave its device back; the last minute shows what they ran.
    await waitFor(() => (host.status().groups[0]!.batches ?? []).every((b) => b.members === 0), 5000, 'batches to empty');
    const shown = host.status().groups[0]!.batches ?? [];
    expect(shown.length).toBeGreaterThanOrEqual(1);
    for (const b of shown) expect(b.recentRows).toHaveLength(60);
    expect(Math.max(...shown.flatMap((b) => b.recentRows))).toBeGreaterThanOrEqual(6);
  }, 180_000);

  it('batching off runs one job per device and the same bytes', async () => {
    await start({ hostId: 'plain', batching: 'off' });
    const job = await world.submit(spec('7', 21, 40));
    expect((await world.finished(job.id, 60_000)).status).toBe('succeeded');
    expect((await sidecarOf(job.id)).batched).toBe(false);
    // Reference bytes from a batching host on the same world (a fresh host, so a batch of one).
    await Promise.all(hosts.splice(0).map((h) => h.close()));
    await start({ hostId: 'batcher-2' });
    const again = await world.submit(spec('7', 21, 40));
    expect((await world.finished(again.id, 60_000)).status).toBe('succeeded');
    expect((await pngOf(again.id)).equals(await pngOf(job.id))).toBe(true);
  }, 120_000);

  it('a stage killed inside a running batch: every job of the batch resumes at its own step and succeeds once', async () => {
    // Admission that always batches: this test is about recovery, not about how fast the machine is.
    const host = await start({ hostId: 'crashy', restartBackoffMs: 10, maxStepMs: 60_000, minBatchGain: 1 });
    const jobs = await Promise.all(Array.from({ length: 6 }, (_, i) => world.submit(spec(String(i), 300 + i, 150))));
    const batch = await waitFor(() => (host.status().groups[0]!.batches ?? []).find((b) => b.members >= 2), 60_000, 'a batch of two or more');
    const victim = host.status().groups[0]!.stages.find((s) => s.device === batch.device && s.engine.includes('/seq/'));
    expect(victim).toBeDefined();
    process.kill(victim!.pid, 'SIGKILL');
    const done = await Promise.all(jobs.map((j) => world.finished(j.id, 120_000)));
    expect(done.map((d) => d.status)).toEqual(jobs.map(() => 'succeeded'));
    expect(done.map((d) => d.attempts)).toEqual(jobs.map(() => 1));
    const restarted = done.filter((d) => (d.timings['stageRestarts'] ?? 0) >= 1);
    expect(restarted.length).toBeGreaterThanOrEqual(2);
  }, 180_000);
});
