import path from 'node:path';

import type { PhaseTimes, PipelineSpec, SamplerCheckpoint, StageRunner, StepProgress } from '@asyncdiff/asyncdiff';
import { InProcessRunner, StageCrashedError, buildSchedule, sample, wholeModelPipeline } from '@asyncdiff/asyncdiff';
import type { ModelPackage } from '@asyncdiff/models';
import { createScheduler, type SchedulerKind, type SchedulerOptions } from '@asyncdiff/schedulers';

import { cpuDeviceGroups, type DeviceSpec } from './device.js';
import { devicesNeeded, resolveParallel, type ParallelOptions, type ResolvedParallel } from './parallel.js';
import { ProcessRunner, type CoordinatorWait } from './process-runner.js';
import { splitForModel } from './split-pipeline.js';

/** Options of an engine: one model, one parallel configuration, its devices. */
export interface EngineOptions {
  readonly model: ModelPackage;
  readonly parallel?: ParallelOptions;
  /** Devices for the stages; default: this machine's cores split into the needed groups. */
  readonly devices?: readonly DeviceSpec[];
  /** `process` (stage processes, the product) or `in-process` (tests, baselines). @defaultValue 'process' */
  readonly runner?: 'process' | 'in-process';
  /** ORT intra-op threads per session for the in-process runner. @defaultValue 1 */
  readonly intraOpThreads?: number;
  /** How the coordinator waits for stages (see ProcessRunnerOptions.wait). @defaultValue 'async' */
  readonly wait?: CoordinatorWait;
  /** @defaultValue 32 */
  readonly maxBatch?: number;
  /** Where stage splits are cached (per model, a subfolder). @defaultValue `<model dir>/splits` */
  readonly splitCacheDir?: string;
  /** @defaultValue 0 */
  readonly spinUs?: number;
  /** Stage crashes survived per generation before giving up. @defaultValue 3 */
  readonly maxRestarts?: number;
  /** First restart delay, doubled on each further restart. @defaultValue 100 */
  readonly restartBackoffMs?: number;
  /** Called after dead stages were replaced and before the generation resumes. */
  readonly onStageRestart?: (info: { readonly devices: readonly number[]; readonly atStep: number; readonly restarts: number }) => void;
}

/** One generation: class per image, seed, and sampling settings (defaults from model.json). */
export interface GenerateRequest {
  readonly classIds: readonly number[];
  readonly seed: number;
  readonly steps?: number;
  readonly guidance?: number;
  readonly scheduler?: SchedulerKind;
  /** DDIM η. */
  readonly eta?: number;
  /** Warm-up steps for this generation (async only; the stage processes do not depend on it). */
  readonly warmup?: number;
  /** Time shift for this generation (async only). */
  readonly timeShift?: boolean;
  readonly signal?: AbortSignal;
  readonly onStep?: (p: StepProgress) => void;
  /** Continue a generation another coordinator started (its last checkpoint). */
  readonly resume?: SamplerCheckpoint;
}

/** Final latents (model value space) and how the generation went. */
export interface GenerateResult {
  readonly latents: Float32Array;
  readonly images: number;
  readonly sampleDims: readonly number[];
  readonly totalMs: number;
  readonly phases: PhaseTimes;
  readonly restarts: number;
  readonly steps: number;
  readonly guidance: number;
  readonly scheduler: SchedulerKind;
}

/**
 * The engine a coordinator (CLI or GPU host) drives: owns the stage processes of one parallel
 * configuration, generates with AsyncDiff (or sequentially) and survives stage crashes by
 * replacing the dead stage and resuming from the step it had reached — the coordinator holds
 * the latent, so nothing is lost.
 */
export class Engine {
  private constructor(
    readonly model: ModelPackage,
    readonly parallel: ResolvedParallel,
    readonly pipeline: PipelineSpec,
    readonly runner: StageRunner,
    private readonly options: EngineOptions,
  ) {}

