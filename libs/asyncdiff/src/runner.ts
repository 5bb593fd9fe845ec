import type { ConditioningTensors } from './feed.js';
import type { PlannedStep } from './plan.js';

/** Per-generation constants a runner feeds every component: batch size and conditioning. */
export interface GenerationBatch {
  /** Model batch (2 × images with classifier-free guidance: conditional rows first). */
  readonly batch: number;
  /** Conditioning tensors by graph input name, `batch` rows each (see `guidanceBatch`). */
  readonly conditioning: ConditioningTensors;
  /** Dims of one latent row without the batch axis ([C,H,W] or [C,F,H,W]); may change per generation. */
  readonly sampleDims: readonly number[];
}

/**
 * Lifecycle of a stage as its runner sees it: starting → ready (loaded) → busy (a step in
 * flight) → ready …; draining → stopped on shutdown; crashed when it died unasked. Only
 * ready/busy stages take requests.
 */
export type StageState = 'starting' | 'ready' | 'busy' | 'draining' | 'stopped' | 'crashed';

/** One device's stage, for supervision and dashboards. */
export interface StageStatus {
  readonly device: number;
  /** OS process id (the coordinator's own for in-process runners). */
  readonly pid: number;
  readonly state: StageState;
}

/**
 * Executes planned steps on some set of devices. The same plan drives the in-process runner
 * (tests, CLI) and stage processes over shared memory; the sampler only talks to this.
 *
 * Input rule every runner implements: a boundary input is its producer's most recent completed
 * output — within a `warmup` step that is the same step's output (runs are chained), within a
 * `parallel` step the output of the previous step that ran (all runs start together).
 *
 * The supervision part (`stageStatus`, `checkHealth`, `recover`) lets an engine or a GPU host's
 * supervisor keep any runner healthy without knowing how it runs its stages.
 */
export interface StageRunner {
  /** Devices driven: N for stride 1, N+1 for stride 2. */
  readonly devices: number;
  /** Components the denoiser is cut into. */
  readonly components: number;
  /** Largest model batch (rows) one generation may use, when the runner has a bound (shared memory). */
  readonly maxBatch?: number;
  /** Prepares a generation; previous hidden states are forgotten (the next step must warm up). */
  begin(batch: GenerationBatch): Promise<void>;
  /**
   * Runs one planned step. `latent` is the model-ready input of this step (scaled and batched,
   * float32 whatever the graph's dtype: runners convert); `timestepValues[i]` is the model
   * timestep value of timestep index i. `rowTimesteps`, when given, holds one model timestep
   * value per batch row and replaces the run's `t` for every row: a continuous batch of jobs at
   * different steps (sequential and cfg layouts; a graph with a scalar timestep input accepts it
   * only when every row has the same value).
   */
  runStep(step: PlannedStep, latent: Float32Array, timestepValues: Float64Array, rowTimesteps?: Float64Array): Promise<void>;
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
  /** Device `device`'s latest noise prediction as float32; valid until the next `runStep`. */
  eps(device: number): Float32Array;
  /** Every device's stage as of now. */
  stageStatus(): readonly StageStatus[];
  /**
   * Runs a real inference on every live stage (between generations only); a stage that fails
   * or does not answer within `timeoutMs` is killed. Resolves with the devices found dead.
   */
  checkHealth(timeoutMs: number): Promise<readonly number[]>;
  /**
   * Replaces dead stages (after a StageCrashedError or a failed health check) and forgets all
   * hidden states, so the sampler can resume with a re-warm step. Resolves with the devices
   * replaced (none for runners whose stages cannot die on their own).
   */
  recover(): Promise<readonly number[]>;
  /** Releases sessions, processes and shared memory. Safe to call more than once. */
  close(): Promise<void>;
}
