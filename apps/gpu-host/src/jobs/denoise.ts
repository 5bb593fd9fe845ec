import type { SamplerCheckpoint } from '@asyncdiff/asyncdiff';
import { SamplingAbortedError } from '@asyncdiff/asyncdiff';
import type { ModelPackage } from '@asyncdiff/models';
import type { JobHandlerContext, JobSpec } from '@asyncdiff/queue';
import { Engine, type GenerateRequest, type GenerateResult, type ResolvedParallel } from '@asyncdiff/stages';

import type { DeviceLease } from '../device-allocator.js';
import type { GroupRuntime, RunningJob } from './group-runtime.js';

/**
 * The cache key of an engine: model, the cut (N, stride) and the devices its stages occupy.
 * Warm-up and time shift are per generation, so they share the same stage processes.
 */
export function engineKey(model: ModelPackage, p: ResolvedParallel, devices: readonly number[]): string {
  const cfg = p.mode === 'sequential' ? 'seq' : `N${p.stages}S${p.stride}`;
  return `${model.name}@${model.version}/${cfg}/d${devices.join(',')}`;
}

/** What one denoising run produced, besides the latents. */
export interface DenoiseOutcome {
  readonly result: GenerateResult;
  readonly engineOpenMs: number;
  readonly denoiseMs: number;
}

/**
 * Runs the sampling loop of one job on leased devices: takes (or lazily opens) the cached engine,
 * resumes from `resume` when given, reports every step, and keeps `lastCheckpoint()` current so
 * the caller can store it when the run is cut short. An engine that failed (anything but an
 * abort between steps) is evicted, so the next job starts from fresh stage processes.
 */
export async function denoise(args: {
  readonly group: GroupRuntime;
  readonly ctx: JobHandlerContext;
  readonly model: ModelPackage;
  readonly spec: JobSpec;
  readonly parallel: ResolvedParallel;
  readonly lease: DeviceLease;
  readonly running: RunningJob;
  readonly resume: SamplerCheckpoint | undefined;
  /** Called after every step with the state to resume from before the next one. */
  readonly onCheckpoint: (checkpoint: SamplerCheckpoint) => void;
}): Promise<DenoiseOutcome> {
  const { group, ctx, model, spec, parallel, lease, running } = args;
  const key = engineKey(model, parallel, lease.devices);
  const opened = performance.now();
  let openedHere = false;
  const groupDevices = [...lease.devices];
  const { entry, release } = await group.engines.take(key, groupDevices, () => {
    openedHere = true;
    return Engine.open({
      model,
      parallel,
      devices: groupDevices.map((d) => group.devices[d]!.spec),
      wait: group.options.coordinatorWait,
      ...(group.options.splitCacheDir !== undefined && { splitCacheDir: group.options.splitCacheDir }),
      maxRestarts: group.options.maxStageRestartsPerJob,
      restartBackoffMs: group.options.restartBackoffMs,
      onStageRestart: (info) => {
        for (const d of info.devices) group.noteRestart(groupDevices[d] ?? -1);
        group.options.log(`group ${group.id}: replaced stage(s) ${info.devices.join(',')} of ${key}; resuming at step ${info.atStep}`);
      },
    });
  });
  const engineOpenMs = openedHere ? performance.now() - opened : 0;
  let broken = true;
  try {
    running.denoiseStartedAt = performance.now();
    const started = performance.now();
    const result = await entry.engine.generate({
      classIds: new Array<number>(spec.count).fill(spec.classId),
      seed: spec.seed,
      steps: spec.steps,
      guidance: spec.guidance,
      scheduler: spec.scheduler as NonNullable<GenerateRequest['scheduler']>,
      warmup: parallel.warmup,
      timeShift: parallel.timeShift,
      signal: ctx.signal,
      ...(args.resume && { resume: args.resume }),
      onStep: (p) => {
        running.step = p.step;
        running.stepsThisRun += 1;
        args.onCheckpoint(p.checkpoint);
        void ctx.reportProgress(p.step, p.steps, { phase: p.phase });
      },
    });
    broken = false;
    return { result, engineOpenMs, denoiseMs: performance.now() - started };
  } catch (err) {
    // Stopped between steps (cancel, drain): the stages are fine and stay warm.
    if (err instanceof SamplingAbortedError) broken = false;
    throw err;
  } finally {
    await release(broken);
  }
}
