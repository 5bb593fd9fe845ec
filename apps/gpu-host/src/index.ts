/**
 * @asyncdiff/gpu-host — the worker side of the fleet: device discovery, replica groups of stage
 * processes, coordinators that take image/video jobs from BullMQ and run them with AsyncDiff or
 * data parallelism, supervision, checkpoints on drain and the host heartbeat. `startGpuHost`
 * embeds it (the CLI's `serve`); `main.ts` runs it standalone from the environment.
 */
export { startGpuHost, type GpuHost } from './host.js';
export { resolveGpuHostOptions, type GpuHostOptions, type ResolvedGpuHostOptions } from './options.js';
export { gpuHostOptionsFromEnv } from './env.js';
export { GpuHostConfigError, GpuHostError, type GpuHostErrorCode } from './errors.js';
export { cpuDevices, cudaDevices, discoverDevices, formReplicaGroups, type DeviceSource, type HostDevice } from './devices/discover.js';
export { NVIDIA_SMI_ARGS, parseNvidiaSmi, queryNvidiaSmi, type GpuInfo } from './devices/nvidia-smi.js';
export { DeviceAllocator, type DeviceDemand, type DeviceLease } from './device-allocator.js';
export { clampAsync, decideParallel, planParallel, type ParallelDecision, type ParallelPlan } from './jobs/parallel-plan.js';
export type { JobSidecar, RunTimings } from './jobs/sidecar.js';
export { callbackLogger, createHostLogger, LOG_LEVELS, type HostLogger, type LogLevel } from './telemetry/logger.js';
export type { HostMetrics, RunOutcome } from './telemetry/host-metrics.js';
