import { basename } from 'node:path';
import type { OwnDataFile } from './external-data.js';
import type { GraphAnalysis } from './graph-analysis.js';
import type { ModelIdentity } from './model-identity.js';
import { dtypeBytes } from './onnx-types.js';
import type { SplitCosts } from './split-costs.js';
import type { SplitPlan, SplitPlanStage } from './split-plan.js';
import { SPLIT_PLAN_FORMAT, SPLIT_PLAN_VERSION } from './split-plan.js';
import type { ResolvedSplitModelOptions } from './split-options.js';
import type { StageLayout } from './stage-contents.js';
import type { TensorType } from './tensor-types.js';

/** Timings of the stages of one layout. */
export interface StageMeasurements {
  /** Median run time per stage, ms. */
  readonly runMs: readonly number[];
  /** Session creation time per stage (child-process timing only). */
  readonly loadMs: readonly number[] | null;
  /** Peak RSS per stage process (child-process timing only). */
  readonly peakRssBytes: readonly number[] | null;
  /** The full model timed like the stages (in-process timing only). */
  readonly fullModelMs: number | null;
}

/** Everything the plan file records about a finished split. */
export interface PlanFacts {
  readonly o: ResolvedSplitModelOptions;
  readonly analysis: GraphAnalysis;
  readonly identity: ModelIdentity;
  /** Costs (as profiled/given/estimated, not calibrated) and types. */
  readonly costs: SplitCosts;
  readonly stageOf: ReadonlyMap<number, number>;
  readonly layout: StageLayout;
  readonly key: string;
  readonly assignmentHash: string;
  readonly optimalSlowestMs: number | null;
  readonly measured: StageMeasurements | null;
  /** Whether stages were timed each in its own child process. */
  readonly inChildren: boolean;
  /** The stage files as written in the plan directory (`stage-<k>.onnx`). */
  readonly files: readonly OwnDataFile[];
}

/** Assembles `plan.json` from a finished split. */
export function buildPlan(f: PlanFacts): SplitPlan {
  const { o, analysis, layout, measured } = f;
  const { types, nodeCostMs, profile } = f.costs;
  const measuredMs = measured?.runMs ?? null;
  const typeOf = (name: string): TensorType => {
    const t = types.get(name);
    if (t === undefined) throw new Error(`no type for ${name} (bug: the stage writer checks this first)`);
    return t;
  };
  const holders = new Map<string, number>();
  for (const s of layout.stages) for (const name of s.initializers) holders.set(name, (holders.get(name) ?? 0) + 1);
  const bytesOf = (names: readonly string[]): number => sum(names.map((n) => analysis.initializers.get(n)?.bytes ?? 0));
  const stages: SplitPlanStage[] = layout.stages.map((s) => ({
    index: s.index,
    file: `stage-${s.index}.onnx`,
    dataFile: f.files[s.index]?.dataFile ?? null,
    dataBytes: f.files[s.index]?.dataBytes ?? 0,
    inputs: s.inputs.map((i) => ({ name: i.name, dtype: typeOf(i.name).dtype, kind: i.kind, ...(i.producer !== undefined ? { producer: i.producer } : {}) })),
    outputs: s.outputs.map((out) => ({ name: out.name, dtype: typeOf(out.name).dtype, consumers: [...out.consumers], graphOutput: out.graphOutput })),
    consumesLatent: s.inputs.some((i) => i.kind === 'latent'),
    latentNodeCount: s.latentNodes.length,
    conditioningNodeCount: s.conditioningNodes.length,
    costMs: round(sum(s.nodes.map((i) => nodeCostMs[i] as number))),
    conditioningCostMs: round(sum(s.conditioningNodes.map((i) => nodeCostMs[i] as number))),
    measuredRunMs: measuredMs ? round(measuredMs[s.index] as number) : null,
    measuredLoadMs: measured?.loadMs ? round(measured.loadMs[s.index] as number) : null,
    measuredPeakRssBytes: measured?.peakRssBytes ? (measured.peakRssBytes[s.index] as number) : null,
    parameterBytes: bytesOf(s.initializers),
    replicatedParameterBytes: bytesOf(s.initializers.filter((n) => (holders.get(n) ?? 0) > 1)),
  }));
  const costs = stages.map((s) => s.costMs);
  const mean = sum(costs) / costs.length;
  const slowest = Math.max(...costs);
  const nodes: Record<string, number> = {};
  for (const i of analysis.latentNodes) nodes[analysis.nodes[i]?.name ?? ''] = f.stageOf.get(i) as number;
  return {
    format: SPLIT_PLAN_FORMAT,
    formatVersion: SPLIT_PLAN_VERSION,
    key: f.key,
    createdAt: new Date().toISOString(),
    source: {
      modelFile: basename(o.modelPath),
      modelSha256: f.identity.sha256,
      hashScheme: f.identity.scheme,
      externalData: f.identity.externalData,
      externalDataBytes: f.identity.externalDataBytes,
    },
    stageCount: o.stages,
    latentInputs: analysis.latentInputs,
    conditioningInputs: analysis.conditioningInputs,
    assignment: {
      method: o.assignment ? 'explicit' : 'balanced-contiguous',
      costSource: f.costs.costSource,
      hash: f.assignmentHash,
      tolerance: o.balanceTolerance,
      maxStageWeightShare: o.assignment ? null : o.maxStageWeightShare,
      nodes,
    },
    profile:
      o.profile && o.inputs && profile
        ? {
            inputs: o.inputs,
            runs: o.profile.runs,
            warmupRuns: o.profile.warmupRuns,
            intraOpNumThreads: o.profile.intraOpNumThreads,
            graphOptimizationLevel: o.profile.graphOptimizationLevel,
            profiledRunMs: round(profile.runMs),
          }
        : null,
    analytic: f.costs.analytic,
    measurement:
      measured && o.profile
        ? {
            method: f.inChildren ? 'child-process' : 'in-process',
            inputs: o.inputs ?? {},
            runs: o.profile.runs,
            warmupRuns: o.profile.warmupRuns,
            intraOpNumThreads: o.profile.intraOpNumThreads,
          }
        : null,
    stages,
    boundaries: layout.boundaries.map((b) => {
      const t = typeOf(b.name);
      return {
        name: b.name,
        dtype: t.dtype,
        dims: t.dims ? [...t.dims] : null,
        bytes: t.dims ? Math.ceil(t.dims.reduce((p, d) => p * d, 1) * dtypeBytes(t.dtype)) : null,
        producer: b.producer,
        consumers: [...b.consumers],
      };
    }),
    graphOutputs: [...layout.graphOutputStage].map(([name, stage]) => ({ name, dtype: typeOf(name).dtype, stage })),
    balance: {
      slowestCostMs: round(slowest),
      meanCostMs: round(mean),
      slowestOverMean: round(mean > 0 ? slowest / mean : 1),
      optimalSlowestCostMs: f.optimalSlowestMs === null ? null : round(f.optimalSlowestMs),
      measuredSlowestOverMean: measuredMs ? round(Math.max(...measuredMs) / (sum(measuredMs) / measuredMs.length)) : null,
      fullModelMeasuredMs: measured?.fullModelMs == null ? null : round(measured.fullModelMs),
    },
  };
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
