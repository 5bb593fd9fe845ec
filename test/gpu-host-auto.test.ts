import { sidecarKey } from '@asyncdiff/queue';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { startGpuHost, type GpuHost, type JobSidecar } from '../apps/gpu-host/src/index.js';
import { createWorld, TEST_REDIS_URL, type World } from './gpu-host-fixtures.js';

describe('gpu-host parallel mode selection (real Redis, stage processes, models)', () => {
  let world: World;
  let host: GpuHost | undefined;
  const sidecarOf = async (id: string) => JSON.parse((await world.store.get(sidecarKey(id))).toString('utf8')) as JobSidecar;

  beforeEach(async () => {
    world = await createWorld();
    host = await startGpuHost({ connection: TEST_REDIS_URL, prefix: world.prefix, storage: world.store, devices: 'cpu', healthIntervalMs: 0, backlogPollMs: 20 });
  });
  afterEach(async () => {
    await host?.close();
    await world.dispose();
  });

  it('auto (budget fastest): AsyncDiff on the whole group when it is idle, data parallelism (one device per job) when jobs wait', async () => {
    const fastest = { quality: 'fastest' };
    const alone = await world.submit({ type: 'video', model: 'moving-digits', prompt: '1', steps: 12, parallel: fastest });
    expect((await world.finished(alone.id)).status).toBe('succeeded');
    expect((await sidecarOf(alone.id)).parallel).toMatchObject({ decidedBy: 'auto', budget: 'fastest', used: { mode: 'async', stages: 2 } });

    const burst = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => world.submit({ type: 'video', model: 'moving-digits', prompt: String(i), seed: i, steps: 40, parallel: fastest })));
    for (const j of burst) expect((await world.finished(j.id)).status).toBe('succeeded');
    const sidecars = await Promise.all(burst.map((j) => sidecarOf(j.id)));
    const sequential = sidecars.filter((s) => s.parallel.used.mode === 'sequential');
    expect(sequential.length).toBeGreaterThanOrEqual(3);
    for (const s of sequential) {
      expect(s.parallel.decidedBy).toBe('auto');
      expect(s.host.devices).toHaveLength(1);
    }
    // Both devices served sequential jobs, and two of them ran at the same time.
    expect(new Set(sequential.map((s) => s.host.devices[0])).size).toBe(2);
    const overlaps = sequential.some((a) => sequential.some((b) => a !== b && a.host.devices[0] !== b.host.devices[0] && a.startedAt < b.finishedAt && b.startedAt < a.finishedAt));
    expect(overlaps).toBe(true);
  });

  it('clamps requests for more stages than the group has, records requested vs used, never fails', async () => {
    const wide = await world.submit({ type: 'image', model: 'digits', prompt: '8', steps: 10, parallel: { mode: 'async', stages: 4 } });
    const stride2 = await world.submit({ type: 'image', model: 'digits', prompt: '8', steps: 10, parallel: { mode: 'async', stages: 2, stride: 2, warmup: 2 } });
    const seq = await world.submit({ type: 'image', model: 'digits', prompt: '8', steps: 10, parallel: { mode: 'sequential' } });
    for (const j of [wide, stride2, seq]) expect((await world.finished(j.id)).status).toBe('succeeded');
    expect((await sidecarOf(wide.id)).parallel).toMatchObject({ requested: { mode: 'async', stages: 4 }, used: { mode: 'async', stages: 2, stride: 1 }, clamped: true, decidedBy: 'request' });
    expect((await sidecarOf(stride2.id)).parallel).toMatchObject({ requested: { stride: 2 }, used: { mode: 'async', stages: 2, stride: 1, warmup: 2 }, clamped: true });
    expect((await sidecarOf(seq.id)).parallel).toMatchObject({ used: { mode: 'sequential', stages: 1 }, clamped: false });
  });
});
