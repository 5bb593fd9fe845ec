import { describe, expect, it } from 'vitest';

import { gpuHostOptionsFromEnv } from './env.js';
import { GpuHostConfigError } from './errors.js';
import { resolveGpuHostOptions } from './options.js';

describe('gpu-host options', () => {
  it('reads the environment once, at the edge', () => {
    const o = gpuHostOptionsFromEnv({ REDIS_URL: 'redis://r:1', QUEUE_PREFIX: '{x}', GPU_HOST_DEVICES: 'cpu', GPU_HOST_STAGES: '3', GPU_HOST_QUEUES: 'video', STORAGE_DIR: '/tmp/out' });
    expect(o).toMatchObject({ connection: { kind: 'standalone', url: 'redis://r:1' }, prefix: '{x}', devices: 'cpu', defaultParallel: { stages: 3 }, queues: ['video'], storage: { kind: 'local', rootDir: '/tmp/out' } });
  });

  it('names the bad variable', () => {
    expect(() => gpuHostOptionsFromEnv({ GPU_HOST_CORES: 'two' })).toThrow(/GPU_HOST_CORES/);
    expect(() => gpuHostOptionsFromEnv({ GPU_HOST_QUEUES: 'audio' })).toThrow(GpuHostConfigError);
    expect(() => gpuHostOptionsFromEnv({ GPU_HOST_COORDINATOR_WAIT: 'sync' })).toThrow(/GPU_HOST_COORDINATOR_WAIT/);
  });

  it('coordinator wait: async unless told hybrid', () => {
    expect(resolveGpuHostOptions().coordinatorWait).toBe('async');
    expect(resolveGpuHostOptions(gpuHostOptionsFromEnv({ GPU_HOST_COORDINATOR_WAIT: 'hybrid' })).coordinatorWait).toBe('hybrid');
    // A sync wait would hold the event loop for whole generations (BullMQ lock renewal stops).
    expect(() => resolveGpuHostOptions({ coordinatorWait: 'sync' as 'async' })).toThrow(/coordinatorWait/);
  });

  it('fills defaults: group size = devices of the default parallel config, heartbeat TTL = 3 beats', () => {
    const r = resolveGpuHostOptions({ defaultParallel: { stages: 2, stride: 2 }, heartbeatIntervalMs: 1000 });
    expect(r.groupSize).toBe(3);
    expect(r.heartbeatTtlMs).toBe(3000);
    expect(r.autoAsyncMaxWaiting).toBe(1);
    expect(() => resolveGpuHostOptions({ coresPerDevice: 0 })).toThrow(/coresPerDevice/);
  });

  it('stuck-stage deadline and shared-memory sweeps: generous defaults, 0 turns them off, from the environment', () => {
    expect(resolveGpuHostOptions()).toMatchObject({ stageStepTimeoutMs: 60_000, shmSweepIntervalMs: 60_000 });
    const o = resolveGpuHostOptions(gpuHostOptionsFromEnv({ GPU_HOST_STAGE_STEP_TIMEOUT_MS: '0', GPU_HOST_SHM_SWEEP_INTERVAL_MS: '5000' }));
    expect(o).toMatchObject({ stageStepTimeoutMs: 0, shmSweepIntervalMs: 5000 });
    expect(() => gpuHostOptionsFromEnv({ GPU_HOST_STAGE_STEP_TIMEOUT_MS: '-1' })).toThrow(/GPU_HOST_STAGE_STEP_TIMEOUT_MS/);
  });

  it('quality budget of auto jobs: exact unless the host says otherwise (GPU_HOST_QUALITY)', () => {
    expect(resolveGpuHostOptions().defaultQuality).toBe('exact');
    expect(resolveGpuHostOptions(gpuHostOptionsFromEnv({ GPU_HOST_QUALITY: 'balanced' })).defaultQuality).toBe('balanced');
    expect(() => gpuHostOptionsFromEnv({ GPU_HOST_QUALITY: 'best' })).toThrow(/GPU_HOST_QUALITY/);
    expect(() => resolveGpuHostOptions({ defaultQuality: 'best' as 'exact' })).toThrow(/defaultQuality/);
  });

  it('batching admission: a minimum gain of 1.2 unless told, decimals from the environment, refused below 1', () => {
    expect(resolveGpuHostOptions()).toMatchObject({ batching: 'continuous', maxStepMs: undefined, maxBatchRows: 32, minBatchGain: 1.2 });
    expect(resolveGpuHostOptions(gpuHostOptionsFromEnv({ GPU_HOST_MIN_BATCH_GAIN: '1.5', GPU_HOST_MAX_STEP_MS: '80' }))).toMatchObject({ minBatchGain: 1.5, maxStepMs: 80 });
    expect(() => gpuHostOptionsFromEnv({ GPU_HOST_MIN_BATCH_GAIN: 'lots' })).toThrow(/GPU_HOST_MIN_BATCH_GAIN/);
    expect(() => resolveGpuHostOptions({ minBatchGain: 0.5 })).toThrow(/minBatchGain/);
  });

  it('progress interval: every step unless told, whole ms up to a minute', () => {
    expect(resolveGpuHostOptions()).toMatchObject({ progressIntervalMs: 0 });
    expect(resolveGpuHostOptions(gpuHostOptionsFromEnv({ GPU_HOST_PROGRESS_INTERVAL_MS: '250' }))).toMatchObject({ progressIntervalMs: 250 });
    expect(() => gpuHostOptionsFromEnv({ GPU_HOST_PROGRESS_INTERVAL_MS: '0.5' })).toThrow(/GPU_HOST_PROGRESS_INTERVAL_MS/);
    expect(() => resolveGpuHostOptions({ progressIntervalMs: 120_000 })).toThrow(/progressIntervalMs/);
  });
});
