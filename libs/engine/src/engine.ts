import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { AsyncKnobs, Compensation, GuidanceConditioning, ParallelLayout, ParallelOptions, PhaseTimes, PipelineSpec, SamplerCheckpoint, StageRunner, StepProgress } from '@asyncdiff/asyncdiff';
import { InvalidOptionError, StageCrashedError, branchesOf, buildSchedule, devicesNeeded, isStale, layoutOf, modelRows, resolveParallel, sample, sliceConditioning } from '@asyncdiff/asyncdiff';
import type { GeneratorPackage } from '@asyncdiff/models';
import type { SchedulerKind } from '@asyncdiff/schedulers';
import { InProcessRunner, ProcessRunner, cpuDeviceGroups, type CoordinatorWait, type DeviceSpec } from '@asyncdiff/stages';

import { denoiserOf, type Denoiser } from './denoiser.js';
import { samplingOf, type Sampling } from './sampling.js';
import { splitForModel } from './split-pipeline.js';
import { wholeModelPipeline } from './whole-model.js';

/** `var/splits` at the repository root (found relative to this file, from src or dist alike). */
const DEFAULT_SPLIT_CACHE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../var/splits');

/** Options of an engine: one model, one parallel configuration, its devices. */
export interface EngineOptions {
  readonly model: GeneratorPackage;
  /** The process layout (N, stride) and the default per-generation knobs (warm-up, time shift). */
  readonly parallel?: ParallelOptions;
  /** Devices for the stages; default: this machine's cores split into the needed groups. */
  readonly devices?: readonly DeviceSpec[];
  /** `process` (stage processes, the product) or `in-process` (tests, baselines). @defaultValue 'process' */
  readonly runner?: 'process' | 'in-process';
  /** ORT intra-op threads per session for the in-process runner. @defaultValue 1 */
  readonly intraOpThreads?: number;
  /** How the coordinator waits for stages (see ProcessRunnerOptions.wait). @defaultValue 'async' */
  readonly wait?: CoordinatorWait;
  /** Largest runner batch (rows: 2 per image with guidance); bigger requests run in chunks. @defaultValue 32 */
  readonly maxBatch?: number;
  /** A stage run slower than this is killed as stuck and recovered like a crash (see ProcessRunnerOptions). @defaultValue 60000 */
  readonly stageStepTimeoutMs?: number;
  /**
   * Where stage splits are cached (per model, a subfolder). @defaultValue our packages:
   * `<model dir>/splits`; diffusers exports: `var/splits` of this checkout (their folder may be
   * read-only and is never written to)
   */
  readonly splitCacheDir?: string;
  /** Cap on each stage's share of the UNet's weights (see SplitForModelOptions). @defaultValue no cap */
  readonly maxStageWeightShare?: number;
  /** @defaultValue 0 */
  readonly spinUs?: number;
  /** Stage crashes survived per generation before giving up. @defaultValue 3 */
  readonly maxRestarts?: number;
  /** First restart delay, doubled on each further restart. @defaultValue 100 */
  readonly restartBackoffMs?: number;
  /** Called after dead stages were replaced and before the generation resumes. */
  readonly onStageRestart?: (info: { readonly devices: readonly number[]; readonly atStep: number; readonly restarts: number }) => void;
}

/** One generation: conditioning per image, seed, and sampling settings (defaults from the model). */
export interface GenerateRequest {
  /** Each image's conditioning and its unconditional counterpart (`classConditioning`, text embeddings). */
  readonly conditioning: GuidanceConditioning;
  readonly seed: number;
  /** Latent row dims for this generation (text-to-image: from width/height). @defaultValue the model's */
  readonly sampleDims?: readonly number[];
  readonly steps?: number;
  readonly guidance?: number;
  readonly scheduler?: SchedulerKind;
  /** DDIM η. */
  readonly eta?: number;
  /** Warm-up steps for this generation (async only; the stage processes do not depend on it). */
  readonly warmup?: number;
  /** Time shift for this generation (async only). */
  readonly timeShift?: boolean;
  /** Staleness compensation for this generation (async only). */
  readonly compensation?: Compensation;
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
  /** Model evaluations the scheduler ran: `steps`, or more for pndm (its checkpoints count these). */
  readonly evaluations: number;
  readonly guidance: number;
  readonly scheduler: SchedulerKind;
}

