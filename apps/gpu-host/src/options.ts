import { hostname } from 'node:os';

import { DEFAULT_PREFIX, DEFAULT_REDIS_URL, resolveRedisTarget, type JobKind, type RedisConnection, type RedisTarget } from '@asyncdiff/queue';
import { DEFAULT_PARALLEL, DEFAULT_QUALITY, QUALITY_BUDGETS, devicesNeeded, resolveParallel, type ParallelOptions, type QualityBudget, type ResolvedParallel } from '@asyncdiff/engine';
import type { DeviceSpec } from '@asyncdiff/stages';
import type { ObjectStore, ResolvedStorageOptions } from '@asyncdiff/storage';

import { GpuHostConfigError } from './errors.js';
import { callbackLogger, type HostLogger } from './telemetry/logger.js';

/** Options of `startGpuHost`. Everything is optional; see `resolveGpuHostOptions` for defaults. */
export interface GpuHostOptions {
  /** Where Redis is: a URL or target (`RedisConnection`: one server, Cluster, Sentinel). @defaultValue `redis://127.0.0.1:6379` (read the environment at the edge) */
  connection?: RedisConnection;
  /** Queue/key prefix shared with the API. @defaultValue `{asyncdiff}` */
  prefix?: string;
  /** Runs per job before it fails for good, and the first retry delay (must match the API's). */
  attempts?: number;
  /** @defaultValue 2000 */
  backoffDelayMs?: number;
  /** Where outputs go: a store, or storage options for one the host creates and closes. @defaultValue local `var/outputs` */
  storage?: ObjectStore | ResolvedStorageOptions;
  /** Shown in job records and the heartbeat. @defaultValue `<hostname>/<pid>` */
  hostId?: string;
  /** `auto`: GPUs if nvidia-smi lists any, else CPU core groups; `cpu`: CPU groups; or explicit devices. @defaultValue 'auto' */
  devices?: 'auto' | 'cpu' | readonly DeviceSpec[];
  /** Cores per CPU "device". @defaultValue 1 */
  coresPerDevice?: number;
  /** Cores to split into CPU devices. @defaultValue this machine's available parallelism */
  cores?: number;
  /** @defaultValue 'nvidia-smi' */
  nvidiaSmiPath?: string;
  /** AsyncDiff configuration for `auto`/`async` jobs that do not name one. @defaultValue N=2, stride 1, W=3 */
  defaultParallel?: ParallelOptions;
  /**
   * Quality budget of `auto` jobs that do not name one (`parallel.quality`): `exact` never picks a
   * stale-feature mode, so those jobs' bytes never depend on load, host or device count.
   * @defaultValue 'exact'
   */
  defaultQuality?: QualityBudget;
  /** Devices per replica group. @defaultValue devicesNeeded(defaultParallel) = N + stride − 1 */
  groupSize?: number;
  /** Queues this host serves. @defaultValue ['image', 'video'] */
  queues?: readonly JobKind[];
  /** Model packages folder. @defaultValue the shipped `models/` (or ASYNCDIFF_MODELS_DIR) */
  modelsDir?: string;
  /** Where stage splits are cached (one subfolder per model); lets the models folder be read-only. @defaultValue `<model dir>/splits` */
  splitCacheDir?: string;
  /**
   * Engines (stage-process sets) cached per group; least recently used idle ones are closed.
   * @defaultValue 2 × (groupSize + 1): for two models, one AsyncDiff engine and one sequential
   * engine per device each, so mixed image/video traffic does not thrash.
   */
  maxEnginesPerGroup?: number;
  /**
   * `auto` mode runs AsyncDiff on the whole group only while fewer than this many jobs wait
   * (BullMQ backlog + jobs of this group waiting for devices) and the group is idle; otherwise
   * it runs the job sequentially on one device (data parallelism). @defaultValue 1 (see README)
   */
  autoAsyncMaxWaiting?: number;
  /** An `auto` job reaching an idle group waits this long for the rest of its burst before the decision. @defaultValue 10 */
  autoSettleMs?: number;
  /** How often the BullMQ backlog is sampled for `auto` decisions. @defaultValue 500 */
  backlogPollMs?: number;
  /** BullMQ lock lifetime. @defaultValue 30000 */
  lockDurationMs?: number;
  /**
   * How often this host looks for jobs whose host died (lock expired). BullMQ runs one check per
   * interval fleet-wide (whoever checked last blocks the others for its interval), so keep it the
   * same on every host. @defaultValue 30000
   */
  stalledIntervalMs?: number;
  /** Heartbeat period; the heartbeat expires after 3 of them. @defaultValue 2000 */
  heartbeatIntervalMs?: number;
  /**
   * How a coordinator waits for its stages (the engine's `wait`): `async` never blocks the event
   * loop and pays a helper-thread hop per wait; `hybrid` blocks on the futex for at most 5 ms per
   * wait and gives the loop a turn every 20 ms while it is the host's only generation — a faster
   * lone AsyncDiff job, at the price of the API's latency when `serve` shares the process
   * (trade-off measured in bench/RESULTS.md, "Coordinator wait"). @defaultValue 'async'
   */
  coordinatorWait?: 'async' | 'hybrid';
  /**
   * `continuous`: jobs that run on one device (sequential, or `auto` under load) share a running
   * batch per (model, resolution, guidance) on that device, joining and leaving at step
   * boundaries with the same bytes as alone; `off`: one job per device (data parallelism).
   * @defaultValue 'continuous'
   */
  batching?: 'continuous' | 'off';
  /**
   * Admission control: the largest batch admitted is the largest whose step time, measured when a
   * device's batch first opens, stays within this many ms. @defaultValue twice a lone job's step time
   */
  maxStepMs?: number;
  /** Upper bound on a batch's model rows (2 per image with guidance), whatever the budget allows. @defaultValue 32 */
  maxBatchRows?: number;
  /**
   * Admission control: a model is batched on a device only when the largest batch within the
   * step-time budget does this many times a lone job's work per ms (measured with the budget);
   * otherwise that device runs its jobs one at a time. 1 batches whenever two jobs fit. @defaultValue 1.2
   */
  minBatchGain?: number;
  /**
   * At most one progress write (job record + event) per job this often, ms: the newest step of
   * an interval is written when it ends, a new phase and the last step at once. 0 writes every
   * step. A fleet of busy batching hosts sets it to spare its shared Redis. @defaultValue 0
   */
  progressIntervalMs?: number;
  /** Idle-stage health-check period (0 disables). @defaultValue 30000 */
  healthIntervalMs?: number;
  /** A health check slower than this counts as a dead stage. @defaultValue 10000 */
  healthTimeoutMs?: number;
  /** Stage crashes survived inside one job. @defaultValue 3 */
  maxStageRestartsPerJob?: number;
  /**
   * A stage run (one step on one device) slower than this counts as a stuck stage: it is killed
   * and replaced like a crashed one, and the job resumes (see the engine's `stageStepTimeoutMs`).
   * 0 disables. @defaultValue 60000
   */
  stageStepTimeoutMs?: number;
  /**
   * How often the host removes shared-memory segments of processes that are gone (a `kill -9`
   * of an earlier host or `serve`, an OOM-killed stage); it also sweeps once at start-up. 0: only
   * at start-up. @defaultValue 60000
   */
  shmSweepIntervalMs?: number;
  /** First restart delay, doubled per consecutive failure. @defaultValue 100 */
  restartBackoffMs?: number;
  /** Ceiling of the restart delay. @defaultValue 10000 */
  maxRestartBackoffMs?: number;
  /** A running job's checkpoint is also saved this often (0: only on drain/failure). @defaultValue 5000 */
  checkpointIntervalMs?: number;
  /** Lifetime of a saved checkpoint. @defaultValue 86400 */
  checkpointTtlSec?: number;
  /** On close, running jobs may finish this long before they are checkpointed and handed back. @defaultValue 0 */
  drainGraceMs?: number;
  /** `close()` gives up waiting (and kills stages) after this. @defaultValue 30000 */
  closeDeadlineMs?: number;
  /** Background failures (Redis hiccups, failed heartbeats). @defaultValue ignore */
  onError?: (err: unknown) => void;
  /** One-line operational messages (device discovery, restarts), when no `logger` is given. @defaultValue ignore */
  log?: (message: string) => void;
  /**
   * Structured log (a pino logger fits): host-wide lines carry `host`, a group's `group`, a job's
   * `jobId` and `step`. @defaultValue `log` and `onError`, with the fields written after the message
   */
  logger?: HostLogger;
  /**
   * Port of the host's `/metrics`, `/healthz` and `/readyz` (0: any free port; null: none).
   * @defaultValue null here, so embedders (the CLI's `serve`, tests running several hosts in one
   * process) open none; the standalone host (`main.ts`) defaults to 9464
   */
  metricsPort?: number | null;
  /** Address of that port. @defaultValue `127.0.0.1` (Kubernetes probes need `0.0.0.0`) */
  metricsHost?: string;
  /** `/healthz` fails while the event loop stalled longer than this in the last 10 s. @defaultValue 5000 */
  maxLoopStallMs?: number;
}

