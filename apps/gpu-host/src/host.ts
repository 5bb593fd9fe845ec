import { hostname } from 'node:os';

import { findModelPackage, type ModelPackage } from '@asyncdiff/models';
import { closeRedis, createJobClient, createModelCatalog, createRedis, type HostStatus } from '@asyncdiff/queue';
import { describeDevice } from '@asyncdiff/stages';
import { createObjectStore, resolveLocalStoreOptions, type ObjectStore, type ResolvedStorageOptions } from '@asyncdiff/storage';

import { BacklogMonitor } from './backlog.js';
import { discoverDevices, formReplicaGroups, machineCores, type DeviceSource, type HostDevice } from './devices/discover.js';
import { GpuHostError } from './errors.js';
import { ReplicaGroup } from './group.js';
import { Heartbeat } from './heartbeat.js';
import { CheckpointStore } from './jobs/checkpoint-store.js';
import { resolveGpuHostOptions, type GpuHostOptions } from './options.js';
import { StageSupervisor } from './supervisor.js';

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
  o.log(`gpu-host ${o.hostId}: ${devices.length} device(s) from ${deviceSource}: ${layout.map((g, i) => `g${i}=[${g.map((d) => d.label).join(' ')}]`).join(' ')}`);

  const redis = createRedis(o.connection, 'command');
  redis.on('error', o.onError);
  const ownStore = o.storage === undefined || !isObjectStore(o.storage);
  const store: ObjectStore = o.storage === undefined ? createObjectStore(resolveLocalStoreOptions()) : isObjectStore(o.storage) ? o.storage : createObjectStore(o.storage);
  const client = createJobClient({ connection: o.connection, prefix: o.prefix, models: createModelCatalog(o.modelsDir), onError: o.onError });
  const backlog = new BacklogMonitor(client, o.queues, o.backlogPollMs, o.onError);
  const checkpoints = new CheckpointStore(redis, o.prefix, o.checkpointTtlSec);
  const modelCache = new Map<string, ModelPackage>();
  const models = (name: string): ModelPackage => {
    let m = modelCache.get(name);
    if (!m) {
      m = o.modelsDir === undefined ? findModelPackage(name) : findModelPackage(name, o.modelsDir);
      modelCache.set(name, m);
    }
    return m;
  };
  const groups = layout.map((g, i) => new ReplicaGroup(`g${i}`, g, { hostId: o.hostId, options: o, store, checkpoints, backlog, models }));
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
  });
  const heartbeat = new Heartbeat(redis, o.prefix, status, o.heartbeatIntervalMs, o.heartbeatTtlMs, o.onError);

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      const steps: Array<[string, () => Promise<unknown>]> = [
        ['supervisor', () => supervisor.stop()],
        ['groups', () => withDeadline(Promise.all(groups.map((g) => g.close())), o.closeDeadlineMs)],
        // Past the deadline, stop the stage processes even if a worker still hangs.
        ['engines', () => Promise.all(groups.map((g) => g.engines.close()))],
        ['heartbeat', () => heartbeat.stop(o.hostId)],
        ['job client', () => client.close()],
        ['redis', () => closeRedis(redis)],
        ['store', () => (ownStore ? store.close() : Promise.resolve())],
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

  try {
    await Promise.all(groups.map((g) => g.start()));
    await heartbeat.start();
    supervisor.start();
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
    checkHealth: () => supervisor.sweep(),
    close,
  };
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
