import type { TensorDtype } from './onnx-types.js';
import type { GraphOptimizationLevel } from './profile.js';
import type { InputSpecs } from './random-feeds.js';

/** Value of {@link SplitPlan.format}. */
export const SPLIT_PLAN_FORMAT = 'asyncdiff.onnx-split.plan';
/** Current {@link SplitPlan.formatVersion}; loaders reject other versions. */
export const SPLIT_PLAN_VERSION = 2;

/** Where a stage input comes from: the fresh latent, a non-latent graph input, or another stage. */
export type StageInputKind = 'latent' | 'conditioning' | 'boundary';

/** How the latent-dependent nodes were assigned to stages. */
export type AssignmentMethod = 'balanced-contiguous' | 'explicit';

/** What the per-node costs are: ORT profile medians (ms), caller-given ms, the analytic model's estimate (ms), or 1 per node. */
export type CostSource = 'profile' | 'given' | 'flops' | 'uniform';

/** One input of a stage graph. */
export interface SplitPlanStageInput {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly kind: StageInputKind;
  /** The stage that makes it (kind `boundary` only). */
  readonly producer?: number;
}

/** One output of a stage graph. */
export interface SplitPlanStageOutput {
  readonly name: string;
  readonly dtype: TensorDtype;
  /** Stages that read it (empty for a graph output nobody else reads). */
  readonly consumers: readonly number[];
  /** True for a graph output (e.g. `eps`). */
  readonly graphOutput: boolean;
}

/** One stage (component C_k). */
export interface SplitPlanStage {
  readonly index: number;
  /** Stage ONNX file, relative to the plan's directory (POSIX separators): `stage-<k>.onnx`. */
  readonly file: string;
  /**
   * The stage's own external data file beside `file` (`stage-<k>.onnx_data`), holding exactly the
   * initializers this stage reads; null when the source model had no external data (then weights
   * are inline in `file`).
   */
  readonly dataFile: string | null;
  /** Size of `dataFile`, bytes (0 without one). */
  readonly dataBytes: number;
  readonly inputs: readonly SplitPlanStageInput[];
  readonly outputs: readonly SplitPlanStageOutput[];
  /** True when the stage reads the latent input itself (C_0 always; others only if the graph says so). */
  readonly consumesLatent: boolean;
  readonly latentNodeCount: number;
  /** Conditioning nodes replicated into this stage. */
  readonly conditioningNodeCount: number;
  /** Cost of the stage's nodes, replicated conditioning included (unit per `assignment.costSource`). */
  readonly costMs: number;
  /** Part of `costMs` spent on replicated conditioning nodes. */
  readonly conditioningCostMs: number;
  /** Median wall time of the stage run alone in ORT (full optimisation), or null when not measured. */
  readonly measuredRunMs: number | null;
  /** Session creation time of the stage alone in a fresh process, or null when not measured there. */
  readonly measuredLoadMs: number | null;
  /** Peak RSS of a fresh process that loaded and ran only this stage, or null when not measured there. */
  readonly measuredPeakRssBytes: number | null;
  /** Bytes of the initializers this stage holds. */
  readonly parameterBytes: number;
  /** Part of `parameterBytes` also held by another stage (replicated conditioning weights). */
  readonly replicatedParameterBytes: number;
}

/** A tensor handed from one stage to others. */
export interface SplitPlanBoundary {
  readonly name: string;
  readonly dtype: TensorDtype;
  /** Dims at the profile shapes, or null when unknown. */
  readonly dims: readonly number[] | null;
  /** Size at the profile shapes, or null when unknown. */
  readonly bytes: number | null;
  readonly producer: number;
  readonly consumers: readonly number[];
}

