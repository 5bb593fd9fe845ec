import { buildSchedule, sample } from '@asyncdiff/asyncdiff';
import { findModelPackage } from '@asyncdiff/models';
import { createScheduler } from '@asyncdiff/schedulers';
import { ProcessRunner, cpuDeviceGroups, monotonicUs } from '@asyncdiff/stages';
import { describe, expect, it } from 'vitest';

import { schedulerOptions } from './scheduler-options.js';
import { classConditioning, denoiserOf } from './denoiser.js';
import { splitForModel } from './split-pipeline.js';

const model = findModelPackage('digits');

describe('runner profile counters (what the benchmark reports as "where a step\'s time goes")', () => {
  it('the shared clock agrees across processes closely enough to stamp hand-offs', async () => {
    const { execFileSync } = await import('node:child_process');
    const before = monotonicUs();
    const child = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(Number(process.hrtime.bigint()) / 1000))']).toString());
    const after = monotonicUs();
    expect(child).toBeGreaterThan(before);
    expect(child).toBeLessThan(after);
  });

  it.each(['sync', 'async'] as const)('%s wait: the hand-off is counted per step, positive and a part of the step', async (wait) => {
    const { pipeline } = await splitForModel(await denoiserOf(model), 2);
    const runner = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(2).devices, wait });
    try {
      const steps = 40;
      const schedule = buildSchedule({ steps, stages: 2, stride: 1, warmup: 3, timeShift: false });
      const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', steps));
      await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, conditioning: classConditioning(model, [6]), seed: 2, guidance: 1.5 });
      const s = runner.stats;
      expect(s.steps).toBe(steps);
      // Every step wakes at least the coordinator once: some hand-off time, never more than the step.
      expect(s.handoffUs).toBeGreaterThan(0);
      expect(s.handoffUs).toBeLessThan(s.stepUs);
      expect(s.criticalSessionUs).toBeLessThan(s.stepUs);
    } finally {
      await runner.close();
    }
  }, 60_000);
});
