import { dirname, join, resolve } from 'node:path';
import { SplitOptionsError } from './errors.js';
import type { GraphOptimizationLevel } from './profile.js';
import type { InputSpecs } from './random-feeds.js';
import { validateInputSpecs } from './random-feeds.js';

/** Smallest stage count the partitioner accepts. */
export const MIN_STAGES = 2;
/** Largest stage count the partitioner accepts. */
export const MAX_STAGES = 8;

/**
 * Where per-node costs come from. `profile`: the whole model runs in ORT with profiling on (exact
 * for small models; loads every weight into the splitting process). `flops`: the analytic model
 * (inferred shapes → FLOPs and bytes, a roofline), which reads no weights and runs nothing.
 * `auto`: `flops` when the model's external data reaches {@link AUTO_FLOPS_MIN_WEIGHT_BYTES} and
 * `inputs` are given, else `profile` (or 1 per node with `profile: false`, as before).
 */
export type CostModel = 'auto' | 'profile' | 'flops';

/** With `costModel: 'auto'`, models with at least this many bytes of external data are costed analytically. */
export const AUTO_FLOPS_MIN_WEIGHT_BYTES = 256 * 1024 * 1024;

/** Machine rates of the analytic cost model (only their ratios change a cut). */
export interface AnalyticRatesOptions {
  /**
   * Sustained compute rate, GFLOP/s.
   * @defaultValue 40 (one core of the reference VM, measured: see README)
   */
  gflopsPerSecond?: number;
  /**
   * Sustained memory bandwidth, GB/s.
   * @defaultValue 8
   */
  memoryGBPerSecond?: number;
  /**
   * Fixed cost per kernel, µs.
   * @defaultValue 4
   */
  kernelOverheadUs?: number;
}

/** How the full model is profiled for per-node costs. */
export interface SplitProfileOptions {
  /**
   * Profiled runs (median per node).
   * @defaultValue 10
   */
  runs?: number;
  /**
   * Unprofiled warm-up runs.
   * @defaultValue 2
   */
  warmupRuns?: number;
  /**
   * ORT intra-op threads while profiling and timing stages.
   * @defaultValue 1
   */
  intraOpNumThreads?: number;
  /**
   * ORT optimisation level while profiling (see `ProfileNodesOptions.graphOptimizationLevel`).
   * @defaultValue 'disabled'
   */
  graphOptimizationLevel?: GraphOptimizationLevel;
}

/** Options of `splitModel`. */
export interface SplitModelOptions {
  /** The full denoiser ONNX file. */
  modelPath: string;
  /** Number of stages N, 2…8. */
  stages: number;
  /**
   * Graph inputs carrying the latent; everything not depending on them is conditioning.
   * @defaultValue `['sample']`
   */
  latentInputs?: readonly string[];
  /**
   * The model's real input shapes and dtypes, e.g. `{ sample: { dtype: 'float32', dims: [2, 1, 16, 16] }, … }`.
   * Required when profiling (the default); every graph input must be listed.
   */
  inputs?: InputSpecs;
  /**
   * Explicit latent-dependent node name → stage map (need not be contiguous). Overrides the balanced
   * cut; every latent-dependent node must be listed and data must flow to higher stages only.
   */
  assignment?: Readonly<Record<string, number>>;
  /** Caller-measured per-node costs in ms (node name → ms); used instead of profiled costs. */
  nodeCostsMs?: Readonly<Record<string, number>>;
  /**
   * Where per-node costs come from (see {@link CostModel}); `nodeCostsMs` overrides it.
   * @defaultValue 'auto'
   */
  costModel?: CostModel;
  /** Rates of the analytic (`flops`) cost model. */
  analyticRates?: AnalyticRatesOptions;
  /**
   * Profiling settings, or `false` to never run ORT (costs then come from `nodeCostsMs`, else 1 per
   * node, and boundary dtypes from the graph's declarations and per-operator rules).
   * @defaultValue `{}` (profile with the defaults)
   */
  profile?: SplitProfileOptions | false;
  /**
   * Relative slack over the best achievable slowest stage that the balanced cut may spend to send
   * fewer non-float tensors and fewer bytes across cuts.
   * @defaultValue 0.03
   */
  balanceTolerance?: number;
  /**
   * Largest share of the model's weight bytes one stage may hold (its replicated conditioning
   * weights included), e.g. 0.6 with N = 2. A UNet keeps most weights in its low-resolution blocks
   * and spends most time in its high-resolution ones, so a purely time-balanced cut can leave one
   * stage with most of the weights; with a cap the balanced cut minimises the slowest stage among
   * the cuts that respect it (slower steps, less memory per device). Ignored with `assignment`.
   * @defaultValue no cap (balance time only)
   */
  maxStageWeightShare?: number;
  /**
   * In a parallel AsyncDiff step stage 0 waits for the sampler's new latent while the others can
   * start on the previous step's boundary tensors; it starts this much later, so the balanced cut
   * gives it this much less work (ms, in the units of the node costs).
   * @defaultValue 0
   */
  firstStageDelayMs?: number;
  /**
   * Time each stage on its own in ORT after the split (fills `measuredRunMs`). Needs `profile` not
   * false. With profiled costs the stages (and the full model) are timed together in this process;
   * with analytic costs each stage is loaded and timed alone in a child process, one after another
   * (also filling `measuredPeakRssBytes`), so no process holds more than one stage's weights.
   * @defaultValue true with profiled costs, false with analytic costs (a multi-GB stage takes a while to load and run)
   */
  measureStages?: boolean;
  /**
   * Balanced cut only, with `measureStages`: rounds that time the stages of the current cut alone,
   * rescale node costs by each stage's measured/predicted ratio and cut again (the cut with the
   * lowest measured slowest stage wins). Corrects what a full-model profile misjudges about a stage
   * running alone (its own caches, per-run overhead); worth it on a quiet machine, noise on a busy
   * one. 0 balances on the full-model profile alone.
   * @defaultValue 0
   */
  calibrationRounds?: number;
  /**
   * Directory for cached splits and profiles: `<cacheDir>/<key>/plan.json`, `stage-<k>.onnx` and,
   * for models with external data, each stage's own `stage-<k>.onnx_data`. A split directory is
   * self-contained (nothing in it points at the source model), so it can be shipped to or shared
   * with other hosts; the key is content-based, so every host finds the same split.
   * @defaultValue `<model dir>/splits` (pass another directory when the model folder is read-only)
   */
  cacheDir?: string;
  /**
   * Recompute even if a cached split exists.
   * @defaultValue false
   */
  force?: boolean;
}