/**
 * The engine a coordinator (CLI or GPU host) drives: owns the stage processes of one process
 * layout, generates with AsyncDiff (or sequentially) and survives stage crashes by replacing the
 * dead stage and resuming from the step it had reached — the coordinator holds the latent, so
 * nothing is lost.
 */
export class Engine {
  private constructor(
    readonly model: GeneratorPackage,
    readonly denoiser: Denoiser,
    readonly sampling: Sampling,
    readonly layout: ParallelLayout,
    /** Knobs used when a request does not set its own. */
    readonly defaults: AsyncKnobs,
    readonly pipeline: PipelineSpec,
    readonly runner: StageRunner,
    private readonly options: EngineOptions,
  ) {}

  /** Splits the model if needed (cached), spawns and loads the stages. */
  static async open(options: EngineOptions): Promise<Engine> {
    const parallel = resolveParallel(options.parallel);
    const { model } = options;
    const denoiser = await denoiserOf(model);
    const cacheRoot = options.splitCacheDir ?? (model.format === 'diffusers' ? DEFAULT_SPLIT_CACHE : undefined);
    const cacheDir = cacheRoot ? path.join(cacheRoot, model.name) : undefined;
    const pipeline =
      parallel.stages > 1 ? (
            await splitForModel(denoiser, parallel.stages, {
              ...(cacheDir ? { cacheDir } : {}),
              ...(options.maxStageWeightShare !== undefined ? { maxStageWeightShare: options.maxStageWeightShare } : {}),
            })
          ).pipeline : wholeModelPipeline(denoiser.path, denoiser.signature, denoiser.io);
    const count = devicesNeeded(parallel);
    const branches = branchesOf(parallel);
    let runner: StageRunner;
    if ((options.runner ?? 'process') === 'in-process') {
      runner = await InProcessRunner.create(pipeline, { devices: count / branches, branches, intraOpThreads: options.intraOpThreads ?? 1 });
    } else {
      const devices = options.devices ?? cpuDeviceGroups(count).devices;
      if (devices.length !== count) throw new RangeError(`parallel config needs ${count} devices, got ${devices.length}`);
      runner = await ProcessRunner.create({
        pipeline,
        devices,
        branches,
        // Exact modes never compensate: their channels stay plain double buffers.
        maxCompensation: isStale(parallel.mode) ? 'quadratic' : 'none',
        ...(options.wait ? { wait: options.wait } : {}),
        ...(options.maxBatch ? { maxBatch: options.maxBatch } : {}),
        ...(options.spinUs !== undefined ? { spinUs: options.spinUs } : {}),
        ...(options.stageStepTimeoutMs !== undefined ? { stageStepTimeoutMs: options.stageStepTimeoutMs } : {}),
      });
    }
    return new Engine(model, denoiser, samplingOf(model), layoutOf(parallel), { warmup: parallel.warmup, timeShift: parallel.timeShift, compensation: parallel.compensation }, pipeline, runner, options);
  }

  /**
   * Generates `conditioning.images` images. A request bigger than one runner batch (`maxBatch` rows,
   * two per image with guidance) runs in consecutive chunks; image i still starts from the noise
   * of seed + i, so the latents equal a one-chunk run's. Progress then counts the steps of all
   * chunks, and such a request cannot resume from a checkpoint (a chunk's covers only itself).
   */
  async generate(req: GenerateRequest): Promise<GenerateResult> {
    const guidance = req.guidance ?? this.sampling.defaults.guidance;
    const rowsPerImage = modelRows(1, guidance);
    const cap = this.runner.maxBatch;
    const perChunk = cap === undefined ? Infinity : Math.max(1, Math.floor(cap / rowsPerImage));
    return req.conditioning.images <= perChunk ? this.generateBatch(req) : this.generateInChunks(req, perChunk);
  }

