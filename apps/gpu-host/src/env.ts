import { QUALITY_BUDGETS, redisTargetFromEnv, type RedisTarget } from '@asyncdiff/queue';
import { resolveStorageOptions } from '@asyncdiff/storage';
import { z } from 'zod';

import { GpuHostConfigError } from './errors.js';
import type { GpuHostOptions } from './options.js';
import { LOG_LEVELS, type LogLevel } from './telemetry/logger.js';

const intVar = z.string().trim().regex(/^\d+$/, 'must be a non-negative integer').transform(Number);
const ratioVar = z.string().trim().regex(/^\d+(\.\d+)?$/, 'must be a non-negative number').transform(Number);
const envSchema = z.object({
  QUEUE_PREFIX: z.string().trim().min(1).optional(),
  GPU_HOST_ID: z.string().trim().min(1).max(200).optional(),
  GPU_HOST_DEVICES: z.enum(['auto', 'cpu']).optional(),
  GPU_HOST_CORES: intVar.optional(),
  GPU_HOST_CORES_PER_DEVICE: intVar.optional(),
  GPU_HOST_GROUP_SIZE: intVar.optional(),
  GPU_HOST_STAGES: intVar.optional(),
  GPU_HOST_STRIDE: z.enum(['1', '2']).transform(Number).optional(),
  GPU_HOST_WARMUP: intVar.optional(),
  GPU_HOST_QUALITY: z.enum(QUALITY_BUDGETS).optional(),
  GPU_HOST_QUEUES: z
    .string()
    .transform((s) => s.split(',').map((q) => q.trim()).filter(Boolean))
    .pipe(z.array(z.enum(['image', 'video'])).min(1))
    .optional(),
  GPU_HOST_AUTO_ASYNC_MAX_WAITING: intVar.optional(),
  GPU_HOST_HEARTBEAT_MS: intVar.optional(),
  GPU_HOST_COORDINATOR_WAIT: z.enum(['async', 'hybrid']).optional(),
  GPU_HOST_BATCHING: z.enum(['continuous', 'off']).optional(),
  GPU_HOST_MAX_STEP_MS: intVar.optional(),
  GPU_HOST_MAX_BATCH_ROWS: intVar.optional(),
  GPU_HOST_MIN_BATCH_GAIN: ratioVar.optional(),
  GPU_HOST_PROGRESS_INTERVAL_MS: intVar.optional(),
  GPU_HOST_HEALTH_INTERVAL_MS: intVar.optional(),
  GPU_HOST_CHECKPOINT_INTERVAL_MS: intVar.optional(),
  GPU_HOST_DRAIN_GRACE_MS: intVar.optional(),
  GPU_HOST_CLOSE_DEADLINE_MS: intVar.optional(),
  GPU_HOST_LOCK_DURATION_MS: intVar.optional(),
  GPU_HOST_STALLED_INTERVAL_MS: intVar.optional(),
  GPU_HOST_STAGE_STEP_TIMEOUT_MS: intVar.optional(),
  GPU_HOST_SHM_SWEEP_INTERVAL_MS: intVar.optional(),
  GPU_HOST_METRICS_PORT: z.union([z.literal('off'), intVar.pipe(z.number().max(65535))]).optional(),
  GPU_HOST_METRICS_HOST: z.string().trim().min(1).optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS).optional(),
  NVIDIA_SMI: z.string().trim().min(1).optional(),
  ASYNCDIFF_MODELS_DIR: z.string().trim().min(1).optional(),
  ASYNCDIFF_SPLIT_CACHE_DIR: z.string().trim().min(1).optional(),
});

