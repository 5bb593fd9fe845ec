/**
 * The stage-process runtime shared by the CLI and GPU hosts: spawn and pin one process per
 * device, wire their shared-memory channels, and drive them through the StageRunner contract.
 * GPU hosts add only discovery, supervision and the queue on top.
 */
export type { DeviceSpec } from './device.js';
export { cpuDeviceGroups, describeDevice, threadsFor } from './device.js';
export { StageFailedError } from './errors.js';
export { InvalidStageTransitionError } from './stage-lifecycle.js';
export { ProcessRunner } from './process-runner.js';
export { monotonicUs } from './control-block.js';
export type { CoordinatorWait, ProcessRunnerOptions } from './process-runner-options.js';
export type { RunnerStats } from './runner-stats.js';
export { StageHandle, stageEntryPath } from './stage-handle.js';
export type { StageBinding, StageLoadInfo } from './stage-handle.js';
export { InProcessRunner } from './in-process-runner.js';
export type { InProcessRunnerOptions } from './in-process-runner.js';
export { peakRss } from './stage-process.js';
// Hosts sweep the segments of stage processes and coordinators that died without cleaning up.
export { sweepOrphanSegments, type SweepOptions, type SweepResult } from '@asyncdiff/shm';
export type { FromStage, ToStage } from './protocol.js';
export type { ModelHost, ModelHostMetadata, ValueInfo } from './model-host/model-host.js';
export { InProcessModelHost } from './model-host/in-process-model-host.js';
export { ProcessModelHost } from './model-host/process-model-host.js';
