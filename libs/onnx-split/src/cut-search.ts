import type { BalancedCut, BalancedCutProblem, CutPenalty } from './balanced-cut.js';
import { solveBalancedCut, WeightCapInfeasible } from './balanced-cut.js';
import { SplitOptionsError } from './errors.js';
import type { GraphAnalysis } from './graph-analysis.js';
import { dtypeBytes, isFloatDtype } from './onnx-types.js';
import type { StageLayout } from './stage-contents.js';
import { layoutStages } from './stage-contents.js';
import type { TensorType } from './tensor-types.js';

/** A contiguous cut, its layout, and (when timed) each stage's measured run time. */
export interface CutCandidate {
  readonly stageOf: ReadonlyMap<number, number>;
  readonly layout: StageLayout;
  /** Best achievable slowest stage under the costs this cut was solved with. */
  readonly optimalSlowestMs: number;
  readonly measuredMs: readonly number[] | null;
}

/** Inputs of {@link searchBalancedCut}. */
export interface CutSearch {
  readonly analysis: GraphAnalysis;
  readonly types: ReadonlyMap<string, TensorType>;
  /** Cost per node (index into `analysis.nodes`). */
  readonly nodeCostMs: readonly number[];
  readonly stages: number;
  readonly tolerance: number;
  /** Stage 0 starts this much later than the others in a parallel step; it gets that much less work. */
  readonly firstStageDelayMs: number;
  /** Extra rounds that re-cut after timing the stages alone (0: profile costs only). */
  readonly calibrationRounds: number;
  /** Largest initializer bytes one stage may hold (replicated conditioning weights included), or null for no cap. */
  readonly maxStageWeightBytes: number | null;
  /** Times each stage of a layout alone; null when timing is off or impossible. */
  readonly timeStages: (layout: StageLayout, round: number) => Promise<readonly number[] | null>;
}

/**
 * Finds the contiguous cut with the lowest slowest stage. Round 0 balances the profiled per-node
 * costs. A full-model profile misjudges a stage run alone (each stage has its own caches and
 * per-run overhead), so each calibration round times the stages of the last cut by themselves,
 * rescales the costs of every node by its stage's measured/predicted ratio, and cuts again; the
 * candidate whose slowest measured stage is lowest wins.
 */
export async function searchBalancedCut(search: CutSearch): Promise<CutSearchResult> {
  const { analysis } = search;
  const costs = [...search.nodeCostMs];
  const penalties = cutPenalties(analysis, search.types);
  const weights = search.maxStageWeightBytes === null ? null : weightItems(analysis);
  const candidates: CutCandidate[] = [];
  const seen = new Set<string>();
  for (let round = 0; round <= search.calibrationRounds; round++) {
    const sharedCostMs = costs.map((c, i) => (analysis.nodes[i]?.latent ? 0 : c));
    const cut = solveCut({
      itemCostMs: analysis.latentNodes.map((i) => costs[i] as number),
      sharedCostMs: weights ? [...sharedCostMs, ...weights.bytes.map(() => 0)] : sharedCostMs,
      itemShared: weights ? weights.itemShared : analysis.latentNodes.map((i) => analysis.conditioningClosure[i] ?? []),
      cutPenalty: penalties,
      stages: search.stages,
      tolerance: search.tolerance,
      firstSegmentExtraMs: search.firstStageDelayMs,
      ...(weights && search.maxStageWeightBytes !== null ? { sharedWeight: [...sharedCostMs.map(() => 0), ...weights.bytes], maxSegmentWeight: search.maxStageWeightBytes } : {}),
    });
    const signature = cut.starts.join(',');
    if (seen.has(signature)) break; // converged
    seen.add(signature);
    const stageOf = new Map<number, number>();
    analysis.latentNodes.forEach((nodeIndex, position) => {
      let stage = 0;
      while (stage + 1 < cut.starts.length && position >= (cut.starts[stage + 1] as number)) stage++;
      stageOf.set(nodeIndex, stage);
    });
    const layout = layoutStages(analysis, stageOf, search.stages);
    const measuredMs = search.calibrationRounds > 0 || round > 0 ? await search.timeStages(layout, round) : null;
    candidates.push({ stageOf, layout, optimalSlowestMs: cut.optimalSlowestMs, measuredMs });
    if (measuredMs === null) break;
    rescale(costs, layout, measuredMs);
  }
  const best = candidates.reduce((b, c) => (slowest(c, search.firstStageDelayMs) < slowest(b, search.firstStageDelayMs) ? c : b));
  return { best, profileOptimalSlowestMs: (candidates[0] as CutCandidate).optimalSlowestMs, cutsTried: candidates.length };
}

/** Output of {@link searchBalancedCut}. */
export interface CutSearchResult {
  readonly best: CutCandidate;
  /** Best achievable slowest stage under the uncalibrated costs. */
  readonly profileOptimalSlowestMs: number;
  readonly cutsTried: number;
}