/** {@link SplitModelOptions} with defaults applied and paths absolute. */
export interface ResolvedSplitModelOptions {
  readonly modelPath: string;
  readonly stages: number;
  readonly latentInputs: readonly string[];
  readonly inputs: InputSpecs | null;
  readonly assignment: Readonly<Record<string, number>> | null;
  readonly nodeCostsMs: Readonly<Record<string, number>> | null;
  readonly costModel: CostModel;
  readonly analyticRates: Required<AnalyticRatesOptions>;
  readonly profile: Required<SplitProfileOptions> | null;
  readonly balanceTolerance: number;
  readonly maxStageWeightShare: number | null;
  readonly firstStageDelayMs: number;
  /** As given; null means the cost model's default (see {@link SplitModelOptions.measureStages}). */
  readonly measureStages: boolean | null;
  readonly calibrationRounds: number;
  readonly cacheDir: string;
  readonly force: boolean;
}

/** Validates options and applies defaults; errors are {@link SplitOptionsError}s naming the field. */
export function resolveSplitModelOptions(options: SplitModelOptions): ResolvedSplitModelOptions {
  const fail = (code: 'SPLIT_INVALID_STAGES' | 'SPLIT_INVALID_OPTION' | 'SPLIT_UNKNOWN_LATENT_INPUT', field: string, message: string): never => {
    throw new SplitOptionsError(code, message, { field });
  };
  if (typeof options !== 'object' || options === null) fail('SPLIT_INVALID_OPTION', 'options', 'options must be an object');
  if (typeof options.modelPath !== 'string' || options.modelPath === '') fail('SPLIT_INVALID_OPTION', 'modelPath', 'modelPath must be a non-empty path');
  const { stages } = options;
  if (!Number.isInteger(stages) || stages < MIN_STAGES || stages > MAX_STAGES) {
    fail('SPLIT_INVALID_STAGES', 'stages', `stages must be an integer from ${MIN_STAGES} to ${MAX_STAGES} (got ${String(stages)})`);
  }
  const latentInputs = options.latentInputs ?? ['sample'];
  if (!Array.isArray(latentInputs) || latentInputs.length === 0 || !latentInputs.every((n) => typeof n === 'string' && n !== '')) {
    fail('SPLIT_UNKNOWN_LATENT_INPUT', 'latentInputs', 'latentInputs must be a non-empty array of graph input names');
  }
  const profileOption = options.profile ?? {};
  let profile: Required<SplitProfileOptions> | null = null;
  if (profileOption !== false) {
    profile = {
      runs: profileOption.runs ?? 10,
      warmupRuns: profileOption.warmupRuns ?? 2,
      intraOpNumThreads: profileOption.intraOpNumThreads ?? 1,
      graphOptimizationLevel: profileOption.graphOptimizationLevel ?? 'disabled',
    };
    for (const key of ['runs', 'intraOpNumThreads'] as const) {
      if (!Number.isInteger(profile[key]) || profile[key] < 1) fail('SPLIT_INVALID_OPTION', `profile.${key}`, `profile.${key} must be a positive integer`);
    }
    if (!Number.isInteger(profile.warmupRuns) || profile.warmupRuns < 0) fail('SPLIT_INVALID_OPTION', 'profile.warmupRuns', 'profile.warmupRuns must be a non-negative integer');
    if (!['disabled', 'basic', 'extended', 'all'].includes(profile.graphOptimizationLevel)) {
      fail('SPLIT_INVALID_OPTION', 'profile.graphOptimizationLevel', 'profile.graphOptimizationLevel must be disabled, basic, extended or all');
    }
    if (options.inputs === undefined) fail('SPLIT_INVALID_OPTION', 'inputs', 'inputs (input shapes and dtypes) are required for profiling; pass profile: false to split without ORT');
  }
  if (options.costModel === 'flops' && options.inputs === undefined) fail('SPLIT_INVALID_OPTION', 'inputs', 'inputs (input shapes and dtypes) are required by the analytic cost model');
  if (options.inputs !== undefined) validateInputSpecs(options.inputs, 'inputs');
  if (options.assignment !== undefined && (typeof options.assignment !== 'object' || options.assignment === null)) {
    fail('SPLIT_INVALID_OPTION', 'assignment', 'assignment must be an object of node name → stage');
  }
  if (options.nodeCostsMs !== undefined) {
    for (const [name, ms] of Object.entries(options.nodeCostsMs)) {
      if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) fail('SPLIT_INVALID_OPTION', `nodeCostsMs.${name}`, `nodeCostsMs.${name} must be a finite number ≥ 0`);
    }
  }
  const firstStageDelayMs = options.firstStageDelayMs ?? 0;
  if (typeof firstStageDelayMs !== 'number' || !(firstStageDelayMs >= 0) || firstStageDelayMs > 1000) {
    fail('SPLIT_INVALID_OPTION', 'firstStageDelayMs', 'firstStageDelayMs must be a number of ms from 0 to 1000');
  }
  const balanceTolerance = options.balanceTolerance ?? 0.03;
  if (typeof balanceTolerance !== 'number' || !(balanceTolerance >= 0) || balanceTolerance > 1) {
    fail('SPLIT_INVALID_OPTION', 'balanceTolerance', 'balanceTolerance must be a number from 0 to 1');
  }
  const maxStageWeightShare = options.maxStageWeightShare ?? null;
  if (maxStageWeightShare !== null && (typeof maxStageWeightShare !== 'number' || !(maxStageWeightShare > 0) || maxStageWeightShare > 1)) {
    fail('SPLIT_INVALID_OPTION', 'maxStageWeightShare', 'maxStageWeightShare must be a number in (0, 1]');
  }
  const calibrationRounds = options.calibrationRounds ?? 0;
  if (!Number.isInteger(calibrationRounds) || calibrationRounds < 0 || calibrationRounds > 10) {
    fail('SPLIT_INVALID_OPTION', 'calibrationRounds', 'calibrationRounds must be an integer from 0 to 10');
  }
  const costModel = options.costModel ?? 'auto';
  if (!['auto', 'profile', 'flops'].includes(costModel)) fail('SPLIT_INVALID_OPTION', 'costModel', 'costModel must be auto, profile or flops');
  const rates = options.analyticRates ?? {};
  if (typeof rates !== 'object' || rates === null) fail('SPLIT_INVALID_OPTION', 'analyticRates', 'analyticRates must be an object');
  const analyticRates = {
    gflopsPerSecond: rates.gflopsPerSecond ?? 40,
    memoryGBPerSecond: rates.memoryGBPerSecond ?? 8,
    kernelOverheadUs: rates.kernelOverheadUs ?? 4,
  };
  for (const [key, value] of Object.entries(analyticRates)) {
    const positive = key !== 'kernelOverheadUs';
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0)) {
      fail('SPLIT_INVALID_OPTION', `analyticRates.${key}`, `analyticRates.${key} must be a finite number ${positive ? '> 0' : '≥ 0'}`);
    }
  }
  if (options.measureStages !== undefined && typeof options.measureStages !== 'boolean') fail('SPLIT_INVALID_OPTION', 'measureStages', 'measureStages must be a boolean');
  const modelPath = resolve(options.modelPath);
  return {
    modelPath,
    stages,
    latentInputs: [...latentInputs],
    inputs: options.inputs ?? null,
    assignment: options.assignment ?? null,
    nodeCostsMs: options.nodeCostsMs ?? null,
    costModel,
    analyticRates,
    profile,
    balanceTolerance,
    maxStageWeightShare,
    firstStageDelayMs,
    measureStages: profile === null ? false : (options.measureStages ?? null),
    calibrationRounds,
    cacheDir: resolve(options.cacheDir ?? join(dirname(modelPath), 'splits')),
    force: options.force ?? false,
  };
}
