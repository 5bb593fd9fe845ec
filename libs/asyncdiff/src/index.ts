/**
 * The AsyncDiff engine core: the schedule (a pure function), the StageRunner contract that both
 * the in-process runner and stage processes implement, and the sampling loop. Pure: it knows
 * nothing of ONNX Runtime, processes, queues, HTTP or object storage.
 */
export { EngineError, InvalidOptionError, SamplingAbortedError, StageCrashedError } from './errors.js';
export type { EngineErrorCode } from './errors.js';
export { COMPENSATIONS, COMPENSATION_ORDER, combineInto, extrapolationWeights, isCompensation, isIdentity } from './compensation.js';
export type { Compensation, HistoryEntry } from './compensation.js';
export { attachHistory, buildSchedule, criticalPathUnits, scheduleToJson, validatePlanOptions } from './plan.js';
export type { PlanOptions, PlannedRun, PlannedStep, Schedule, StepPhase } from './plan.js';
export { rewarmAt } from './rewarm.js';
export { componentOfDevice } from './pipeline.js';
export type { ComponentInputSpec, ComponentSpec, ConditioningSpec, PipelineSpec } from './pipeline.js';
export { FEED_DTYPES, guidanceBatch, modelRows, sliceConditioning } from './feed.js';
export type { ConditioningTensors, FeedDtype, FeedTensor, GuidanceConditioning } from './feed.js';
export type { GenerationBatch, StageRunner, StageState, StageStatus } from './runner.js';
export { sample } from './sampler.js';
export { ContinuousBatch, wholeModelStep } from './continuous-batch.js';
export type { BatchMemberRequest, BatchMemberResult, ContinuousBatchOptions } from './continuous-batch.js';
export type { SampleOptions, SampleResult, SamplerCheckpoint, StepProgress } from './sampler.js';
export type { PhaseTime, PhaseTimes } from './timings.js';
export { DEFAULT_PARALLEL, DEFAULT_QUALITY, PARALLEL_MODES, QUALITY_BUDGETS, branchesOf, budgetAdmits, devicesNeeded, isStale, layoutOf, resolveParallel } from './parallel.js';
export type { AsyncKnobs, ParallelLayout, ParallelMode, ParallelOptions, QualityBudget, ResolvedParallel } from './parallel.js';