/** `GpuHostOptions` with every default applied (the store is created in `startGpuHost`). */
export interface ResolvedGpuHostOptions {
  readonly connection: RedisTarget;
  readonly prefix: string;
  readonly attempts: number | undefined;
  readonly backoffDelayMs: number | undefined;
  readonly storage: ObjectStore | ResolvedStorageOptions | undefined;
  readonly hostId: string;
  readonly devices: 'auto' | 'cpu' | readonly DeviceSpec[];
  readonly coresPerDevice: number;
  readonly cores: number | undefined;
  readonly nvidiaSmiPath: string;
  readonly defaultParallel: ResolvedParallel;
  readonly defaultQuality: QualityBudget;
  readonly groupSize: number;
  readonly queues: readonly JobKind[];
  readonly modelsDir: string | undefined;
  readonly splitCacheDir: string | undefined;
  readonly maxEnginesPerGroup: number;
  readonly autoAsyncMaxWaiting: number;
  readonly autoSettleMs: number;
  readonly backlogPollMs: number;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTtlMs: number;
  readonly coordinatorWait: 'async' | 'hybrid';
  readonly batching: 'continuous' | 'off';
  readonly maxStepMs: number | undefined;
  readonly maxBatchRows: number;
  readonly minBatchGain: number;
  readonly progressIntervalMs: number;
  readonly healthIntervalMs: number;
  readonly healthTimeoutMs: number;
  readonly maxStageRestartsPerJob: number;
  readonly stageStepTimeoutMs: number;
  readonly shmSweepIntervalMs: number;
  readonly restartBackoffMs: number;
  readonly maxRestartBackoffMs: number;
  readonly checkpointIntervalMs: number;
  readonly checkpointTtlSec: number;
  readonly drainGraceMs: number;
  readonly closeDeadlineMs: number;
  readonly onError: (err: unknown) => void;
  readonly log: (message: string) => void;
  readonly logger: HostLogger;
  readonly metricsPort: number | null;
  readonly metricsHost: string;
  readonly maxLoopStallMs: number;
}

