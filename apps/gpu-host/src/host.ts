import { hostname } from 'node:os';

import { findGenerator, ModelError, modelSearchDirs, type GeneratorPackage } from '@asyncdiff/models';
import { closeRedis, createJobClient, createModelCatalog, createRedis, type HostStatus } from '@asyncdiff/queue';
import { describeDevice, sweepOrphanSegments } from '@asyncdiff/stages';
import { createObjectStore, resolveLocalStoreOptions, type ObjectStore, type ResolvedStorageOptions } from '@asyncdiff/storage';

import { BacklogMonitor } from './backlog.js';
import { discoverDevices, formReplicaGroups, machineCores, type DeviceSource, type HostDevice } from './devices/discover.js';
import { GpuHostError } from './errors.js';
import { ReplicaGroup } from './group.js';
import { Heartbeat } from './heartbeat.js';
import { CheckpointStore } from './jobs/checkpoint-store.js';
import { resolveGpuHostOptions, type GpuHostOptions, type ResolvedGpuHostOptions } from './options.js';
import { StageSupervisor } from './supervisor.js';
import { createHostMetrics, type HostMetrics } from './telemetry/host-metrics.js';
import { startProbeServer, type CheckResult, type ProbeServer, type ProbeSource } from './telemetry/probe-server.js';

/** A running GPU host (what `startGpuHost` returns; the CLI's `serve` embeds one). */
export interface GpuHost {
  readonly hostId: string;
  /** Where the devices came from: nvidia-smi, CPU core groups, or the options. */
  readonly deviceSource: DeviceSource;
  readonly devices: readonly HostDevice[];
  /** Replica groups: id and device labels. */
  readonly groups: readonly { readonly id: string; readonly devices: readonly string[] }[];
  /** The heartbeat document as of now. */
  status(): HostStatus;
  /** This host's metric families (what `/metrics` serves). */
  readonly metrics: HostMetrics;
  /** Base URL of `/metrics`, `/healthz`, `/readyz` (undefined when `metricsPort` is null). */
  readonly probeUrl: string | undefined;
  /** Runs one health sweep over idle stages now (it also runs every `healthIntervalMs`). */
  checkHealth(): Promise<void>;
  /**
   * Drains: stops taking jobs, lets each running job finish its current step, stores its
   * checkpoint and hands it back to the queue, closes stage processes, removes the heartbeat.
   * Bounded by `closeDeadlineMs`; repeat-safe (every call returns the same promise).
   */
  close(): Promise<void>;
}

function isObjectStore(s: ObjectStore | ResolvedStorageOptions): s is ObjectStore {
  return typeof (s as ObjectStore).put === 'function';
}

/**
 * Starts a GPU host: discovers devices, forms replica groups, and runs per group a coordinator
 * (BullMQ workers for the image and video queues) that generates with AsyncDiff or whole-model
 * data parallelism, uploads outputs and a sidecar, survives stage crashes, checkpoints on drain
 * and publishes a heartbeat. Engines (stage processes) start lazily with the first job.
 */
export async function startGpuHost(options: GpuHostOptions = {}): Promise<GpuHost> {
  const o = resolveGpuHostOptions(options);
  const startedAt = Date.now();
  // Listening first: liveness answers while devices are discovered and workers start.
  let probeSource: ProbeSource | undefined;
  const probes: ProbeServer | undefined = o.metricsPort === null ? undefined : await startProbeServer({ port: o.metricsPort, host: o.metricsHost, maxLoopStallMs: o.maxLoopStallMs }, () => probeSource);
  try {
    return await startWith(o, startedAt, probes, (source) => (probeSource = source));
  } catch (err) {
    await probes?.close();
    throw err;
  }
}

