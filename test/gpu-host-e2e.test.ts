import { decodePng, inspectGif, probeVideo, ffmpegAvailable } from '@asyncdiff/media';
import { listHostStatuses, sidecarKey, createRedis, closeRedis, type JobProgressEvent } from '@asyncdiff/queue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { startGpuHost, type GpuHost, type GpuHostOptions, type JobSidecar } from '../apps/gpu-host/src/index.js';
import { createWorld, TEST_REDIS_URL, waitFor, type World } from './gpu-host-fixtures.js';

describe('gpu-host end to end (real Redis, stage processes, models)', () => {
  let world: World;
  let host: GpuHost | undefined;

  const start = async (extra: GpuHostOptions = {}): Promise<GpuHost> => {
    host = await startGpuHost({
      connection: TEST_REDIS_URL,
      prefix: world.prefix,
      storage: world.store,
      hostId: 'test-host',
      devices: 'cpu',
      backoffDelayMs: 50,
      healthIntervalMs: 0,
      heartbeatIntervalMs: 200,
      ...extra,
    });
    return host;
  };

  beforeEach(async () => {
    world = await createWorld();
  });
  afterEach(async () => {
    await host?.close();
    host = undefined;
    await world.dispose();
  });

  it('runs an image job: PNGs of the right size, a sidecar that says how it ran, progress per step', async () => {
    await start();
    const job = await world.submit({ type: 'image', model: 'digits', prompt: 'seven', seed: 5, steps: 12, count: 2, guidance: 2, output: { scale: 4 } });
    const done = await world.finished(job.id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(1);
    expect(await world.keysOf(job.id)).toEqual([`jobs/${job.id}/0000.png`, `jobs/${job.id}/0001.png`, sidecarKey(job.id)].sort());
    for (const out of done.outputs.filter((o) => o.kind === 'image')) {
      const png = decodePng(await world.store.get(out.key));
      expect([png.width, png.height]).toEqual([64, 64]);
      expect(out.contentType).toBe('image/png');
    }
    const sidecar = JSON.parse((await world.store.get(sidecarKey(job.id))).toString('utf8')) as JobSidecar;
    expect(sidecar).toMatchObject({ jobId: job.id, model: 'digits', prompt: 'seven', classId: 7, seed: 5, steps: 12, guidance: 2, scheduler: 'ddim', count: 2 });
    expect(sidecar.parallel.requested.mode).toBe('auto');
    // A lone guided job on an idle group, budget exact (the default): the guidance halves on the two devices.
    expect(sidecar.parallel).toMatchObject({ budget: 'exact', used: { mode: 'cfg', stages: 1 }, quality: { kind: 'exact' } });
    expect(sidecar.host).toEqual({ hostId: 'test-host', group: 'g0', devices: ['cpu[0]', 'cpu[1]'] });
    expect(sidecar.timings.denoiseMs).toBeGreaterThan(0);
    expect(sidecar.timings.queueWaitMs).toBeGreaterThanOrEqual(0);
    expect(sidecar.timings.phases.warmup.steps + sidecar.timings.phases.parallel.steps).toBe(12);
    expect(sidecar.outputs.map((o) => o.key)).toEqual(done.outputs.filter((o) => o.kind !== 'sidecar').map((o) => o.key));
    const steps = world.events.filter((e): e is JobProgressEvent => e.type === 'progress' && e.jobId === job.id).map((e) => e.progress.step);
    for (let s = 1; s <= 12; s++) expect(steps).toContain(s);
  });

  it('runs a video job as a GIF with all 8 frames, and as MP4 when ffmpeg exists', async () => {
    await start();
    const gif = await world.submit({ type: 'video', model: 'moving-digits', prompt: '3', seed: 1, steps: 10, output: { format: 'gif', scale: 2 } });
    const doneGif = await world.finished(gif.id);
    expect(doneGif.status).toBe('succeeded');
    const info = inspectGif(await world.store.get(`jobs/${gif.id}/0000.gif`));
    expect(info.frames).toBe(8);
    expect([info.width, info.height]).toEqual([32, 32]);
    if (!(await ffmpegAvailable())) return;
    const mp4 = await world.submit({ type: 'video', model: 'moving-digits', prompt: '3', seed: 1, steps: 10, output: { format: 'mp4', scale: 4 } });
    const doneMp4 = await world.finished(mp4.id);
    expect(doneMp4.status).toBe('succeeded');
    const probe = await probeVideo(await world.store.get(`jobs/${mp4.id}/0000.mp4`));
    expect(probe.frames).toBe(8);
    expect([probe.width, probe.height]).toEqual([64, 64]);
  });

  it('fails a job whose model this host does not have, at once and with a clear error', async () => {
    await host?.close();
    host = undefined;
    // The API knows a model ("ghost") that the host lacks.
    const { findModelPackage } = await import('@asyncdiff/models');
    const { staticModelCatalog } = await import('@asyncdiff/queue');
    const digits = findModelPackage('digits');
    await world.dispose();
    world = await createWorld(staticModelCatalog([digits, { ...digits, name: 'ghost' }]));
    await start();
    const job = await world.submit({ type: 'image', model: 'ghost', prompt: '1', steps: 5 });
    const done = await world.finished(job.id);
    expect(done.status).toBe('failed');
    expect(done.attempts).toBe(1);
    expect(done.error?.code).toBe('MODEL_NOT_FOUND');
    expect(done.error?.message).toContain('"ghost"');
  });

  it('cancels a running job within a step and drops its checkpoint', async () => {
    await start({ checkpointIntervalMs: 50 });
    const job = await world.submit({ type: 'video', model: 'moving-digits', prompt: '4', steps: 400, parallel: { mode: 'sequential' } });
    await waitFor(async () => ((await world.client.get(job.id))?.progress.step ?? 0) >= 3, 30_000, 'step 3');
    const t0 = Date.now();
    await world.client.cancel(job.id);
    const done = await world.finished(job.id);
    expect(done.status).toBe('canceled');
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(done.progress.step).toBeLessThan(400);
    expect(await world.keysOf(job.id)).toEqual([]);
    const redis = createRedis(TEST_REDIS_URL, 'command');
    try {
      await waitFor(async () => (await redis.exists(`${world.prefix}:ckpt:${job.id}`)) === 0, 5000, 'checkpoint deleted');
    } finally {
      await closeRedis(redis);
    }
  });

  it('publishes a heartbeat with devices, groups, running jobs and stage processes; removes it on close', async () => {
    const h = await start();
    const redis = createRedis(TEST_REDIS_URL, 'command');
    try {
      const first = await listHostStatuses(redis, world.prefix);
      expect(first.map((s) => s.hostId)).toEqual(['test-host']);
      expect(first[0]!.devices.map((d) => d.label)).toEqual(['cpu[0]', 'cpu[1]']);
      expect(first[0]!.groups).toMatchObject([{ id: 'g0', devices: ['cpu[0]', 'cpu[1]'], state: 'idle', jobs: [] }]);
      const job = await world.submit({ type: 'video', model: 'moving-digits', prompt: '2', steps: 150, parallel: { mode: 'async' } });
      const seen = await waitFor(async () => {
        const s = await listHostStatuses(redis, world.prefix);
        const g = s[0]?.groups[0];
        return g?.jobs[0] && g.jobs[0].step > 2 ? g : undefined;
      }, 30_000, 'a running job in the heartbeat');
      expect(seen.state).toBe('busy');
      expect(seen.jobs[0]).toMatchObject({ jobId: job.id, mode: 'async', stages: 2, steps: 150, devices: ['cpu[0]', 'cpu[1]'] });
      expect(seen.stages.length).toBeGreaterThanOrEqual(2);
      expect(seen.stages.every((s) => s.pid > 0)).toBe(true);
      await world.finished(job.id);
      await h.close();
      expect(await listHostStatuses(redis, world.prefix)).toEqual([]);
    } finally {
      await closeRedis(redis);
    }
  });
});