/** The plan file (`plan.json`) describing a split: what each stage file takes, makes and costs. */
export interface SplitPlan {
  readonly format: typeof SPLIT_PLAN_FORMAT;
  readonly formatVersion: typeof SPLIT_PLAN_VERSION;
  /** Cache key of this split (also the plan directory's name). */
  readonly key: string;
  readonly createdAt: string;
  readonly source: {
    /** File name of the full model the split was made from (informational: a plan directory is self-contained). */
    readonly modelFile: string;
    readonly modelSha256: string;
    /** `file-sha256`: hash of the file. `graph-sha256+data-sha256`: hash of the graph file plus each external data file's location, size and content hash (host-independent). */
    readonly hashScheme: 'file-sha256' | 'graph-sha256+data-sha256';
    /** External data files (locations as in the model), empty for self-contained models. */
    readonly externalData: readonly string[];
    /** Total bytes of those files. */
    readonly externalDataBytes: number;
  };
  readonly stageCount: number;
  readonly latentInputs: readonly string[];
  readonly conditioningInputs: readonly string[];
  readonly assignment: {
    readonly method: AssignmentMethod;
    readonly costSource: CostSource;
    /** sha256 of the explicit assignment, or of `"auto"`. */
    readonly hash: string;
    /** Relative slack over the best slowest stage accepted for fewer transfers (balanced cut). */
    readonly tolerance: number;
    /** The weight cap the balanced cut respected (share of the model's weight bytes per stage), or null. */
    readonly maxStageWeightShare: number | null;
    /** Latent-dependent node name → stage. Feeding this back as `assignment` reproduces the split. */
    readonly nodes: Readonly<Record<string, number>>;
  };
  /** How the costs were measured, or null without profiling. */
  readonly profile: {
    readonly inputs: InputSpecs;
    readonly runs: number;
    readonly warmupRuns: number;
    readonly intraOpNumThreads: number;
    readonly graphOptimizationLevel: GraphOptimizationLevel;
    /** Median wall time of a full-model run while profiling (at the profiling optimisation level, profiler on). */
    readonly profiledRunMs: number;
  } | null;
  /** The analytic cost model's totals (cost source `flops`), or null. */
  readonly analytic: {
    readonly gflopsPerSecond: number;
    readonly memoryGBPerSecond: number;
    readonly kernelOverheadUs: number;
    /** GFLOPs of one run at `inputs`. */
    readonly totalGflop: number;
    /** GB read and written by one run's kernels (a roofline's memory term). */
    readonly totalMovedGB: number;
    /** Nodes whose cost stayed unknown (costed 0): an op without a shape rule, or downstream of one. */
    readonly unknownCostNodes: number;
    /** Op types without a shape rule, with node counts. */
    readonly unsupportedOps: Readonly<Record<string, number>>;
  } | null;
  /** How the stages were timed (`measuredRunMs`), or null when they were not. */
  readonly measurement: {
    /** `in-process`: all stages (and the full model) in the splitter; `child-process`: each stage alone in a fresh process. */
    readonly method: 'in-process' | 'child-process';
    readonly inputs: InputSpecs;
    readonly runs: number;
    readonly warmupRuns: number;
    readonly intraOpNumThreads: number;
  } | null;
  readonly stages: readonly SplitPlanStage[];
  readonly boundaries: readonly SplitPlanBoundary[];
  /** Graph outputs and the stage that makes each (the last stage for a single-output denoiser). */
  readonly graphOutputs: readonly { readonly name: string; readonly dtype: TensorDtype; readonly stage: number }[];
  readonly balance: {
    readonly slowestCostMs: number;
    readonly meanCostMs: number;
    readonly slowestOverMean: number;
    /** Best achievable slowest cost for a contiguous cut (balanced method), else null. */
    readonly optimalSlowestCostMs: number | null;
    /** slowest/mean of `measuredRunMs`, or null when stages were not timed. */
    readonly measuredSlowestOverMean: number | null;
    /** The full model timed alone like the stages (median ms), or null when stages were not timed. */
    readonly fullModelMeasuredMs: number | null;
  };
}
