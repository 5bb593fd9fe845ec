import { buildSchedule, sample, type Compensation, type PipelineSpec, type StageRunner } from '@asyncdiff/asyncdiff';
import { findModelPackage, type ModelPackage } from '@asyncdiff/models';
import { createScheduler } from '@asyncdiff/schedulers';
import { InProcessRunner, ProcessRunner, cpuDeviceGroups } from '@asyncdiff/stages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { schedulerOptions } from './scheduler-options.js';
import { wholeModelPipeline } from './whole-model.js';
import { classConditioning, denoiserOf } from './denoiser.js';
import { splitForModel } from './split-pipeline.js';

const STEPS = 12;

async function generate(runner: StageRunner, model: ModelPackage, stride: 1 | 2, warmup: number, compensation: Compensation = 'none'): Promise<Float32Array> {
  const schedule = buildSchedule({ steps: STEPS, stages: runner.components, stride, warmup, timeShift: false, compensation });
  const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', STEPS));
  const r = await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, conditioning: classConditioning(model, [3, 8]), seed: 11, guidance: 2 });
  return r.latents;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

describe.each(['digits', 'moving-digits'])('%s: runners execute the plan exactly', (name) => {
  const model = findModelPackage(name);
  let sequential: Float32Array;
  const pipelines = new Map<number, PipelineSpec>();

  beforeAll(async () => {
    const whole = await InProcessRunner.create(wholeModelPipeline(model.denoiserPath, (await denoiserOf(model)).signature, model.io));
    sequential = await generate(whole, model, 1, STEPS);
    await whole.close();
    for (const n of [2, 3]) pipelines.set(n, (await splitForModel(await denoiserOf(model), n)).pipeline);
  }, 240_000);

  const configs = name === 'digits' ? ([[2, 1], [2, 2], [3, 1], [3, 2]] as const) : ([[2, 1], [2, 2]] as const);

  it.each(configs)('N=%i stride %i: W ≥ T reproduces sequential sampling (in-process and stage processes)', async (n, stride) => {
    const pipeline = pipelines.get(n)!;
    const devices = stride === 2 ? n + 1 : n;
    const inproc = await InProcessRunner.create(pipeline, { devices });
    const a = await generate(inproc, model, stride, STEPS);
    // Compensation acts on parallel steps only: with W ≥ T there are none.
    const ac = await generate(inproc, model, stride, STEPS, 'quadratic');
    await inproc.close();
    expect(maxAbsDiff(a, sequential)).toBeLessThanOrEqual(1e-5);
    expect(maxAbsDiff(ac, sequential)).toBeLessThanOrEqual(1e-5);
    const proc = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(devices).devices, wait: 'sync' });
    try {
      const b = await generate(proc, model, stride, STEPS);
      expect(maxAbsDiff(b, sequential)).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(await generate(proc, model, stride, STEPS, 'linear'), sequential)).toBeLessThanOrEqual(1e-5);
    } finally {
      await proc.close();
    }
  }, 120_000);

  it.each(configs)('N=%i stride %i, W=3: stage processes compute exactly what the in-process reference computes', async (n, stride) => {
    const pipeline = pipelines.get(n)!;
    const devices = stride === 2 ? n + 1 : n;
    const inproc = await InProcessRunner.create(pipeline, { devices });
    const a = await generate(inproc, model, stride, 3);
    await inproc.close();
    // Asynchronous sampling differs from sequential (stale hidden states)…
    expect(maxAbsDiff(a, sequential)).toBeGreaterThan(1e-4);
    const proc = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(devices).devices, wait: 'async' });
    try {
      // …but both runners agree on it: same stale inputs, same timesteps, same eps per step.
      const b = await generate(proc, model, stride, 3);
      expect(maxAbsDiff(b, a)).toBeLessThanOrEqual(1e-5);
    } finally {
      await proc.close();
    }
  }, 120_000);

  it.each(configs)('N=%i stride %i, W=3, compensated: stage processes extrapolate exactly what the in-process reference does', async (n, stride) => {
    const pipeline = pipelines.get(n)!;
    const devices = stride === 2 ? n + 1 : n;
    const inproc = await InProcessRunner.create(pipeline, { devices });
    const stale = await generate(inproc, model, stride, 3);
    const linear = await generate(inproc, model, stride, 3, 'linear');
    const quadratic = await generate(inproc, model, stride, 3, 'quadratic');
    await inproc.close();
    // Compensation changes what the consumers read…
    expect(maxAbsDiff(linear, stale)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(quadratic, linear)).toBeGreaterThan(1e-4);
    const proc = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(devices).devices, wait: 'sync' });
    try {
      // …and the stages, extrapolating from their producers' slots into their own inputs, agree.
      expect(maxAbsDiff(await generate(proc, model, stride, 3, 'linear'), linear)).toBeLessThanOrEqual(1e-5);
      expect(maxAbsDiff(await generate(proc, model, stride, 3, 'quadratic'), quadratic)).toBeLessThanOrEqual(1e-5);
      // Generations alternate freely on one runner: the uncompensated plan still reads the runs as they are.
      expect(maxAbsDiff(await generate(proc, model, stride, 3), stale)).toBeLessThanOrEqual(1e-5);
    } finally {
      await proc.close();
    }
  }, 120_000);

  it('a runner built without compensation refuses a compensated generation, naming the knob', async () => {
    const proc = await ProcessRunner.create({ pipeline: pipelines.get(2)!, devices: cpuDeviceGroups(2).devices, wait: 'sync', maxCompensation: 'none' });
    try {
      await expect(generate(proc, model, 1, 3, 'linear')).rejects.toMatchObject({ code: 'RUNNER_BAD_STEP', field: 'compensation' });
    } finally {
      await proc.close();
    }
  }, 60_000);

  afterAll(() => {
    pipelines.clear();
  });
});