async function startWith(o: ResolvedGpuHostOptions, startedAt: number, probes: ProbeServer | undefined, serveProbes: (source: ProbeSource) => void): Promise<GpuHost> {
  let devices: HostDevice[];
  let deviceSource: DeviceSource;
  if (Array.isArray(o.devices)) {
    devices = o.devices.map((spec) => ({ spec, label: describeDevice(spec) }));
    deviceSource = 'given';
  } else {
    const found = await discoverDevices({ mode: o.devices === 'cpu' ? 'cpu' : 'auto', coresPerDevice: o.coresPerDevice, cores: o.cores ?? machineCores(), nvidiaSmiPath: o.nvidiaSmiPath });
    devices = found.devices;
    deviceSource = found.source;
  }
  if (devices.length === 0) throw new GpuHostError('NO_DEVICES', 'no devices found', false, 'devices');
  const layout = formReplicaGroups(devices, o.groupSize);
  o.logger.info({ devices: devices.length, deviceSource }, `gpu-host ${o.hostId}: ${devices.length} device(s) from ${deviceSource}: ${layout.map((g, i) => `g${i}=[${g.map((d) => d.label).join(' ')}]`).join(' ')}`);
  let groupsRef: readonly ReplicaGroup[] = [];
  const metrics = createHostMetrics(() => groupsRef.map((g) => ({ id: g.id, devices: g.devices.length, busy: () => g.devices.length - g.allocator.freeCount })));

  const redis = createRedis(o.connection, 'command');
  redis.on('error', o.onError);
  const ownStore = o.storage === undefined || !isObjectStore(o.storage);
  const store: ObjectStore = o.storage === undefined ? createObjectStore(resolveLocalStoreOptions()) : isObjectStore(o.storage) ? o.storage : createObjectStore(o.storage);
  const modelDirs = o.modelsDir === undefined ? modelSearchDirs() : [o.modelsDir];
  const client = createJobClient({ connection: o.connection, prefix: o.prefix, models: createModelCatalog(modelDirs), onError: o.onError });
  const backlog = new BacklogMonitor(client, o.queues, o.backlogPollMs, o.onError);
  const checkpoints = new CheckpointStore(redis, o.prefix, o.checkpointTtlSec);
  const modelCache = new Map<string, GeneratorPackage>();
  const models = (name: string): GeneratorPackage => {
    let m = modelCache.get(name);
    if (!m) {
      // A job names a discovered package, never a path (the API checks this; a record written
      // straight into Redis must not make the host load an arbitrary folder either).
      if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new ModelError('MODEL_NOT_FOUND', `"${name}" is not a model name`, 'model');
      m = findGenerator(name, modelDirs);
      modelCache.set(name, m);
    }
    return m;
  };
  const groups = layout.map((g, i) => new ReplicaGroup(`g${i}`, g, { hostId: o.hostId, options: o, store, checkpoints, backlog, models, metrics }));
  groupsRef = groups;
  const supervisor = new StageSupervisor(groups, o);
  const status = (): HostStatus => ({
    hostId: o.hostId,
    hostname: hostname(),
    pid: process.pid,
    startedAt,
    lastHeartbeatAt: Date.now(),
    heartbeatIntervalMs: o.heartbeatIntervalMs,
    devices: devices.map((d) => ({ label: d.label, kind: d.spec.kind, ...(d.name !== undefined && { name: d.name }), ...(d.memoryMiB !== undefined && { memoryMiB: d.memoryMiB }) })),
    groups: groups.map((g) => g.status()),
    stepTimes: metrics.stepTimes(),
  });
  const heartbeat = new Heartbeat(redis, o.prefix, status, o.heartbeatIntervalMs, o.heartbeatTtlMs, o.onError);
  const shmSweeper = startShmSweeper(o);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const steps: Array<[string, () => Promise<unknown>]> = [
        ['supervisor', () => supervisor.stop()],
        ['shm sweeper', async () => shmSweeper.stop()],
        ['groups', () => withDeadline(Promise.all(groups.map((g) => g.close())), o.closeDeadlineMs)],
        // Past the deadline, stop the stage processes even if a worker still hangs.
        ['engines', () => Promise.all(groups.map((g) => g.engines.close()))],
        ['heartbeat', () => heartbeat.stop(o.hostId)],
        ['job client', () => client.close()],
        ['redis', () => closeRedis(redis)],
        ['store', () => (ownStore ? store.close() : Promise.resolve())],
        ['probes', async () => probes?.close()],
      ];
      for (const g of groups) void g.close(); // flips every group to draining at once…
      await heartbeat.beat(); // …so the dashboard sees it before the drain finishes
      for (const [, step] of steps) {
        try {
          await step();
        } catch (err) {
          o.onError(err);
        }
      }
    })();
    return closing;
  };

  let started = false;
  serveProbes({
    metrics: async () => ({ contentType: metrics.contentType, text: await metrics.render() }),
    readiness: async () => {
      const checks: Record<string, CheckResult> = {};
      checks['started'] = started && !closing ? 'ok' : 'unavailable';
      // Stages loaded: no stage process of a warm engine is still starting or has crashed
      // (engines open with their first job; a host with none yet is ready to open them).
      const stages = groups.flatMap((g) => g.status().stages);
      checks['stages'] = stages.every((st) => st.state !== 'starting' && st.state !== 'crashed' && st.state !== 'stopped') ? 'ok' : 'unavailable';
      try {
        await withTimeoutOrFail(redis.ping(), 2000);
        checks['redis'] = 'ok';
      } catch (err) {
        o.logger.warn({ err }, 'readiness: Redis does not answer');
        checks['redis'] = 'unavailable';
      }
      return checks;
    },
  });
  try {
    await Promise.all(groups.map((g) => g.start()));
    await heartbeat.start();
    supervisor.start();
    started = true;
  } catch (err) {
    await close();
    throw err;
  }
  return {
    hostId: o.hostId,
    deviceSource,
    devices,
    groups: groups.map((g) => ({ id: g.id, devices: g.devices.map((d) => d.label) })),
    status,
    metrics,
    probeUrl: probes?.url,
    checkHealth: () => supervisor.sweep(),
    close,
  };
}

/**
 * Removes shared-memory segments of processes that are gone (a `kill -9` of an earlier host or
 * `serve` leaves its control blocks; an OOM-killed stage its channel): once now, then every
 * `shmSweepIntervalMs`. A sweep never throws; entries it cannot remove are reported.
 */
function startShmSweeper(o: ResolvedGpuHostOptions): { stop(): void } {
  const sweep = (): void => {
    const r = sweepOrphanSegments({ onError: (name, err) => o.onError(new Error(`shm sweep: cannot remove ${name}: ${(err as Error).message}`, { cause: err })) });
    if (r.removed.length > 0) o.logger.info({ removed: r.removed.length }, `removed ${r.removed.length} shared-memory segment(s) of processes that are gone`);
  };
  sweep();
  const timer = o.shmSweepIntervalMs > 0 ? setInterval(sweep, o.shmSweepIntervalMs) : undefined;
  timer?.unref();
  return { stop: () => clearInterval(timer) };
}

/** `p`, or a rejection after `ms`. */
async function withTimeoutOrFail<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for `p`, but at most `ms` (a drain must not hang shutdown forever). */
async function withDeadline(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
