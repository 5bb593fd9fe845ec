/**
 * Every sampling algorithm a {@link Scheduler} can run: the one list of scheduler names that job
 * specs, model packages and flags validate against (import it, never copy it).
 */
export const SCHEDULER_KINDS = Object.freeze(['ddim', 'ddpm', 'euler', 'euler-ancestral', 'dpmpp-2m', 'pndm'] as const);

/** The sampling algorithms a {@link Scheduler} can run. */
export type SchedulerKind = (typeof SCHEDULER_KINDS)[number];

/**
 * What the denoiser predicts (diffusers' `prediction_type`): the noise ε (`epsilon`), the
 * velocity v = √ᾱ·ε - √(1-ᾱ)·x0 (`v-prediction`, SD 2.x 768) or the clean sample x0 (`sample`).
 */
export type PredictionType = 'epsilon' | 'v-prediction' | 'sample';

/** Every {@link PredictionType}. */
export const PREDICTION_TYPES: readonly PredictionType[] = Object.freeze(['epsilon', 'v-prediction', 'sample']);

/**
 * How sampling timesteps are picked from the training timesteps (diffusers' `timestep_spacing`,
 * Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed"): `leading` =
 * multiples of ⌊trainSteps/steps⌋ plus `stepsOffset`; `trailing` = counted down from the last
 * training timestep; `linspace` = evenly spaced over [0, trainSteps-1].
 */
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/** Every {@link TimestepSpacing}. */
export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = Object.freeze(['leading', 'trailing', 'linspace']);

/**
 * The training noise schedule of a denoiser (model.json `noiseSchedule`, or diffusers'
 * `beta_schedule`): β_t spaced linearly (`linear`) or linearly in √β (`scaled-linear`) from
 * `betaStart` to `betaEnd` over `trainSteps`, or the cosine schedule of Nichol & Dhariwal with β
 * capped at 0.999 (`squaredcos-cap-v2`, which ignores `betaStart` and `betaEnd`).
 */
export interface NoiseScheduleSpec {
  readonly type: 'linear' | 'scaled-linear' | 'squaredcos-cap-v2';
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly trainSteps: number;
}

/**
 * How to sample: algorithm, number of steps and the algorithm's knobs. The knobs after
 * `useClippedModelOutput` are diffusers' scheduler config (`scheduler_config.json`); a package's
 * config becomes these options through `schedulerOptionsFromConfig`. Each knob applies to the
 * kinds whose diffusers class has it; giving it for another kind is an error.
 */