/**
 * `startGpuHost` options from the environment, parsed once at the process edge: Redis (REDIS_URL,
 * or REDIS_CLUSTER_NODES / REDIS_SENTINELS…: see `redisTargetFromEnv`),
 * QUEUE_PREFIX, storage (S3_BUCKET… else STORAGE_DIR, see `resolveStorageOptions`), GPU_HOST_ID,
 * GPU_HOST_DEVICES (auto|cpu), GPU_HOST_CORES, GPU_HOST_CORES_PER_DEVICE, GPU_HOST_GROUP_SIZE,
 * GPU_HOST_STAGES / _STRIDE / _WARMUP (default AsyncDiff config),
 * GPU_HOST_QUALITY (exact|balanced|fastest: the quality budget of auto jobs that name none), GPU_HOST_QUEUES (image,video),
 * GPU_HOST_AUTO_ASYNC_MAX_WAITING, GPU_HOST_HEARTBEAT_MS, GPU_HOST_COORDINATOR_WAIT, GPU_HOST_BATCHING (continuous|off),
 * GPU_HOST_MAX_STEP_MS, GPU_HOST_MAX_BATCH_ROWS, GPU_HOST_MIN_BATCH_GAIN (continuous batching's admission control), GPU_HOST_PROGRESS_INTERVAL_MS, GPU_HOST_HEALTH_INTERVAL_MS,
 * GPU_HOST_CHECKPOINT_INTERVAL_MS, GPU_HOST_DRAIN_GRACE_MS, GPU_HOST_CLOSE_DEADLINE_MS,
 * GPU_HOST_LOCK_DURATION_MS, GPU_HOST_STALLED_INTERVAL_MS, GPU_HOST_STAGE_STEP_TIMEOUT_MS,
 * GPU_HOST_SHM_SWEEP_INTERVAL_MS, GPU_HOST_METRICS_PORT (`off`, or a port; unset: no port here,
 * `main.ts` then opens 9464) and GPU_HOST_METRICS_HOST, NVIDIA_SMI, ASYNCDIFF_MODELS_DIR,
 * ASYNCDIFF_SPLIT_CACHE_DIR, and LOG_LEVEL (returned as `logLevel`, for the caller's logger).
 * A bad value throws naming it.
 */
