import { closeRedis, createRedis, type JobSpec } from '@asyncdiff/queue';
import { deletePrefix, TEST_REDIS_URL, testPrefix } from '@asyncdiff/queue/test-fixtures';
import { afterAll, describe, expect, it } from 'vitest';

import { CheckpointStore } from './checkpoint-store.js';

const redis = createRedis(TEST_REDIS_URL, 'command');
const prefix = testPrefix('ckpt');
const spec: JobSpec = {
  type: 'image',
  model: 'digits',
  prompt: '3',
  classId: 3,
  seed: 42,
  steps: 20,
  guidance: 2,
  scheduler: 'dpmpp-2m',
  count: 2,
  output: { format: 'png', scale: 8 },
  parallel: { mode: 'auto', timeShift: false },
  priority: 50,
};
const checkpoint = {
  step: 7,
  latent: Float32Array.from({ length: 8 }, (_, i) => i / 3 - 1),
  scheduler: { version: 1 as const, kind: 'dpmpp-2m' as const, steps: 20, nextStepIndex: 7, previousModelOutput: [0.25, -0.5] },
};

afterAll(async () => {
  await deletePrefix(prefix);
  await closeRedis(redis);
});

describe('CheckpointStore (real Redis)', () => {
  it('round-trips latent bytes and scheduler state, with a TTL, and forgets on delete', async () => {
    const store = new CheckpointStore(redis, prefix, 60);
    await store.save('job_a', spec, checkpoint, 'host-a');
    const back = await store.load('job_a', spec, 8);
    expect(back?.host).toBe('host-a');
    expect(back?.checkpoint.step).toBe(7);
    expect(Array.from(back!.checkpoint.latent)).toEqual(Array.from(checkpoint.latent));
    expect(back?.checkpoint.scheduler).toEqual(checkpoint.scheduler);
    const ttl = await redis.ttl(`${prefix}:ckpt:job_a`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60);
    await store.delete('job_a');
    expect(await store.load('job_a', spec, 8)).toBeUndefined();
  });

  it('ignores a checkpoint that is not for this exact generation, or is corrupt', async () => {
    const store = new CheckpointStore(redis, prefix, 60);
    await store.save('job_b', spec, checkpoint, 'h');
    expect(await store.load('job_b', { ...spec, seed: 43 }, 8)).toBeUndefined();
    expect(await store.load('job_b', { ...spec, steps: 30 }, 8)).toBeUndefined();
    expect(await store.load('job_b', spec, 16)).toBeUndefined();
    const nan = { ...checkpoint, latent: Float32Array.from([0, Number.NaN, 0, 0, 0, 0, 0, 0]) };
    await store.save('job_c', spec, nan, 'h');
    expect(await store.load('job_c', spec, 8)).toBeUndefined();
    await redis.hset(`${prefix}:ckpt:job_d`, 'meta', '{not json', 'latent', Buffer.alloc(32));
    expect(await store.load('job_d', spec, 8)).toBeUndefined();
  });

  it('fences writes by runId: only the run that owns the job record saves or deletes its checkpoint', async () => {
    const store = new CheckpointStore(redis, prefix, 60);
    const record = `${prefix}:job:job_e`;
    await redis.hset(record, 'status', 'running', 'runId', 'run-1');
    expect(await store.save('job_e', spec, checkpoint, 'host-a', 'run-1')).toBe(true);
    // Another run took the job over: the old run can neither overwrite nor drop the checkpoint.
    await redis.hset(record, 'runId', 'run-2');
    expect(await store.save('job_e', spec, { ...checkpoint, step: 9, scheduler: { ...checkpoint.scheduler, nextStepIndex: 9 } }, 'host-a', 'run-1')).toBe(false);
    await store.delete('job_e', 'run-1');
    expect((await store.load('job_e', spec, 8))?.checkpoint.step).toBe(7);
    expect(await store.save('job_e', spec, { ...checkpoint, step: 9, scheduler: { ...checkpoint.scheduler, nextStepIndex: 9 } }, 'host-b', 'run-2')).toBe(true);
    expect(await store.load('job_e', spec, 8)).toMatchObject({ host: 'host-b', checkpoint: { step: 9 } });
    await store.delete('job_e', 'run-2');
    expect(await store.load('job_e', spec, 8)).toBeUndefined();
    // No record at all (it expired): a fenced write has no owner to check against, so it is refused.
    expect(await store.save('job_f', spec, checkpoint, 'h', 'run-1')).toBe(false);
  });
});