  /** Splits the model if needed (cached), spawns and loads the stages. */
  static async open(options: EngineOptions): Promise<Engine> {
    const parallel = resolveParallel(options.parallel);
    const { model } = options;
    const cacheDir = options.splitCacheDir ? path.join(options.splitCacheDir, model.name) : undefined;
    const pipeline = parallel.stages > 1 ? (await splitForModel(model, parallel.stages, cacheDir ? { cacheDir } : {})).pipeline : wholeModelPipeline(model);
    const count = devicesNeeded(parallel);
    let runner: StageRunner;
    if ((options.runner ?? 'process') === 'in-process') {
      runner = await InProcessRunner.create(pipeline, { devices: count, intraOpThreads: options.intraOpThreads ?? 1 });
    } else {
      const devices = options.devices ?? cpuDeviceGroups(count).devices;
      if (devices.length !== count) throw new RangeError(`parallel config needs ${count} devices, got ${devices.length}`);
      runner = await ProcessRunner.create({
        pipeline,
        devices,
        sampleDims: model.sampleDims,
        ...(options.wait ? { wait: options.wait } : {}),
        ...(options.maxBatch ? { maxBatch: options.maxBatch } : {}),
        ...(options.spinUs !== undefined ? { spinUs: options.spinUs } : {}),
      });
    }
    return new Engine(model, parallel, pipeline, runner, options);
  }

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const m = this.model;
    const steps = req.steps ?? m.defaults.steps;
    const guidance = req.guidance ?? m.defaults.guidance;
    const kind = req.scheduler ?? m.defaults.scheduler;
    const p = this.parallel;
    const schedule = buildSchedule({
      steps,
      stages: this.runner.components,
      stride: p.stride,
      warmup: p.mode === 'sequential' ? steps : (req.warmup ?? p.warmup),
      timeShift: p.mode === 'sequential' ? false : (req.timeShift ?? p.timeShift),
    });
    const maxRestarts = this.options.maxRestarts ?? 3;
    let checkpoint = req.resume;
    let restarts = 0;
    for (;;) {
      const scheduler = createScheduler(m.noiseSchedule, schedulerOptions(m, kind, steps, req.eta));
      try {
        const r = await sample({
          runner: this.runner,
          schedule,
          scheduler,
          sampleDims: m.sampleDims,
          classIds: req.classIds,
          nullClass: m.nullClass,
          seed: req.seed,
          guidance,
          signal: req.signal,
          resume: checkpoint,
          onStep: (prog) => {
            checkpoint = prog.checkpoint;
            req.onStep?.(prog);
          },
        });
        return { latents: r.latents, images: req.classIds.length, sampleDims: m.sampleDims, totalMs: r.totalMs, phases: r.phases, restarts, steps, guidance, scheduler: kind };
      } catch (e) {
        if (!(e instanceof StageCrashedError) || !(this.runner instanceof ProcessRunner) || restarts >= maxRestarts) throw e;
        restarts += 1;
        await new Promise((r) => setTimeout(r, (this.options.restartBackoffMs ?? 100) * 2 ** (restarts - 1)));
        const devices = await this.runner.recover();
        this.options.onStageRestart?.({ devices, atStep: checkpoint?.step ?? 0, restarts });
      }
    }
  }

  close(): Promise<void> {
    return this.runner.close();
  }
}

/** Scheduler options from a request and the model's defaults (knobs only where they apply). */
export function schedulerOptions(m: ModelPackage, kind: SchedulerKind, steps: number, eta?: number): SchedulerOptions {
  const d = m.defaults;
  if (kind === 'ddim') return { kind, steps, eta: eta ?? d.eta, clipSample: d.clipSample, useClippedModelOutput: d.useClippedModelOutput };
  if (kind === 'ddpm') return { kind, steps, clipSample: d.clipSample };
  return { kind, steps };
}