export function gpuHostOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): GpuHostOptions & { logLevel?: LogLevel } {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GpuHostConfigError('INVALID_ENV', issue?.path.join('.') || 'env', issue?.message ?? 'invalid');
  }
  const e = parsed.data;
  let redis: RedisTarget | undefined;
  try {
    redis = redisTargetFromEnv(env);
  } catch (err) {
    const field = (err as { field?: string }).field ?? 'REDIS_URL';
    throw new GpuHostConfigError('INVALID_ENV', field, err instanceof Error ? err.message.replace(`${field}: `, '') : String(err));
  }
  const parallel = {
    ...(e.GPU_HOST_STAGES !== undefined && { stages: e.GPU_HOST_STAGES }),
    ...(e.GPU_HOST_STRIDE !== undefined && { stride: e.GPU_HOST_STRIDE as 1 | 2 }),
    ...(e.GPU_HOST_WARMUP !== undefined && { warmup: e.GPU_HOST_WARMUP }),
  };
  return {
    ...(redis !== undefined && { connection: redis }),
    storage: resolveStorageOptions(env),
    ...(e.QUEUE_PREFIX !== undefined && { prefix: e.QUEUE_PREFIX }),
    ...(e.GPU_HOST_ID !== undefined && { hostId: e.GPU_HOST_ID }),
    ...(e.GPU_HOST_DEVICES !== undefined && { devices: e.GPU_HOST_DEVICES }),
    ...(e.GPU_HOST_CORES !== undefined && { cores: e.GPU_HOST_CORES }),
    ...(e.GPU_HOST_CORES_PER_DEVICE !== undefined && { coresPerDevice: e.GPU_HOST_CORES_PER_DEVICE }),
    ...(e.GPU_HOST_GROUP_SIZE !== undefined && { groupSize: e.GPU_HOST_GROUP_SIZE }),
    ...(Object.keys(parallel).length > 0 && { defaultParallel: parallel }),
    ...(e.GPU_HOST_QUALITY !== undefined && { defaultQuality: e.GPU_HOST_QUALITY }),
    ...(e.GPU_HOST_QUEUES !== undefined && { queues: e.GPU_HOST_QUEUES }),
    ...(e.GPU_HOST_AUTO_ASYNC_MAX_WAITING !== undefined && { autoAsyncMaxWaiting: e.GPU_HOST_AUTO_ASYNC_MAX_WAITING }),
    ...(e.GPU_HOST_HEARTBEAT_MS !== undefined && { heartbeatIntervalMs: e.GPU_HOST_HEARTBEAT_MS }),
    ...(e.GPU_HOST_COORDINATOR_WAIT !== undefined && { coordinatorWait: e.GPU_HOST_COORDINATOR_WAIT }),
    ...(e.GPU_HOST_BATCHING !== undefined && { batching: e.GPU_HOST_BATCHING }),
    ...(e.GPU_HOST_MAX_STEP_MS !== undefined && { maxStepMs: e.GPU_HOST_MAX_STEP_MS }),
    ...(e.GPU_HOST_MAX_BATCH_ROWS !== undefined && { maxBatchRows: e.GPU_HOST_MAX_BATCH_ROWS }),
    ...(e.GPU_HOST_MIN_BATCH_GAIN !== undefined && { minBatchGain: e.GPU_HOST_MIN_BATCH_GAIN }),
    ...(e.GPU_HOST_PROGRESS_INTERVAL_MS !== undefined && { progressIntervalMs: e.GPU_HOST_PROGRESS_INTERVAL_MS }),
    ...(e.GPU_HOST_HEALTH_INTERVAL_MS !== undefined && { healthIntervalMs: e.GPU_HOST_HEALTH_INTERVAL_MS }),
    ...(e.GPU_HOST_CHECKPOINT_INTERVAL_MS !== undefined && { checkpointIntervalMs: e.GPU_HOST_CHECKPOINT_INTERVAL_MS }),
    ...(e.GPU_HOST_DRAIN_GRACE_MS !== undefined && { drainGraceMs: e.GPU_HOST_DRAIN_GRACE_MS }),
    ...(e.GPU_HOST_CLOSE_DEADLINE_MS !== undefined && { closeDeadlineMs: e.GPU_HOST_CLOSE_DEADLINE_MS }),
    ...(e.GPU_HOST_LOCK_DURATION_MS !== undefined && { lockDurationMs: e.GPU_HOST_LOCK_DURATION_MS }),
    ...(e.GPU_HOST_STALLED_INTERVAL_MS !== undefined && { stalledIntervalMs: e.GPU_HOST_STALLED_INTERVAL_MS }),
    ...(e.GPU_HOST_STAGE_STEP_TIMEOUT_MS !== undefined && { stageStepTimeoutMs: e.GPU_HOST_STAGE_STEP_TIMEOUT_MS }),
    ...(e.GPU_HOST_SHM_SWEEP_INTERVAL_MS !== undefined && { shmSweepIntervalMs: e.GPU_HOST_SHM_SWEEP_INTERVAL_MS }),
    ...(e.GPU_HOST_METRICS_PORT !== undefined && { metricsPort: e.GPU_HOST_METRICS_PORT === 'off' ? null : e.GPU_HOST_METRICS_PORT }),
    ...(e.GPU_HOST_METRICS_HOST !== undefined && { metricsHost: e.GPU_HOST_METRICS_HOST }),
    ...(e.LOG_LEVEL !== undefined && { logLevel: e.LOG_LEVEL }),
    ...(e.NVIDIA_SMI !== undefined && { nvidiaSmiPath: e.NVIDIA_SMI }),
    ...(e.ASYNCDIFF_MODELS_DIR !== undefined && { modelsDir: e.ASYNCDIFF_MODELS_DIR }),
    ...(e.ASYNCDIFF_SPLIT_CACHE_DIR !== undefined && { splitCacheDir: e.ASYNCDIFF_SPLIT_CACHE_DIR }),
  };
}
