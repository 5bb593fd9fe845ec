import type { ResolvedParallel } from '@asyncdiff/engine';
import type { GeneratorPackage } from '@asyncdiff/models';
import { createJobWorker, type HostGroupState, type HostGroupStatus, type JobWorker } from '@asyncdiff/queue';
import type { ObjectStore } from '@asyncdiff/storage';

import type { BacklogMonitor } from './backlog.js';
import { DeviceAllocator } from './device-allocator.js';
import type { HostDevice } from './devices/discover.js';
import { EngineCache } from './engine-cache.js';
import { BatchSlots } from './jobs/batch-slots.js';
import { engineKey, takeEngine } from './jobs/denoise.js';
import type { CheckpointStore } from './jobs/checkpoint-store.js';
import type { GroupRuntime, RunningJob } from './jobs/group-runtime.js';
import { createJobHandler } from './jobs/run-job.js';
import type { ResolvedGpuHostOptions } from './options.js';
import type { HostMetrics } from './telemetry/host-metrics.js';
import type { HostLogger } from './telemetry/logger.js';

/** What a group shares with the rest of the host. */
export interface GroupDeps {
  readonly hostId: string;
  readonly options: ResolvedGpuHostOptions;
  readonly store: ObjectStore;
  readonly checkpoints: CheckpointStore;
  readonly backlog: BacklogMonitor;
  readonly models: (name: string) => GeneratorPackage;
  readonly metrics: HostMetrics;
}

/**
 * One replica group: N(+S−1) devices, a device allocator, warm engines (stage processes) and the
 * coordinator — one BullMQ worker per served queue, each with concurrency = devices, so the group
 * can run one AsyncDiff job on all devices or one sequential job per device (data parallelism).
 * The allocator, not BullMQ, decides what actually runs.
 */
/** The layout of every continuous batch: the whole model on one device. */
const SEQUENTIAL: ResolvedParallel = { mode: 'sequential', stages: 1, stride: 1, warmup: 1, timeShift: false, compensation: 'none' };

export class ReplicaGroup implements GroupRuntime {
  readonly allocator: DeviceAllocator;
  readonly engines: EngineCache;
  readonly batches: BatchSlots;
  readonly hostId: string;
  readonly options: ResolvedGpuHostOptions;
  readonly store: ObjectStore;
  readonly checkpoints: CheckpointStore;
  readonly backlog: BacklogMonitor;
  readonly metrics: HostMetrics;
  readonly logger: HostLogger;
  private readonly running = new Map<string, RunningJob>();
  private readonly restarts: number[];
  private readonly workers: JobWorker[] = [];
  private arriving = 0;
  private draining = false;
  private closing: Promise<void> | undefined;

  constructor(
    readonly id: string,
    readonly devices: readonly HostDevice[],
    private readonly deps: GroupDeps,
  ) {
    this.hostId = deps.hostId;
    this.options = deps.options;
    this.store = deps.store;
    this.checkpoints = deps.checkpoints;
    this.backlog = deps.backlog;
    this.metrics = deps.metrics;
    this.logger = deps.options.logger.child({ group: id });
    this.restarts = new Array<number>(devices.length).fill(0);
    // Jobs waiting for devices here + jobs on their way to the allocator + BullMQ backlog.
    this.allocator = new DeviceAllocator(devices.length, (waitingHere) => waitingHere + this.arriving + this.backlog.value < this.options.autoAsyncMaxWaiting);
    this.engines = new EngineCache(this.options.maxEnginesPerGroup, this.options.onError);
    this.batches = new BatchSlots({
      acquire: (demand, signal) => this.allocator.acquire(demand, signal),
      deviceFree: () => this.allocator.freeCount > 0 && this.allocator.waiting === 0,
      takeEngine: async (name, device) => {
        const model = this.model(name);
        const key = engineKey(model, SEQUENTIAL, [device]);
        return { key, ...(await takeEngine(this, model, SEQUENTIAL, [device], key)) };
      },
      devices: devices.length,
      maxStepMs: this.options.maxStepMs,
      maxBatchRows: this.options.maxBatchRows,
      minBatchGain: this.options.minBatchGain,
      onError: this.options.onError,
      onStep: (slot, info) => this.metrics.batchStep(this.id, this.devices[slot.device]?.label ?? String(slot.device), slot.model, info),
      onRestart: (slot) => this.noteRestart(slot.device),
      onCalibrated: (slot, a) =>
        this.logger.info(
          { engine: slot.key, measured: a.measured, budgetMs: Math.round(a.budgetMs * 1000) / 1000, maxRows: a.maxRows, gain: Math.round(a.gain * 100) / 100, batched: a.batched },
          a.batched
            ? `continuous batching on ${slot.key}: up to ${a.maxRows} rows per step (${a.gain.toFixed(2)}x a lone job's rows per ms)`
            : `no continuous batching for ${slot.model}: ${a.maxRows} rows within ${a.budgetMs.toFixed(1)} ms per step do ${a.gain.toFixed(2)}x a lone job's work (under ${this.options.minBatchGain}); its jobs run one per device`,
        ),
    });
  }

