import { buildSchedule, sample, type StageRunner } from '@asyncdiff/asyncdiff';
import { findModelPackage } from '@asyncdiff/models';
import { createScheduler } from '@asyncdiff/schedulers';
import { getAffinity } from '@asyncdiff/shm';
import { InProcessRunner, ProcessRunner, cpuDeviceGroups } from '@asyncdiff/stages';
import { describe, expect, it } from 'vitest';

import { schedulerOptions } from './scheduler-options.js';
import { classConditioning, denoiserOf } from './denoiser.js';
import { splitForModel } from './split-pipeline.js';

const model = findModelPackage('digits');

async function generate(runner: StageRunner, steps: number): Promise<Float32Array> {
  const schedule = buildSchedule({ steps, stages: 2, stride: 1, warmup: 3, timeShift: false });
  const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', steps));
  const r = await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, conditioning: classConditioning(model, [5]), seed: 4, guidance: 1.5 });
  return r.latents;
}

/** Runs `work` while a 2 ms interval timer runs; returns the longest gap between its ticks. */
async function longestLoopGap<T>(work: () => Promise<T>): Promise<{ result: T; gapMs: number; ticks: number }> {
  let last = performance.now();
  let gapMs = 0;
  let ticks = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    gapMs = Math.max(gapMs, now - last);
    last = now;
    ticks += 1;
  }, 2);
  try {
    const result = await work();
    gapMs = Math.max(gapMs, performance.now() - last);
    return { result, gapMs, ticks };
  } finally {
    clearInterval(timer);
  }
}

describe('hybrid wait (the GPU host coordinator)', () => {
  it('computes what the in-process reference computes, and the event loop keeps turning during a generation', async () => {
    const steps = 300;
    const { pipeline } = await splitForModel(await denoiserOf(model), 2);
    const inproc = await InProcessRunner.create(pipeline, { devices: 2 });
    const reference = await generate(inproc, steps);
    await inproc.close();
    const runner = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(2).devices, wait: 'hybrid', hybridYieldMs: 20, hybridBlockMs: 5 });
    try {
      const { result, gapMs, ticks } = await longestLoopGap(() => generate(runner, steps));
      let diff = 0;
      for (let i = 0; i < result.length; i++) diff = Math.max(diff, Math.abs((result[i] as number) - (reference[i] as number)));
      expect(diff).toBeLessThanOrEqual(1e-5);
      // 300 steps take several hundred ms; a sync wait would hold the loop for all of them. The
      // bound is loose (a shared VM stalls), the point is that timers run during the generation.
      expect(ticks).toBeGreaterThan(3);
      expect(gapMs).toBeLessThan(250);
    } finally {
      await runner.close();
    }
  }, 120_000);

  it('generations interleaved on one thread (data parallelism in a GPU host) leave its CPU affinity as it was', async () => {
    const before = getAffinity();
    const { pipeline } = await splitForModel(await denoiserOf(model), 2);
    const devices = cpuDeviceGroups(2).devices;
    // Two AsyncDiff engines on the same two devices would share stage cores; what matters here is
    // the coordinator thread: each runner pins it to its device 0 while it generates.
    const a = await ProcessRunner.create({ pipeline, devices, wait: 'hybrid' });
    const b = await ProcessRunner.create({ pipeline, devices: [...devices].reverse(), wait: 'hybrid' });
    try {
      // b starts while a is pinned, and ends after a: a naive save/restore would leave a's pin.
      const first = generate(a, 120);
      await new Promise((r) => setTimeout(r, 20));
      const second = generate(b, 240);
      await Promise.all([first, second]);
      expect(getAffinity()).toEqual(before);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
    expect(getAffinity()).toEqual(before);
  }, 120_000);

  it('two interleaved hybrid generations wait like async (neither blocks the thread the other needs)', async () => {
    const { pipeline } = await splitForModel(await denoiserOf(model), 2);
    const devices = cpuDeviceGroups(2).devices;
    // Waits may block up to 10 s; the loop turns every 20 ms, which lets the second begin().
    const a = await ProcessRunner.create({ pipeline, devices, wait: 'hybrid', hybridBlockMs: 10_000 });
    const b = await ProcessRunner.create({ pipeline, devices: [...devices].reverse(), wait: 'hybrid', hybridBlockMs: 10_000 });
    try {
      const { ticks } = await longestLoopGap(async () => {
        const first = generate(a, 200);
        const second = generate(b, 200);
        return Promise.all([first, second]);
      });
      // Once both are in flight every wait goes through the event loop, so the 2 ms timer ticks
      // throughout; blocking waits would leave it only the 20 ms yields (a few dozen ticks).
      expect(ticks).toBeGreaterThan(100);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 120_000);

  it('a sync wait, for contrast, holds the event loop for the whole generation', async () => {
    const { pipeline } = await splitForModel(await denoiserOf(model), 2);
    const runner = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(2).devices, wait: 'sync' });
    try {
      // Timers run only around the generation (stage configuration goes over IPC), not in it:
      // 300 steps of at least 1 ms each block the loop in one piece.
      const { gapMs } = await longestLoopGap(() => generate(runner, 300));
      expect(gapMs).toBeGreaterThan(300);
    } finally {
      await runner.close();
    }
  }, 120_000);
});