function int(field: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new GpuHostConfigError('INVALID_OPTIONS', field, `must be an integer in ${min}…${max}, got ${String(value)}`);
  return value;
}

function ratio(field: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < min || value > max) throw new GpuHostConfigError('INVALID_OPTIONS', field, `must be a number in ${min}…${max}, got ${String(value)}`);
  return value;
}

function qualityBudget(value: string | undefined): QualityBudget {
  if (value === undefined) return DEFAULT_QUALITY;
  const known = QUALITY_BUDGETS.find((b) => b === value);
  if (!known) throw new GpuHostConfigError('INVALID_OPTIONS', 'defaultQuality', `must be one of ${QUALITY_BUDGETS.join(', ')}, got ${value}`);
  return known;
}

function batching(value: string | undefined): 'continuous' | 'off' {
  if (value === undefined) return 'continuous';
  if (value !== 'continuous' && value !== 'off') throw new GpuHostConfigError('INVALID_OPTIONS', 'batching', `must be continuous or off, got ${value}`);
  return value;
}

function coordinatorWait(value: string | undefined): 'async' | 'hybrid' {
  if (value === undefined) return 'async';
  if (value !== 'async' && value !== 'hybrid') throw new GpuHostConfigError('INVALID_OPTIONS', 'coordinatorWait', `must be async or hybrid, got ${value}`);
  return value;
}

function redisTarget(connection: RedisConnection | undefined): RedisTarget {
  try {
    return resolveRedisTarget(connection ?? DEFAULT_REDIS_URL);
  } catch (err) {
    throw new GpuHostConfigError('INVALID_OPTIONS', 'connection', err instanceof Error ? err.message.replace(/^connection: /, '') : String(err));
  }
}

