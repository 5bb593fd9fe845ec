import type { ParallelMode } from '@asyncdiff/engine';
import type { StepTiming } from '@asyncdiff/queue';
import type { GeneratorPackage } from '@asyncdiff/models';
import type { ObjectStore } from '@asyncdiff/storage';

import type { BacklogMonitor } from '../backlog.js';
import type { DeviceAllocator } from '../device-allocator.js';
import type { HostDevice } from '../devices/discover.js';
import type { EngineCache } from '../engine-cache.js';
import type { ResolvedGpuHostOptions } from '../options.js';
import type { HostMetrics } from '../telemetry/host-metrics.js';
import type { HostLogger } from '../telemetry/logger.js';
import type { BatchSlots } from './batch-slots.js';
import type { CheckpointStore } from './checkpoint-store.js';

/** A job a group runs right now, as the heartbeat shows it (mutated as steps complete). */
export interface RunningJob {
  readonly jobId: string;
  readonly kind: 'image' | 'video';
  readonly model: string;
  step: number;
  readonly steps: number;
  mode: ParallelMode;
  stages: number;
  devices: readonly string[];
  readonly startedAt: number;
  /** Steps run by this run and when its first one started (for steps/s). */
  stepsThisRun: number;
  denoiseStartedAt: number | undefined;
  /** Where the last steps' time went (newest last, at most `RECENT_STEPS_KEPT`): the dashboard's timeline. */
  readonly recentSteps: StepTiming[];
  /** Whether it runs inside a device's continuous batch. */
  batched?: boolean;
}

/**
 * What a job handler needs from its replica group. An interface (not the class) so the handler
 * can be tested and so `group.ts` and the handler do not import each other.
 */
export interface GroupRuntime {
  readonly id: string;
  readonly hostId: string;
  readonly devices: readonly HostDevice[];
  readonly allocator: DeviceAllocator;
  readonly engines: EngineCache;
  /** Continuous batches on this group's devices (used when `options.batching` is `continuous`). */
  readonly batches: BatchSlots;
  readonly options: ResolvedGpuHostOptions;
  readonly store: ObjectStore;
  readonly checkpoints: CheckpointStore;
  readonly backlog: BacklogMonitor;
  /** The host's metric families. */
  readonly metrics: HostMetrics;
  /** Lines bound to this host and group (a job adds its `jobId`). */
  readonly logger: HostLogger;
  /** The model package called `name`; throws a non-retryable `ModelError` if unknown. */
  model(name: string): GeneratorPackage;
  /** Shows a job in the heartbeat until the returned function is called. */
  track(job: RunningJob): () => void;
  /**
   * Counts a job that is on its way to the allocator (picked up, not yet waiting for devices),
   * so `auto` decisions see it; call the returned function when it asks for devices or fails.
   */
  arrive(): () => void;
  /** Counts a replaced stage process on a group device. */
  noteRestart(groupDevice: number): void;
}
