import { readdirSync } from 'node:fs';

import { StageCrashedError, buildSchedule, sample, type StepProgress } from '@asyncdiff/asyncdiff';
import { findModelPackage } from '@asyncdiff/models';
import { createScheduler } from '@asyncdiff/schedulers';
import { sweepOrphanSegments } from '@asyncdiff/shm';
import { describe, expect, it } from 'vitest';

import { cpuDeviceGroups } from './device.js';
import { Engine, schedulerOptions } from './engine.js';
import { ProcessRunner } from './process-runner.js';
import { splitForModel } from './split-pipeline.js';

const model = findModelPackage('digits');

function segmentsOf(pids: readonly number[]): string[] {
  return readdirSync('/dev/shm').filter((f) => pids.some((p) => f.startsWith(`asyncdiff-${p}-`)));
}

describe('a stage process killed mid-generation', () => {
  it.each(['sync', 'async'] as const)('is reported as StageCrashedError within a second (%s wait), leaving no shared memory', async (wait) => {
    const { pipeline } = await splitForModel(model, 2);
    const runner = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(2).devices, sampleDims: model.sampleDims, wait });
    const pids = [process.pid, ...runner.pids];
    const steps = 400;
    let killedAt = 0;
    const victim = runner.pids[1]!;
    const onStep = (p: StepProgress): void => {
      if (p.step === 10) {
        killedAt = performance.now();
        process.kill(victim, 'SIGKILL');
      }
    };
    const schedule = buildSchedule({ steps, stages: 2, stride: 1, warmup: 2, timeShift: false });
    const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', steps));
    const err = await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, classIds: [1], nullClass: model.nullClass, seed: 1, guidance: 2, onStep }).then(
      () => undefined,
      (e: unknown) => e,
    );
    const detectedMs = performance.now() - killedAt;
    expect(err).toBeInstanceOf(StageCrashedError);
    expect((err as StageCrashedError).device).toBe(1);
    expect((err as StageCrashedError).retryable).toBe(true);
    expect(detectedMs).toBeLessThan(1000);
    await runner.close();
    sweepOrphanSegments();
    expect(segmentsOf(pids)).toEqual([]);
  }, 60_000);

  it('recover() replaces the dead stage and rebinds every stage at once: the health check is a real inference', async () => {
    const { pipeline } = await splitForModel(model, 2);
    const runner = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(2).devices, sampleDims: model.sampleDims });
    try {
      // Before any configure there are no input shapes: the stage answers but cannot infer.
      expect((await runner.stages[1]!.health()).inferred).toBe(false);
      const schedule = buildSchedule({ steps: 6, stages: 2, stride: 1, warmup: 2, timeShift: false });
      const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', 6));
      await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, classIds: [1], nullClass: model.nullClass, seed: 1, guidance: 2 });
      const victim = runner.pids[1]!;
      process.kill(victim, 'SIGKILL');
      await new Promise<void>((resolve) => runner.stages[1]!.onExitOnce(() => resolve()));
      expect(await runner.recover()).toEqual([1]);
      expect(runner.pids[1]).not.toBe(victim);
      for (const stage of runner.stages) {
        const h = await stage.health();
        expect(h.inferred).toBe(true);
        expect(h.runMs).toBeGreaterThan(0);
      }
      // And the recovered runner still generates.
      const again = await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, classIds: [2], nullClass: model.nullClass, seed: 2, guidance: 2 });
      expect(again.latents.every((v) => Number.isFinite(v))).toBe(true);
    } finally {
      await runner.close();
    }
  }, 60_000);

  it('does not lose the generation: the engine replaces the stage and resumes at the step reached', async () => {
    const restarts: { devices: readonly number[]; atStep: number }[] = [];
    const engine = await Engine.open({ model, parallel: { mode: 'async', stages: 2, warmup: 2 }, onStageRestart: (i) => restarts.push(i) });
    try {
      let killed = false;
      const steps: number[] = [];
      const r = await engine.generate({
        classIds: [4],
        seed: 3,
        steps: 60,
        onStep: (p) => {
          steps.push(p.step);
          if (p.step === 25 && !killed) {
            killed = true;
            process.kill((engine.runner as ProcessRunner).pids[0]!, 'SIGKILL');
          }
        },
      });
      expect(r.restarts).toBe(1);
      expect(restarts).toHaveLength(1);
      expect(restarts[0]!.devices).toEqual([0]);
      expect(restarts[0]!.atStep).toBeGreaterThanOrEqual(25);
      // Every step ran exactly once: the generation resumed from the checkpoint, not from step 0.
      expect(steps[steps.length - 1]).toBe(60);
      expect(new Set(steps).size).toBe(60);
      expect(r.latents.every((v) => Number.isFinite(v))).toBe(true);
    } finally {
      await engine.close();
    }
  }, 60_000);
});
