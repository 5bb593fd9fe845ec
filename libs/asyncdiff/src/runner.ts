import type { PlannedStep } from './plan.js';

/** Per-generation constants a runner feeds every component: batch size and class labels. */
export interface GenerationBatch {
  /** Model batch (2 × images with classifier-free guidance: conditional rows first). */
  readonly batch: number;
  /** One class id per batch row (the null class on the unconditional rows). */
  readonly classLabels: BigInt64Array;
  /** Dims of one latent row without the batch axis ([C,H,W] or [C,F,H,W]). */
  readonly sampleDims: readonly number[];
}

/**
 * Executes planned steps on some set of devices. The same plan drives the in-process runner
 * (tests, CLI) and stage processes over shared memory; the sampler only talks to this.
 *
 * Input rule every runner implements: a boundary input is its producer's most recent completed
 * output — within a `warmup` step that is the same step's output (runs are chained), within a
 * `parallel` step the output of the previous step that ran (all runs start together).
 */
export interface StageRunner {
  /** Devices driven: N for stride 1, N+1 for stride 2. */
  readonly devices: number;
  /** Components the denoiser is cut into. */
  readonly components: number;
  /** Prepares a generation; previous hidden states are forgotten (the next step must warm up). */
  begin(batch: GenerationBatch): Promise<void>;
  /**
   * Runs one planned step. `latent` is the model-ready input of this step (scaled and batched);
   * `timestepValues[i]` is the model timestep value of timestep index i.
   */
  runStep(step: PlannedStep, latent: Float32Array, timestepValues: Float64Array): Promise<void>;
  /**
   * Optional head start: called as soon as the previous step's runs finished, before the sampler
   * computes this step's latent. A runner may start the runs that do not read the latent (in a
   * parallel step every component but C_0 only needs the previous step's boundary tensors), so the
   * sampler's own math overlaps with them. `runStep` for the same step then starts the rest and
   * waits for all. Outputs of the previous step stay readable (double buffering).
   */
  prepareStep?(step: PlannedStep, timestepValues: Float64Array): void;
  /** Optional: the generation that `begin` started is over (the sampler calls it when it stops). */
  end?(): void;
  /** Device `device`'s latest noise prediction; valid until the next `runStep`. */
  eps(device: number): Float32Array;
  /** Releases sessions, processes and shared memory. Safe to call more than once. */
  close(): Promise<void>;
}