export interface SchedulerOptions {
  /** Sampling algorithm. */
  kind: SchedulerKind;
  /**
   * Number of denoising steps, 1 … trainSteps (diffusers' `num_inference_steps`). The scheduler
   * may run more model evaluations than this: see {@link Scheduler.steps}.
   */
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
  /**
   * What the model predicts. `sample` is not available for pndm and euler-ancestral (diffusers'
   * classes have no such path).
   * @defaultValue 'epsilon'
   */
  prediction?: PredictionType;
  /**
   * How the timesteps are spaced.
   * @defaultValue 'leading' for ddim, ddpm and pndm; 'linspace' for euler, euler-ancestral and dpmpp-2m
   */
  timestepSpacing?: TimestepSpacing;
  /**
   * Integer added to every timestep with `leading` spacing (SD 1.x/2.x/XL use 1); ignored by the
   * other spacings, as in diffusers.
   * @defaultValue 0
   */
  stepsOffset?: number;
  /**
   * ddim and pndm: ᾱ after the last step is 1 (`true`) or ᾱ_0 (`false`, as SD ships).
   * @defaultValue true for ddim, false for pndm (diffusers' defaults)
   */
  setAlphaToOne?: boolean;
  /**
   * ddim and ddpm: the bound of `clipSample`, x0 ∈ [-clipSampleRange, clipSampleRange].
   * @defaultValue 1
   */
  clipSampleRange?: number;
  /**
   * pndm: run PLMS from the first step (`true`, as SD ships: steps+1 model evaluations) or warm up
   * with 3 Runge–Kutta steps of 4 evaluations each (`false`: steps+9 evaluations, steps ≥ 4).
   * @defaultValue false (diffusers' default)
   */
  skipPrkSteps?: boolean;
  /**
   * euler and dpmpp-2m: replace the σ of each step by Karras et al.'s ρ = 7 schedule between the
   * same end points (timesteps are then read back from σ).
   * @defaultValue false
   */
  useKarrasSigmas?: boolean;
  /**
   * euler and dpmpp-2m: σ after the last step, `zero` or the smallest training σ (`sigma-min`).
   * @defaultValue 'zero'
   */
  finalSigmasType?: 'zero' | 'sigma-min';
  /**
   * dpmpp-2m: the second-order update, `midpoint` or `heun`.
   * @defaultValue 'midpoint'
   */
  solverType?: 'midpoint' | 'heun';
  /**
   * dpmpp-2m: first order on the last step when there are fewer than 15 steps (with
   * `finalSigmasType` 'zero' the last step is always first order).
   * @defaultValue true
   */
  lowerOrderFinal?: boolean;
  /**
   * dpmpp-2m: always first order on the last step.
   * @defaultValue false
   */
  eulerAtFinal?: boolean;
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
 * Every option of a scheduler, resolved: {@link ResolvedSchedulerOptions} plus diffusers' config
 * knobs with the kind's defaults filled in (knobs the kind does not take hold a neutral value).
 */
export interface SchedulerSetup extends ResolvedSchedulerOptions {
  readonly prediction: PredictionType;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  readonly setAlphaToOne: boolean;
  readonly clipSampleRange: number;
  readonly skipPrkSteps: boolean;
  readonly useKarrasSigmas: boolean;
  readonly finalSigmasType: 'zero' | 'sigma-min';
  readonly solverType: 'midpoint' | 'heun';
  readonly lowerOrderFinal: boolean;
  readonly eulerAtFinal: boolean;
}

/**
 * What a scheduler remembers between steps, as plain JSON (arrays as number[]), so that a job can
 * stop after any step and resume in another process with `loadState` (bit-identical to a run
 * that never stopped). The shape is the same for every kind, so stores need not know the kind.
 */
export interface SchedulerState {
  readonly version: 1;
  readonly kind: SchedulerKind;
  readonly steps: number;
  /** Index of the next step to run (= steps completed). */
  readonly nextStepIndex: number;
  /**
   * The between-step memory, one or more sample-length arrays concatenated. dpmpp-2m: the x0
   * prediction of step nextStepIndex-1. pndm: the model outputs its multistep formula still needs
   * and, inside a warm-up group, the sample it started from (how many arrays follows from
   * nextStepIndex). Empty for the other kinds.
   */
  readonly previousModelOutput: number[];
}

/**
 * One configured sampling run: maps step indices 0 … steps-1 to model timesteps and turns the
 * model's ε prediction into the next sample. Samples are float32 arrays of any length (one or
 * more samples concatenated, elementwise); arithmetic is float64 rounded once to float32.
 */
export interface Scheduler {
  readonly kind: SchedulerKind;
  /**
   * Number of model evaluations (= step indices = `timesteps.length`). Equal to the requested
   * steps except for pndm: steps+1 with PLMS only (1 for a single step), steps+9 with the PRK
   * warm-up, as diffusers' PNDMScheduler runs. Size sampling loops by this, not by the request.
   */
  readonly steps: number;
  /**
   * Model timestep value fed to the denoiser at each step index, exactly as diffusers computes
   * it: integers for ddim/ddpm/pndm/dpmpp-2m (pndm repeats one), fractional for euler's
   * `linspace` spacing and Karras sigmas (float64; diffusers' float32 value is Math.fround of it).
   * Do not mutate.
   */
  readonly timesteps: Float64Array;
  /** Multiplier for the initial N(0, 1) latent. */
  readonly initNoiseSigma: number;
  /** Whether `step()` needs `noise` (fresh N(0, 1) of the sample's length) at every step. */
  readonly stochastic: boolean;
  /** The denoiser input for `sample` at `stepIndex` (a new array; a copy for DDIM/DDPM/DPM++). */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;
  /**
   * Advances `sample` (the latent at `stepIndex`) given the model's prediction for it (ε, v or
   * x0 as `prediction` says; the parameter keeps its historical name); returns the latent for
   * `stepIndex + 1` (a new array). `noise` is required when `stochastic`.
   */
  step(stepIndex: number, sample: Float32Array, eps: Float32Array, noise?: Float32Array): Float32Array;
  /**
   * The clean sample x̂0 the model predicts at `stepIndex`: `sample` and `output` as `step` takes
   * them (σ-space samples are brought to variance-preserving space first), returned in model
   * value space, unclipped (a new array). Pure: reads no between-step memory and changes none,
   * so previews can call it at any time, e.g. after later steps have run.
   */
  predictOriginal(stepIndex: number, sample: Float32Array, output: Float32Array): Float32Array;
  /** Snapshot of the between-step memory, JSON-serialisable. */
  saveState(): SchedulerState;
  /** Restores a snapshot taken from a scheduler of the same kind and step count. */
  loadState(state: SchedulerState): void;
}