function slowest(c: CutCandidate, firstStageDelayMs: number): number {
  return c.measuredMs ? Math.max(...c.measuredMs.map((ms, k) => ms + (k === 0 ? firstStageDelayMs : 0))) : c.optimalSlowestMs;
}

/** Scales node costs so each stage's predicted cost matches its measured time. */
function rescale(costs: number[], layout: StageLayout, measuredMs: readonly number[]): void {
  const ratios = layout.stages.map((s) => {
    const predicted = s.nodes.reduce((a, i) => a + (costs[i] as number), 0);
    const measured = measuredMs[s.index] as number;
    return predicted > 0 && measured > 0 ? Math.min(4, Math.max(0.25, measured / predicted)) : 1;
  });
  const shared = new Map<number, number[]>();
  for (const s of layout.stages) {
    for (const i of s.latentNodes) costs[i] = (costs[i] as number) * (ratios[s.index] as number);
    for (const i of s.conditioningNodes) shared.set(i, [...(shared.get(i) ?? []), ratios[s.index] as number]);
  }
  for (const [i, rs] of shared) costs[i] = (costs[i] as number) * (rs.reduce((a, b) => a + b, 0) / rs.length);
}

/** {@link solveBalancedCut}, with an infeasible weight cap reported as an option error. */
function solveCut(problem: BalancedCutProblem): BalancedCut {
  try {
    return solveBalancedCut(problem);
  } catch (error) {
    if (!(error instanceof WeightCapInfeasible)) throw error;
    const cap = problem.maxSegmentWeight ?? 0;
    throw new SplitOptionsError(
      'SPLIT_INVALID_OPTION',
      `maxStageWeightShare: no contiguous cut into ${problem.stages} stages keeps every stage within ${Math.round(cap)} weight bytes (the largest single node with its conditioning needs ${Math.round(error.largestItemWeight)})`,
      { field: 'maxStageWeightShare', cause: error },
    );
  }
}

/**
 * Initializers as weighted shared items: ids `nodes.length + k`, so a segment counts each weight
 * it reads once (its latent nodes' and the replicated conditioning nodes' initializers).
 */
function weightItems(analysis: GraphAnalysis): { bytes: number[]; itemShared: number[][] } {
  const ids = new Map<string, number>();
  const bytes: number[] = [];
  const initializersOf = (nodeIndex: number): number[] =>
    (analysis.nodes[nodeIndex]?.inputs ?? []).flatMap((t) => {
      const info = analysis.initializers.get(t);
      if (info === undefined) return [];
      let id = ids.get(t);
      if (id === undefined) {
        id = analysis.nodes.length + bytes.length;
        ids.set(t, id);
        bytes.push(info.bytes);
      }
      return [id];
    });
  const itemShared = analysis.latentNodes.map((i) => {
    const closure = analysis.conditioningClosure[i] ?? [];
    return [...new Set([...closure, ...initializersOf(i), ...closure.flatMap(initializersOf)])];
  });
  return { bytes, itemShared };
}

/** Bytes and non-float count of latent tensors live across a cut before each latent-order position. */
export function cutPenalties(analysis: GraphAnalysis, types: ReadonlyMap<string, TensorType>): CutPenalty[] {
  const m = analysis.latentNodes.length;
  const position = new Map(analysis.latentNodes.map((nodeIndex, p) => [nodeIndex, p]));
  const bytes = new Float64Array(m + 2);
  const nonFloat = new Float64Array(m + 2);
  analysis.latentNodes.forEach((nodeIndex, p) => {
    for (const t of analysis.nodes[nodeIndex]?.outputs ?? []) {
      let last = p;
      for (const consumer of analysis.consumers.get(t) ?? []) last = Math.max(last, position.get(consumer) ?? p);
      if (last === p) continue;
      const type = types.get(t);
      const size = type?.dims ? type.dims.reduce((a, d) => a * d, 1) * dtypeBytes(type.dtype) : 0;
      const isNonFloat = type !== undefined && !isFloatDtype(type.dtype) ? 1 : 0;
      bytes[p + 1] = (bytes[p + 1] as number) + size;
      bytes[last + 1] = (bytes[last + 1] as number) - size;
      nonFloat[p + 1] = (nonFloat[p + 1] as number) + isNonFloat;
      nonFloat[last + 1] = (nonFloat[last + 1] as number) - isNonFloat;
    }
  });
  const penalties: CutPenalty[] = [];
  let b = 0;
  let f = 0;
  for (let c = 0; c <= m; c++) {
    b += bytes[c] as number;
    f += nonFloat[c] as number;
    penalties.push({ bytes: Math.max(0, Math.round(b)), nonFloat: Math.max(0, Math.round(f)) });
  }
  return penalties;
}