  /** Starts the coordinator's workers (one per queue) and waits until they listen. */
  async start(): Promise<void> {
    const o = this.options;
    const handler = createJobHandler(this);
    for (const queue of o.queues) {
      this.workers.push(
        createJobWorker({
          queue,
          handler,
          connection: o.connection,
          prefix: o.prefix,
          ...(o.attempts !== undefined && { attempts: o.attempts }),
          ...(o.backoffDelayMs !== undefined && { backoffDelayMs: o.backoffDelayMs }),
          hostId: `${this.hostId}/${this.id}`,
          // Continuous batching: enough jobs in hand to fill every device's batch (a job that
          // finds no room waits in the handler, holding its lock, as it would for a device).
          concurrency: o.batching === 'continuous' ? this.devices.length * Math.max(1, Math.ceil(o.maxBatchRows / 2)) : this.devices.length,
          lockDurationMs: o.lockDurationMs,
          stalledIntervalMs: o.stalledIntervalMs,
          shutdownGraceMs: o.drainGraceMs,
          progressIntervalMs: o.progressIntervalMs,
          onError: o.onError,
        }),
      );
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  model(name: string): GeneratorPackage {
    return this.deps.models(name);
  }

  track(job: RunningJob): () => void {
    this.running.set(job.jobId, job);
    return () => {
      if (this.running.get(job.jobId) === job) this.running.delete(job.jobId);
    };
  }

  arrive(): () => void {
    this.arriving += 1;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.arriving -= 1;
    };
  }

  noteRestart(groupDevice: number): void {
    if (groupDevice >= 0 && groupDevice < this.restarts.length) this.restarts[groupDevice] = (this.restarts[groupDevice] ?? 0) + 1;
    this.metrics.stageRestarted(this.id);
  }

  /** Jobs BullMQ has handed this group's workers (running or waiting for devices). */
  activeJobIds(): string[] {
    return this.workers.flatMap((w) => w.activeJobs());
  }

  get state(): HostGroupState {
    if (this.draining) return 'draining';
    return this.running.size > 0 || this.activeJobIds().length > 0 ? 'busy' : 'idle';
  }

  /** The group's part of the heartbeat. */
  status(): HostGroupStatus {
    const now = performance.now();
    return {
      id: this.id,
      devices: this.devices.map((d) => d.label),
      state: this.state,
      jobs: [...this.running.values()].map((j) => {
        const elapsedSec = j.denoiseStartedAt === undefined ? 0 : (now - j.denoiseStartedAt) / 1000;
        return {
          jobId: j.jobId,
          kind: j.kind,
          model: j.model,
          step: j.step,
          steps: j.steps,
          stepsPerSec: elapsedSec > 0 ? Math.round((j.stepsThisRun / elapsedSec) * 10) / 10 : 0,
          mode: j.mode,
          stages: j.stages,
          devices: j.devices,
          startedAt: j.startedAt,
          recentSteps: [...j.recentSteps],
          ...(j.batched && { batched: true }),
        };
      }),
      batches: this.batches.occupancy().map((b) => ({ device: this.devices[b.device]?.label ?? `?${b.device}`, model: b.model, ...b.occupancy, recentRows: b.recentRows })),
      stages: this.engines.all().flatMap((e) =>
        e.engine.runner.stageStatus().map((s) => {
          const d = e.devices[s.device] ?? -1;
          return { device: this.devices[d]?.label ?? `?${d}`, pid: s.pid, state: s.state, restarts: this.restarts[d] ?? 0, engine: e.key };
        }),
      ),
    };
  }

  /**
   * Stops taking jobs, hands running ones back (after `drainGraceMs`; their checkpoints are
   * stored by the handler), then closes the engines. Repeat-safe.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.draining = true;
      await Promise.all(this.workers.map((w) => w.close().catch(this.options.onError)));
      await this.engines.close().catch(this.options.onError);
    })();
    return this.closing;
  }
}
