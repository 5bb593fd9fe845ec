/**
 * The stage-process runtime shared by the CLI and GPU hosts: spawn and pin one process per
 * device, wire their shared-memory channels, and drive them through the StageRunner contract.
 * GPU hosts add only discovery, supervision and the queue on top.
 */
export type { DeviceSpec } from './device.js';
export { cpuDeviceGroups, describeDevice, threadsFor } from './device.js';
export { StageFailedError } from './errors.js';
export { ProcessRunner } from './process-runner.js';
export type { CoordinatorWait, ProcessRunnerOptions, RunnerStats } from './process-runner.js';
export { StageHandle, stageEntryPath } from './stage-handle.js';
export type { StageLoadInfo, StageState } from './stage-handle.js';
export { peakRss } from './stage-process.js';
export type { FromStage, ToStage } from './protocol.js';
export { Engine, schedulerOptions } from './engine.js';
export type { EngineOptions, GenerateRequest, GenerateResult } from './engine.js';
export { DEFAULT_PARALLEL, devicesNeeded, resolveParallel } from './parallel.js';
export type { ParallelOptions, ResolvedParallel } from './parallel.js';
export { pipelineFromSplit, splitForModel } from './split-pipeline.js';
export type { SplitForModelOptions } from './split-pipeline.js';
