import { relative, sep } from 'node:path';
import type { GraphAnalysis } from './graph-analysis.js';
import type { ModelIdentity } from './model-identity.js';
import { dtypeBytes } from './onnx-types.js';
import type { NodeProfile } from './profile.js';
import type { CostSource, SplitPlan, SplitPlanStage } from './split-plan.js';
import { SPLIT_PLAN_FORMAT, SPLIT_PLAN_VERSION } from './split-plan.js';
import type { ResolvedSplitModelOptions } from './split-options.js';
import type { StageLayout } from './stage-contents.js';
import type { TensorType } from './tensor-types.js';

/** Everything the plan file records about a finished split. */
export interface PlanFacts {
  readonly o: ResolvedSplitModelOptions;
  readonly analysis: GraphAnalysis;
  readonly identity: ModelIdentity;
  readonly types: ReadonlyMap<string, TensorType>;
  /** Cost per node as profiled/given (not calibrated). */
  readonly nodeCostMs: readonly number[];
  readonly stageOf: ReadonlyMap<number, number>;
  readonly layout: StageLayout;
  readonly key: string;
  readonly costSource: CostSource;
  readonly assignmentHash: string;
  readonly optimalSlowestMs: number | null;
  readonly profile: NodeProfile | null;
  readonly measuredMs: readonly number[] | null;
  readonly fullModelMeasuredMs: number | null;
  readonly planDir: string;
  /** Final absolute path of each stage file. */
  readonly stagePath: (stage: number) => string;
}

/** Assembles `plan.json` from a finished split. */
export function buildPlan(f: PlanFacts): SplitPlan {
  const { o, analysis, layout, types, nodeCostMs, measuredMs } = f;
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
    file: posixRelative(f.planDir, f.stagePath(s.index)),
    inputs: s.inputs.map((i) => ({ name: i.name, dtype: typeOf(i.name).dtype, kind: i.kind, ...(i.producer !== undefined ? { producer: i.producer } : {}) })),
    outputs: s.outputs.map((out) => ({ name: out.name, dtype: typeOf(out.name).dtype, consumers: [...out.consumers], graphOutput: out.graphOutput })),
    consumesLatent: s.inputs.some((i) => i.kind === 'latent'),
    latentNodeCount: s.latentNodes.length,
    conditioningNodeCount: s.conditioningNodes.length,
    costMs: round(sum(s.nodes.map((i) => nodeCostMs[i] as number))),
    conditioningCostMs: round(sum(s.conditioningNodes.map((i) => nodeCostMs[i] as number))),
    measuredRunMs: measuredMs ? round(measuredMs[s.index] as number) : null,
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
      modelFile: posixRelative(f.planDir, o.modelPath),
      modelSha256: f.identity.sha256,
      hashScheme: f.identity.scheme,
      externalData: f.identity.externalData,
    },
    stageCount: o.stages,
    latentInputs: analysis.latentInputs,
    conditioningInputs: analysis.conditioningInputs,
    assignment: {
      method: o.assignment ? 'explicit' : 'balanced-contiguous',
      costSource: f.costSource,
      hash: f.assignmentHash,
      tolerance: o.balanceTolerance,
      nodes,
    },
    profile:
      o.profile && o.inputs && f.profile
        ? {
            inputs: o.inputs,
            runs: o.profile.runs,
            warmupRuns: o.profile.warmupRuns,
            intraOpNumThreads: o.profile.intraOpNumThreads,
            graphOptimizationLevel: o.profile.graphOptimizationLevel,
            profiledRunMs: round(f.profile.runMs),
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
      fullModelMeasuredMs: f.fullModelMeasuredMs === null ? null : round(f.fullModelMeasuredMs),
    },
  };
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function posixRelative(from: string, to: string): string {
  return relative(from, to).split(sep).join('/');
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