/** Applies defaults and checks ranges; a bad value throws `GpuHostConfigError` naming it. */
export function resolveGpuHostOptions(options: GpuHostOptions = {}): ResolvedGpuHostOptions {
  const defaultParallel = resolveParallel({ ...DEFAULT_PARALLEL, ...options.defaultParallel });
  const groupSize = int('groupSize', options.groupSize, devicesNeeded(defaultParallel), 1, 64);
  const queues = options.queues ?? ['image', 'video'];
  if (queues.length === 0 || queues.some((q) => q !== 'image' && q !== 'video')) throw new GpuHostConfigError('INVALID_OPTIONS', 'queues', 'must list image and/or video');
  const devices = options.devices ?? 'auto';
  if (Array.isArray(devices) && devices.length === 0) throw new GpuHostConfigError('INVALID_OPTIONS', 'devices', 'must not be empty');
  const heartbeatIntervalMs = int('heartbeatIntervalMs', options.heartbeatIntervalMs, 2000, 50);
  const hostId = options.hostId ?? `${hostname()}/${process.pid}`;
  const onError = options.onError ?? (() => undefined);
  const log = options.log ?? (() => undefined);
  const metricsHost = options.metricsHost ?? '127.0.0.1';
  if (metricsHost.trim() === '') throw new GpuHostConfigError('INVALID_OPTIONS', 'metricsHost', 'must not be empty');
  return {
    connection: redisTarget(options.connection),
    prefix: options.prefix ?? DEFAULT_PREFIX,
    attempts: options.attempts,
    backoffDelayMs: options.backoffDelayMs,
    storage: options.storage,
    hostId,
    devices,
    coresPerDevice: int('coresPerDevice', options.coresPerDevice, 1, 1, 1024),
    cores: options.cores === undefined ? undefined : int('cores', options.cores, 1, 1, 4096),
    nvidiaSmiPath: options.nvidiaSmiPath ?? 'nvidia-smi',
    defaultParallel,
    defaultQuality: qualityBudget(options.defaultQuality),
    groupSize,
    queues: [...new Set(queues)],
    modelsDir: options.modelsDir,
    splitCacheDir: options.splitCacheDir,
    maxEnginesPerGroup: int('maxEnginesPerGroup', options.maxEnginesPerGroup, 2 * (groupSize + 1), 1, 64),
    autoAsyncMaxWaiting: int('autoAsyncMaxWaiting', options.autoAsyncMaxWaiting, 1, 0, 1_000_000),
    autoSettleMs: int('autoSettleMs', options.autoSettleMs, 10, 0, 10_000),
    backlogPollMs: int('backlogPollMs', options.backlogPollMs, 500, 10),
    lockDurationMs: int('lockDurationMs', options.lockDurationMs, 30_000, 1000),
    stalledIntervalMs: int('stalledIntervalMs', options.stalledIntervalMs, 30_000, 1000),
    heartbeatIntervalMs,
    heartbeatTtlMs: 3 * heartbeatIntervalMs,
    coordinatorWait: coordinatorWait(options.coordinatorWait),
    batching: batching(options.batching),
    maxStepMs: options.maxStepMs === undefined ? undefined : int('maxStepMs', options.maxStepMs, 1, 1),
    maxBatchRows: int('maxBatchRows', options.maxBatchRows, 32, 1, 1024),
    minBatchGain: ratio('minBatchGain', options.minBatchGain, 1.2, 1, 100),
    progressIntervalMs: int('progressIntervalMs', options.progressIntervalMs, 0, 0, 60_000),
    healthIntervalMs: int('healthIntervalMs', options.healthIntervalMs, 30_000, 0),
    healthTimeoutMs: int('healthTimeoutMs', options.healthTimeoutMs, 10_000, 1),
    maxStageRestartsPerJob: int('maxStageRestartsPerJob', options.maxStageRestartsPerJob, 3, 0, 100),
    stageStepTimeoutMs: int('stageStepTimeoutMs', options.stageStepTimeoutMs, 60_000, 0),
    shmSweepIntervalMs: int('shmSweepIntervalMs', options.shmSweepIntervalMs, 60_000, 0),
    restartBackoffMs: int('restartBackoffMs', options.restartBackoffMs, 100, 0),
    maxRestartBackoffMs: int('maxRestartBackoffMs', options.maxRestartBackoffMs, 10_000, 0),
    checkpointIntervalMs: int('checkpointIntervalMs', options.checkpointIntervalMs, 5000, 0),
    checkpointTtlSec: int('checkpointTtlSec', options.checkpointTtlSec, 86_400, 1),
    drainGraceMs: int('drainGraceMs', options.drainGraceMs, 0, 0),
    closeDeadlineMs: int('closeDeadlineMs', options.closeDeadlineMs, 30_000, 100),
    onError,
    log,
    logger: options.logger ?? callbackLogger(log, onError),
    metricsPort: options.metricsPort === undefined || options.metricsPort === null ? null : int('metricsPort', options.metricsPort, 0, 0, 65535),
    metricsHost,
    maxLoopStallMs: int('maxLoopStallMs', options.maxLoopStallMs, 5000, 100),
  };
}
