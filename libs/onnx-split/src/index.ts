/**
 * `@asyncdiff/onnx-split`: cuts a denoiser ONNX graph into N AsyncDiff stage graphs plus a plan.
 *
 * Typical use: `splitModel({ modelPath, stages: 3, inputs })` → a cached split directory with
 * `stage-<k>.onnx` files and `plan.json`; `loadSplitPlan(dir)` reads one back.
 */
export { splitModel } from './split-model.js';
export type { SplitResult } from './split-model.js';
export { resolveSplitModelOptions, MIN_STAGES, MAX_STAGES, AUTO_FLOPS_MIN_WEIGHT_BYTES } from './split-options.js';
export type { SplitModelOptions, SplitProfileOptions, ResolvedSplitModelOptions, CostModel, AnalyticRatesOptions } from './split-options.js';
export { loadSplitPlan, parseSplitPlan, PLAN_FILE_NAME } from './plan-file.js';
export type { LoadedSplitPlan } from './plan-file.js';
export { SPLIT_PLAN_FORMAT, SPLIT_PLAN_VERSION } from './split-plan.js';
export type {
  SplitPlan,
  SplitPlanStage,
  SplitPlanStageInput,
  SplitPlanStageOutput,
  SplitPlanBoundary,
  StageInputKind,
  AssignmentMethod,
  CostSource,
} from './split-plan.js';
export { solveBalancedCut } from './balanced-cut.js';
export type { BalancedCut, BalancedCutProblem, CutPenalty } from './balanced-cut.js';
export { analyseGraph } from './graph-analysis.js';
export type { GraphAnalysis, GraphNode, InitializerInfo, AnalyseGraphOptions } from './graph-analysis.js';
export { inferShapes } from './shape-inference.js';
export type { ShapeInference, InferredTensor } from './shape-inference.js';
export { analyticNodeCosts, nodeWork } from './analytic-costs.js';
export type { AnalyticCostRates, AnalyticCosts, NodeWork } from './analytic-costs.js';
export { probeSplit, probeChain } from './stage-probe.js';
export type { ProbeResult, ProbeSettings, ProbeStage } from './stage-probe.js';
export { profileNodes } from './profile.js';
export type { ProfileNodesOptions, ProfiledNodeRef, NodeProfile, ObservedTensor, GraphOptimizationLevel } from './profile.js';
export type { InputSpec, InputSpecs } from './random-feeds.js';
export { readOnnxModel, writeOnnxModel, decodeOnnxModel, encodeOnnxModel } from './onnx-io.js';
export type { OnnxModel, OnnxGraph, OnnxNode, OnnxTensor, OnnxValueInfo, OnnxAttribute, TensorDtype } from './onnx-types.js';
export { SplitError, SplitOptionsError, SplitAssignmentError, SplitModelError, SplitProfileError, SplitPlanError, SplitCacheError } from './errors.js';
export type { SplitErrorCode } from './errors.js';
