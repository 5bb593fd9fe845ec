import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { inspectGif } from '@asyncdiff/media';
import { closeRedis, createRedis, sidecarKey, type JobStateEvent } from '@asyncdiff/queue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { startGpuHost, type GpuHost, type GpuHostOptions, type JobSidecar } from '../apps/gpu-host/src/index.js';
import { createWorld, TEST_REDIS_URL, waitFor, type World } from './gpu-host-fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(ROOT, 'apps/gpu-host/dist/main.js');

describe('gpu-host under failure (real Redis, stage processes, models)', () => {
  let world: World;
  const hosts: GpuHost[] = [];
  const children: ChildProcess[] = [];

  const start = async (extra: GpuHostOptions = {}): Promise<GpuHost> => {
    const h = await startGpuHost({
      connection: TEST_REDIS_URL,
      prefix: world.prefix,
      storage: world.store,
      devices: 'cpu',
      backoffDelayMs: 50,
      healthIntervalMs: 0,
      ...extra,
    });
    hosts.push(h);
    return h;
  };
  const succeededEvents = (id: string) => world.events.filter((e): e is JobStateEvent => e.type === 'state' && e.jobId === id && e.status === 'succeeded').length;
  const sidecarOf = async (id: string) => JSON.parse((await world.store.get(sidecarKey(id))).toString('utf8')) as JobSidecar;

  beforeEach(async () => {
    world = await createWorld();
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.all(hosts.splice(0).map((h) => h.close()));
    await world.dispose();
  });

  it('kill -9 of a stage process mid-job: the job still succeeds, exactly once', async () => {
    const host = await start({ hostId: 'chaos' });
    const job = await world.submit({ type: 'video', model: 'moving-digits', prompt: '6', seed: 3, steps: 120, parallel: { mode: 'async' } });
    await waitFor(async () => ((await world.client.get(job.id))?.progress.step ?? 0) >= 5, 30_000, 'step 5');
    const victim = host.status().groups[0]!.stages.find((s) => s.device === 'cpu[1]');
    expect(victim).toBeDefined();
    process.kill(victim!.pid, 'SIGKILL');
    const done = await world.finished(job.id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.attempts).toBe(1);
    expect(await world.keysOf(job.id)).toEqual([`jobs/${job.id}/0000.gif`, sidecarKey(job.id)]);
    expect(inspectGif(await world.store.get(`jobs/${job.id}/0000.gif`)).frames).toBe(8);
    const sidecar = await sidecarOf(job.id);
    expect(sidecar.timings.restarts).toBeGreaterThanOrEqual(1);
    expect(done.timings['stageRestarts']).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(succeededEvents(job.id)).toBe(1);
    const stages = host.status().groups[0]!.stages;
    expect(stages.find((s) => s.device === 'cpu[1]')).toMatchObject({ restarts: 1, state: 'ready' });
    expect(stages.find((s) => s.device === 'cpu[1]')!.pid).not.toBe(victim!.pid);
  });

  it('a stage that dies between jobs is found by the health check and replaced', async () => {
    const host = await start({ hostId: 'health' });
    const first = await world.submit({ type: 'image', model: 'digits', prompt: '1', steps: 10, parallel: { mode: 'async' } });
    expect((await world.finished(first.id)).status).toBe('succeeded');
    const before = host.status().groups[0]!.stages;
    process.kill(before[0]!.pid, 'SIGKILL');
    await waitFor(() => host.status().groups[0]!.stages[0]!.state === 'crashed', 5000, 'crash noticed');
    await host.checkHealth();
    const after = host.status().groups[0]!.stages;
    expect(after[0]!.pid).not.toBe(before[0]!.pid);
    expect(after[0]).toMatchObject({ state: 'ready', restarts: 1 });
    const second = await world.submit({ type: 'image', model: 'digits', prompt: '2', steps: 10, parallel: { mode: 'async' } });
    const done = await world.finished(second.id);
    expect(done.status).toBe('succeeded');
    expect(done.timings['stageRestarts']).toBe(0);
  });

  /** Starts `apps/gpu-host/dist/main.js` as host-a, configured through its environment. */
  const spawnHost = async (env: Record<string, string> = {}) => {
    const child = spawn(process.execPath, [MAIN], {
      cwd: ROOT,
      env: {
        ...process.env,
        REDIS_URL: TEST_REDIS_URL,
        QUEUE_PREFIX: world.prefix,
        STORAGE_DIR: world.storeDir,
        GPU_HOST_ID: 'host-a',
        GPU_HOST_DEVICES: 'cpu',
        GPU_HOST_HEALTH_INTERVAL_MS: '0',
        GPU_HOST_CHECKPOINT_INTERVAL_MS: '0',
        // Any free port: tests must not fight over the standalone default 9464.
        GPU_HOST_METRICS_PORT: '0',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    const log = { output: '' };
    child.stdout!.on('data', (d: Buffer) => (log.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log.output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await waitFor(() => log.output.includes('ready:'), 30_000, 'host-a to start');
    return { child, log, exited };
  };

  it('SIGTERM of the gpu-host process mid-job hands the job back with a checkpoint; another host resumes it, exactly once', async () => {
    const { child, log, exited } = await spawnHost();

    const spec = { type: 'video', model: 'moving-digits', prompt: '5', seed: 9, steps: 150, parallel: { mode: 'sequential' } };
    const job = await world.submit(spec);
    await waitFor(async () => ((await world.client.get(job.id))?.progress.step ?? 0) >= 10, 30_000, 'step 10 on host-a');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(log.output).toContain('drained');

    const handedBack = await world.client.get(job.id);
    expect(handedBack?.status).toBe('queued');
    const redis = createRedis(TEST_REDIS_URL, 'command');
    try {
      expect(await redis.exists(`${world.prefix}:ckpt:${job.id}`)).toBe(1);
      expect(await world.keysOf(job.id)).toEqual([]);

      await start({ hostId: 'host-b' });
      const done = await world.finished(job.id);
      expect(done.status).toBe('succeeded');
      expect(done.attempts).toBe(2);
      const sidecar = await sidecarOf(job.id);
      expect(sidecar.resumedFrom?.host).toBe('host-a');
      expect(sidecar.resumedFrom?.step).toBeGreaterThanOrEqual(10);
      expect(sidecar.resumedFrom?.step).toBeLessThan(150);
      expect(sidecar.host.hostId).toBe('host-b');
      expect(sidecar.timings.phases.warmup.steps).toBe(150 - sidecar.resumedFrom!.step);
      expect(done.timings['resumedFromStep']).toBe(sidecar.resumedFrom!.step);
      expect(await world.keysOf(job.id)).toEqual([`jobs/${job.id}/0000.gif`, sidecarKey(job.id)]);
      expect(await redis.exists(`${world.prefix}:ckpt:${job.id}`)).toBe(0);

      // The resumed output is the complete generation: byte-identical to an uninterrupted run.
      const reference = await world.submit(spec);
      expect((await world.finished(reference.id)).status).toBe('succeeded');
      const resumedGif = await world.store.get(`jobs/${job.id}/0000.gif`);
      expect(inspectGif(resumedGif).frames).toBe(8);
      expect(resumedGif.equals(await world.store.get(`jobs/${reference.id}/0000.gif`))).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(succeededEvents(job.id)).toBe(1);
    } finally {
      await closeRedis(redis);
    }
  });

  it('a host that dies without draining (second SIGTERM) loses nothing: the job is recovered after its lock expires and resumes from the periodic checkpoint', async () => {
    const { child, log, exited } = await spawnHost({ GPU_HOST_DRAIN_GRACE_MS: '60000', GPU_HOST_CHECKPOINT_INTERVAL_MS: '100', GPU_HOST_LOCK_DURATION_MS: '2000', GPU_HOST_STALLED_INTERVAL_MS: '1000' });
    const job = await world.submit({ type: 'video', model: 'moving-digits', prompt: '7', seed: 4, steps: 250, parallel: { mode: 'sequential' } });
    await waitFor(async () => ((await world.client.get(job.id))?.progress.step ?? 0) >= 20, 30_000, 'step 20 on host-a');
    child.kill('SIGTERM'); // starts a drain that would wait up to 60 s for the job…
    await waitFor(() => log.output.includes('draining'), 5000, 'drain to start');
    child.kill('SIGTERM'); // …so the second signal exits at once
    expect(await exited).toBe(1);
    expect((await world.client.get(job.id))?.status).toBe('running');

    await start({ hostId: 'host-b', stalledIntervalMs: 1000 });
    const done = await world.finished(job.id);
    expect(done.status).toBe('succeeded');
    expect(done.attempts).toBe(2);
    const sidecar = await sidecarOf(job.id);
    expect(sidecar.host.hostId).toBe('host-b');
    expect(sidecar.resumedFrom?.host).toBe('host-a');
    expect(sidecar.resumedFrom?.step).toBeGreaterThanOrEqual(10);
    expect(await world.keysOf(job.id)).toEqual([`jobs/${job.id}/0000.gif`, sidecarKey(job.id)]);
    await new Promise((r) => setTimeout(r, 300));
    expect(succeededEvents(job.id)).toBe(1);
  });
});
