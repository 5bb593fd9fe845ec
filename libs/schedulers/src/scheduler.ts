/** The sampling algorithms a {@link Scheduler} can run. */
export type SchedulerKind = 'ddim' | 'ddpm' | 'euler' | 'euler-ancestral' | 'dpmpp-2m';

/** Every scheduler kind, for validating untrusted input. */
export const SCHEDULER_KINDS: readonly SchedulerKind[] = Object.freeze(['ddim', 'ddpm', 'euler', 'euler-ancestral', 'dpmpp-2m']);

/**
 * The training noise schedule of a denoiser (model.json `noiseSchedule`): β_t spaced linearly
 * (`linear`) or linearly in √β (`scaled-linear`) from `betaStart` to `betaEnd` over `trainSteps`.
 */
export interface NoiseScheduleSpec {
  readonly type: 'linear' | 'scaled-linear';
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly trainSteps: number;
}

/** How to sample: algorithm, number of steps and the algorithm's knobs. */
export interface SchedulerOptions {
  /** Sampling algorithm. */
  kind: SchedulerKind;
  /** Number of denoising steps, 1 … trainSteps. */
  steps: number;
  /**
   * DDIM only: weight of the fresh noise, 0 (deterministic DDIM) … 1 (DDPM-like variance).
   * @defaultValue 0
   */
  eta?: number;
  /**
   * DDIM and DDPM only: clamp the predicted clean sample x0 to [-1, 1] at every step.
   * @defaultValue true for ddim and ddpm (diffusers' default), false otherwise (not applicable)
   */
  clipSample?: boolean;
  /**
   * DDIM only: after clipping x0, recompute ε from it (diffusers' `use_clipped_model_output`).
   * The reference sampler of tools/train/schedule.py does this.
   * @defaultValue false (diffusers' DDIMPipeline default)
   */
  useClippedModelOutput?: boolean;
}

/** {@link SchedulerOptions} with every default filled in. */
export interface ResolvedSchedulerOptions {
  readonly kind: SchedulerKind;
  readonly steps: number;
  readonly eta: number;
  readonly clipSample: boolean;
  readonly useClippedModelOutput: boolean;
}

/**
 * What a scheduler remembers between steps, as plain JSON (arrays as number[]), so that a job can
 * stop after any step and resume in another process with `loadState`.
 */
export interface SchedulerState {
  readonly version: 1;
  readonly kind: SchedulerKind;
  readonly steps: number;
  /** Index of the next step to run (= steps completed). */
  readonly nextStepIndex: number;
  /** DPM-Solver++(2M): the x0 prediction of step nextStepIndex-1; empty for the other kinds. */
  readonly previousModelOutput: number[];
}

/**
 * One configured sampling run: maps step indices 0 … steps-1 to model timesteps and turns the
 * model's ε prediction into the next sample. Samples are float32 arrays of any length (one or
 * more samples concatenated, elementwise); arithmetic is float64 rounded once to float32.
 */
export interface Scheduler {
  readonly kind: SchedulerKind;
  readonly steps: number;
  /** Model timestep value fed to the denoiser at each step index (descending). Do not mutate. */
  readonly timesteps: Float64Array;
  /** Multiplier for the initial N(0, 1) latent. */
  readonly initNoiseSigma: number;
  /** Whether `step()` needs `noise` (fresh N(0, 1) of the sample's length) at every step. */
  readonly stochastic: boolean;
  /** The denoiser input for `sample` at `stepIndex` (a new array; a copy for DDIM/DDPM/DPM++). */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /**
   * Advances `sample` (the latent at `stepIndex`) given the model's ε prediction for it;
   * returns the latent for `stepIndex + 1` (a new array). `noise` is required when `stochastic`.
   */
  step(stepIndex: number, sample: Float32Array, eps: Float32Array, noise?: Float32Array): Float32Array;
  /** Snapshot of the between-step memory, JSON-serialisable. */
  saveState(): SchedulerState;
  /** Restores a snapshot taken from a scheduler of the same kind and step count. */
  loadState(state: SchedulerState): void;
}
