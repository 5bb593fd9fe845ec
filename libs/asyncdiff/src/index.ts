/**
 * The AsyncDiff engine core: the schedule (a pure function), the StageRunner contract that both
 * the in-process runner and stage processes implement, and the sampling loop. It knows nothing
 * of queues, HTTP or object storage.
 */
export { EngineError, InvalidOptionError, SamplingAbortedError, StageCrashedError } from './errors.js';
export type { EngineErrorCode } from './errors.js';
export { buildSchedule, criticalPathUnits, scheduleToJson, validatePlanOptions } from './plan.js';
export type { PlanOptions, PlannedRun, PlannedStep, Schedule, StepPhase } from './plan.js';
export { rewarmAt } from './rewarm.js';
export { componentOfDevice, wholeModelPipeline } from './pipeline.js';
export type { ComponentInputSpec, ComponentSpec, PipelineSpec } from './pipeline.js';
export type { GenerationBatch, StageRunner } from './runner.js';
export { InProcessRunner } from './in-process-runner.js';
export type { InProcessRunnerOptions } from './in-process-runner.js';
export { sample } from './sampler.js';
export type { SampleOptions, SampleResult, SamplerCheckpoint, StepProgress } from './sampler.js';
export type { PhaseTime, PhaseTimes } from './timings.js';