  private async generateInChunks(req: GenerateRequest, perChunk: number): Promise<GenerateResult> {
    const images = req.conditioning.images;
    if (req.resume) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'resume', `${images} images run in chunks of ${perChunk}; a chunked generation cannot resume from a checkpoint`);
    const chunks = Math.ceil(images / perChunk);
    const parts: GenerateResult[] = [];
    for (let k = 0; k < chunks; k++) {
      const onStep = req.onStep;
      parts.push(
        await this.generateBatch({
          ...req,
          conditioning: sliceConditioning(req.conditioning, k * perChunk, Math.min(images, (k + 1) * perChunk)),
          seed: req.seed + k * perChunk,
          ...(onStep && { onStep: (p: StepProgress) => onStep({ ...p, step: k * p.steps + p.step, steps: chunks * p.steps }) }),
        }),
      );
    }
    const first = parts[0]!;
    const latents = new Float32Array(parts.reduce((n, r) => n + r.latents.length, 0));
    let offset = 0;
    for (const r of parts) {
      latents.set(r.latents, offset);
      offset += r.latents.length;
    }
    const phases = structuredClone(first.phases);
    for (const r of parts.slice(1)) {
      for (const [phase, t] of Object.entries(r.phases) as [keyof PhaseTimes, PhaseTimes[keyof PhaseTimes]][]) {
        phases[phase].steps += t.steps;
        phases[phase].runnerMs += t.runnerMs;
        phases[phase].samplerMs += t.samplerMs;
      }
    }
    return {
      ...first,
      latents,
      images,
      phases,
      totalMs: parts.reduce((ms, r) => ms + r.totalMs, 0),
      restarts: parts.reduce((n, r) => n + r.restarts, 0),
    };
  }

  /** One runner batch: the sampling loop, surviving stage crashes. */
  private async generateBatch(req: GenerateRequest): Promise<GenerateResult> {
    const d = this.sampling.defaults;
    const steps = req.steps ?? d.steps;
    const guidance = req.guidance ?? d.guidance;
    const kind = req.scheduler ?? d.scheduler;
    const sampleDims = req.sampleDims ?? this.denoiser.sampleDims;
    // Without stale features (sequential, cfg) every step is a warm-up step: exact sampling.
    const sequential = !isStale(this.layout.mode);
    // Model evaluations: pndm runs more than `steps` (diffusers' PLMS repeats one timestep).
    const evaluations = this.sampling.create(kind, steps, req.eta).steps;
    const schedule = buildSchedule({
      steps: evaluations,
      stages: this.runner.components,
      stride: this.layout.stride,
      warmup: sequential ? evaluations : (req.warmup ?? this.defaults.warmup),
      timeShift: sequential ? false : (req.timeShift ?? this.defaults.timeShift),
      compensation: sequential ? 'none' : (req.compensation ?? this.defaults.compensation),
    });
    const maxRestarts = this.options.maxRestarts ?? 3;
    let checkpoint = req.resume;
    let restarts = 0;
    for (;;) {
      const scheduler = this.sampling.create(kind, steps, req.eta);
      try {
        const r = await sample({
          runner: this.runner,
          schedule,
          scheduler,
          sampleDims,
          conditioning: req.conditioning,
          seed: req.seed,
          guidance,
          signal: req.signal,
          resume: checkpoint,
          onStep: (prog) => {
            checkpoint = prog.checkpoint;
            req.onStep?.(prog);
          },
        });
        return { latents: r.latents, images: req.conditioning.images, sampleDims, totalMs: r.totalMs, phases: r.phases, restarts, steps, evaluations, guidance, scheduler: kind };
      } catch (e) {
        if (!(e instanceof StageCrashedError) || restarts >= maxRestarts) throw e;
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
