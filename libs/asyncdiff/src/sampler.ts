import type { Scheduler, SchedulerState } from '@asyncdiff/schedulers';
import { applyGuidance } from '@asyncdiff/schedulers';

import { InvalidOptionError, SamplingAbortedError } from './errors.js';
import { guidanceBatch, modelRows, type GuidanceConditioning } from './feed.js';
import { initialLatent, stepNoise } from './noise.js';
import type { PhaseTimes } from './timings.js';
import { emptyPhaseTimes } from './timings.js';
import type { Schedule, StepPhase } from './plan.js';
import { rewarmAt } from './rewarm.js';
import type { StageRunner } from './runner.js';

/**
 * Where a generation stands before step `step`: everything needed to continue it elsewhere.
 * The coordinator owns this (not the stages), which is why a crashed stage loses nothing.
 */
export interface SamplerCheckpoint {
  readonly step: number;
  /** Latents x_step of every image, concatenated. */
  readonly latent: Float32Array;
  readonly scheduler: SchedulerState;
}

/** Reported after every denoising step. */
export interface StepProgress {
  /** Steps completed (1-based count). */
  readonly step: number;
  readonly steps: number;
  readonly phase: StepPhase;
  readonly stepMs: number;
  /** State to resume from before the next step. */
  readonly checkpoint: SamplerCheckpoint;
  /**
   * The clean samples x̂0 the model predicted at this step, every image concatenated, in model
   * value space (what previews show). Computed only when called, from arrays this step owns, so
   * it costs the loop nothing unless asked for and stays valid after later steps have run.
   */
  readonly predictOriginal: () => Float32Array;
}

/** A generation request against a runner. */
export interface SampleOptions {
  readonly runner: StageRunner;
  readonly schedule: Schedule;
  /** A fresh scheduler for `schedule.options.steps` steps (stateful: one per generation). */
  readonly scheduler: Scheduler;
  /** Dims of one latent without batch ([C,H,W] or [C,F,H,W]). */
  readonly sampleDims: readonly number[];
  /**
   * Conditioning of each image and its unconditional counterpart (class ids and the null class,
   * or prompt and negative-prompt embeddings); `images` is the number of images generated.
   */
  readonly conditioning: GuidanceConditioning;
  /** Image i starts from the noise of seed + i, so a batch equals separate single-image jobs. */
  readonly seed: number;
  /** Classifier-free guidance scale w: eps_u + w (eps_c - eps_u); 1 runs without the unconditional batch. */
  readonly guidance: number;
  readonly signal?: AbortSignal | undefined;
  readonly onStep?: ((p: StepProgress) => void) | undefined;
  /** Continue from a checkpoint (the first step is re-warmed sequentially). */
  readonly resume?: SamplerCheckpoint | undefined;
}

/** Final latents and where the time went. */
export interface SampleResult {
  /** x_0 of every image concatenated, in model value space. */
  readonly latents: Float32Array;
  readonly stepsRun: number;
  readonly totalMs: number;
  readonly phases: PhaseTimes;
}

/**
 * The denoising loop: draws seeded noise, executes the plan through the runner step by step,
 * applies guidance and the scheduler. It never runs a model itself, so its caller's event loop
 * stays free whenever the runner is process-backed.
 */
export async function sample(o: SampleOptions): Promise<SampleResult> {
  const T = o.schedule.options.steps;
  if (o.scheduler.steps !== T) {
    throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'steps', `scheduler has ${o.scheduler.steps} steps, schedule has ${T}`);
  }
  if (!(o.guidance >= 0) || !Number.isFinite(o.guidance)) {
    throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'guidance', `guidance must be a finite number ≥ 0, got ${o.guidance}`);
  }
  const images = o.conditioning.images;
  if (!(images >= 1)) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'count', 'at least one image is required');
  const n = o.sampleDims.reduce((a, b) => a * b, 1);
  const cfg = o.guidance !== 1;
  const batch = modelRows(images, o.guidance);
  const conditioning = guidanceBatch(o.conditioning, cfg);

  let schedule = o.schedule;
  let x: Float32Array;
  let first = 0;
  if (o.resume) {
    first = o.resume.step;
    x = o.resume.latent;
    o.scheduler.loadState(o.resume.scheduler);
    schedule = rewarmAt(schedule, first);
  } else {
    x = initialLatent(o.scheduler, o.seed, images, n);
  }

  await o.runner.begin({ batch, conditioning, sampleDims: o.sampleDims });
  try {
    return await denoise(o, schedule, { x, first, images, n, cfg, batch });
  } finally {
    o.runner.end?.();
  }
}

/** The step loop of `sample`, from step `first` with latent `x`. */
async function denoise(
  o: SampleOptions,
  schedule: Schedule,
  start: { x: Float32Array; first: number; images: number; n: number; cfg: boolean; batch: number },
): Promise<SampleResult> {
  const { first, images, n, cfg, batch } = start;
  const T = schedule.options.steps;
  let x = start.x;
  const phases = emptyPhaseTimes();
  const started = performance.now();
  const modelInput = new Float32Array(batch * n);
  for (let s = first; s < T; s++) {
    if (o.signal?.aborted) throw new SamplingAbortedError(s);
    const plan = schedule.steps[s];
    if (!plan) throw new InvalidOptionError('SAMPLER_INVALID_OPTION', 'steps', `schedule has no step ${s}`);
    const t0 = performance.now();
    if (plan.runs.length > 0) {
      const scaled = o.scheduler.scaleModelInput(x, s);
      modelInput.set(scaled, 0);
      if (cfg) modelInput.set(scaled, images * n);
      await o.runner.runStep(plan, modelInput, o.scheduler.timesteps);
    }
    const next = schedule.steps[s + 1];
    if (next && o.runner.prepareStep && !o.signal?.aborted) o.runner.prepareStep(next, o.scheduler.timesteps);
    const t1 = performance.now();
    const raw = o.runner.eps(plan.eps.device);
    const eps = cfg ? applyGuidance(raw.subarray(0, images * n), raw.subarray(images * n, 2 * images * n), o.guidance) : raw.slice(0, images * n);
    const noise = o.scheduler.stochastic ? stepNoise(o.seed, images, n, s) : undefined;
    const xt = x;
    x = o.scheduler.step(s, x, eps, noise);
    const t2 = performance.now();
    phases[plan.phase].steps += 1;
    phases[plan.phase].runnerMs += t1 - t0;
    phases[plan.phase].samplerMs += t2 - t1;
    o.onStep?.({
      step: s + 1,
      steps: T,
      phase: plan.phase,
      stepMs: t2 - t0,
      checkpoint: { step: s + 1, latent: x, scheduler: o.scheduler.saveState() },
      predictOriginal: predictor(o.scheduler, s, xt, eps),
    });
  }
  return { latents: x, stepsRun: T - first, totalMs: performance.now() - started, phases };
}

/** x̂0 of step `s`, bound to that step's latent and guided model output (neither is mutated later). */
function predictor(scheduler: Scheduler, s: number, xt: Float32Array, eps: Float32Array): () => Float32Array {
  return () => scheduler.predictOriginal(s, xt, eps);
}
