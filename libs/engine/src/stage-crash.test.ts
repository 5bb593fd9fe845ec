import { readdirSync } from 'node:fs';

import { StageCrashedError, buildSchedule, guidanceBatch, sample, type StepProgress } from '@asyncdiff/asyncdiff';
import { findModelPackage } from '@asyncdiff/models';
import { createScheduler } from '@asyncdiff/schedulers';
import { isProcessAlive, sweepOrphanSegments } from '@asyncdiff/shm';
import { describe, expect, it } from 'vitest';

import { ProcessRunner, cpuDeviceGroups } from '@asyncdiff/stages';

import { classConditioning, denoiserOf } from './denoiser.js';
import { Engine } from './engine.js';
import { schedulerOptions } from './scheduler-options.js';
import { splitForModel } from './split-pipeline.js';

const model = findModelPackage('digits');

/** Segments named `asyncdiff-<instance>-<pid>-…` of these pids. */
function segmentsOf(pids: readonly number[]): string[] {
  return readdirSync('/dev/shm').filter((f) => pids.some((p) => new RegExp(`^asyncdiff-[a-z][a-z0-9]{11}-${p}-`).test(f)));
}

describe('a stage process killed mid-generation', () => {
  it.each(['sync', 'async'] as const)('is reported as StageCrashedError within a second (%s wait), leaving no shared memory', async (wait) => {
    const { pipeline } = await splitForModel(await denoiserOf(model), 2);
    const runner = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(2).devices, wait });
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
    const err = await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, conditioning: classConditioning(model, [1]), seed: 1, guidance: 2, onStep }).then(
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
    const { pipeline } = await splitForModel(await denoiserOf(model), 2);
    const runner = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(2).devices });
    try {
      // Before any configure there are no input shapes: the stage answers but cannot infer.
      expect((await runner.stages[1]!.health()).inferred).toBe(false);
      const schedule = buildSchedule({ steps: 6, stages: 2, stride: 1, warmup: 2, timeShift: false });
      const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', 6));
      await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, conditioning: classConditioning(model, [1]), seed: 1, guidance: 2 });
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
      const again = await sample({ runner, schedule, scheduler, sampleDims: model.sampleDims, conditioning: classConditioning(model, [2]), seed: 2, guidance: 2 });
      expect(again.latents.every((v) => Number.isFinite(v))).toBe(true);
    } finally {
      await runner.close();
    }
  }, 60_000);

  it('a stage that died between steps (its exit already seen) fails the next dispatch as a crash, not as a lifecycle bug', async () => {
    // The race CI hit: a stage finishes its run and dies before the next dispatch; the exit event
    // (handled during some await) marks its handle crashed; the next step dispatches to it. That
    // must be a retryable StageCrashedError the engine recovers from, never `crashed → busy`.
    const { pipeline } = await splitForModel(await denoiserOf(model), 2);
    const runner = await ProcessRunner.create({ pipeline, devices: cpuDeviceGroups(2).devices });
    try {
      const steps = 6;
      const schedule = buildSchedule({ steps, stages: 2, stride: 1, warmup: 2, timeShift: false });
      const scheduler = createScheduler(model.noiseSchedule, schedulerOptions(model, 'ddim', steps));
      const conditioning = guidanceBatch(classConditioning(model, [3]), true);
      await runner.begin({ batch: 2, conditioning, sampleDims: model.sampleDims });
      const latent = new Float32Array(2 * model.sampleDims.reduce((a, b) => a * b, 1));
      for (const st of schedule.steps.slice(0, 3)) await runner.runStep(st, latent, scheduler.timesteps);
      const victim = runner.pids[1]!;
      const exited = new Promise<void>((resolve) => runner.stages[1]!.onExitOnce(() => resolve()));
      process.kill(victim, 'SIGKILL');
      await exited;
      expect(runner.stages[1]!.state).toBe('crashed');
      const err = await runner.runStep(schedule.steps[3]!, latent, scheduler.timesteps).then(
        () => undefined,
        (e: unknown) => e,
      );
      runner.end();
      expect(err).toBeInstanceOf(StageCrashedError);
      expect((err as StageCrashedError).device).toBe(1);
      expect(await runner.recover()).toEqual([1]);
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
        conditioning: classConditioning(model, [4]),
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

  it('a stage that is alive but stuck (SIGSTOP) past stageStepTimeoutMs is killed, replaced, and the generation completes unchanged', async () => {
    // W ≥ T: every step is sequential, so the one re-warm step after recovery changes nothing and
    // the output must equal an uninterrupted run's bit for bit (across two stage processes).
    const steps = 30;
    const restarts: { devices: readonly number[]; atStep: number }[] = [];
    const engine = await Engine.open({ model, parallel: { mode: 'async', stages: 2, warmup: steps }, stageStepTimeoutMs: 1000, onStageRestart: (i) => restarts.push(i) });
    try {
      const req = { conditioning: classConditioning(model, [7, 2]), seed: 5, steps } as const;
      const reference = await engine.generate(req);
      const victim = (engine.runner as ProcessRunner).pids[1]!;
      let stoppedAt = 0;
      let detectedMs = 0;
      const r = await engine.generate({
        ...req,
        onStep: (p) => {
          if (p.step === 10 && stoppedAt === 0) {
            stoppedAt = performance.now();
            process.kill(victim, 'SIGSTOP');
          }
        },
      });
      detectedMs = performance.now() - stoppedAt;
      expect(r.restarts).toBe(1);
      expect(restarts).toEqual([{ devices: [1], atStep: 10, restarts: 1 }]);
      expect((engine.runner as ProcessRunner).pids[1]).not.toBe(victim);
      expect(isProcessAlive(victim)).toBe(false);
      expect(detectedMs).toBeGreaterThanOrEqual(1000);
      expect(Buffer.from(r.latents.buffer).equals(Buffer.from(reference.latents.buffer))).toBe(true);
      expect(segmentsOf([victim])).toEqual([]);
    } finally {
      await engine.close();
    }
  }, 60_000);
});
