import { describe, expect, it } from 'vitest';

import { decodeCursor } from '../domain/cursor.js';
import {
  allowedFrom,
  assertTransition,
  canTransition,
  encodeCursor,
  InvalidArgumentError,
  InvalidTransitionError,
  isJobId,
  jobIdTime,
  newJobId,
  outputKey,
  probeRedis,
  resolveQueueOptions,
  sidecarKey,
  toBullPriority,
} from '../index.js';
import { TEST_REDIS_URL } from '../test-fixtures/redis.js';

describe('lifecycle', () => {
  it('allows exactly the documented transitions', () => {
    expect(allowedFrom('running')).toEqual(['queued', 'running']);
    expect(allowedFrom('queued')).toEqual(['running']);
    expect(allowedFrom('canceled')).toEqual(['queued', 'running']);
    expect(allowedFrom('succeeded')).toEqual(['running']);
    expect(canTransition('succeeded', 'running')).toBe(false);
    expect(() => assertTransition('job_x', 'failed', 'queued')).toThrow(InvalidTransitionError);
  });
});

describe('job ids', () => {
  it('are well-formed, unique and sort by creation time', () => {
    const a = newJobId(1_700_000_000_000);
    const b = newJobId(1_700_000_000_001);
    expect(isJobId(a)).toBe(true);
    expect(a < b).toBe(true);
    expect(jobIdTime(a)).toBe(1_700_000_000_000);
    const burst = Array.from({ length: 1000 }, () => newJobId());
    expect(new Set(burst).size).toBe(1000);
    expect([...burst].sort()).toEqual(burst); // monotonic within a process, even inside one millisecond
    expect(isJobId('job_../../etc')).toBe(false);
  });
});

describe('cursors', () => {
  it('round-trip and are bound to their status filter', () => {
    const id = newJobId();
    expect(decodeCursor(encodeCursor('queued', id), 'queued')).toBe(id);
    expect(() => decodeCursor(encodeCursor('queued', id), undefined)).toThrow(InvalidArgumentError);
    expect(() => decodeCursor('garbage!', undefined)).toThrow(/cursor/);
    expect(() => decodeCursor(Buffer.from('v1|all|x').toString('base64url'), undefined)).toThrow(/cursor/);
  });
});

describe('output keys', () => {
  it('are deterministic per job and index', () => {
    const id = newJobId();
    expect(outputKey(id, 3, 'png')).toBe(`jobs/${id}/0003.png`);
    expect(outputKey(id, 3, 'png')).toBe(outputKey(id, 3, 'png'));
    expect(sidecarKey(id)).toBe(`jobs/${id}/job.json`);
    expect(() => outputKey('../x', 0, 'png')).toThrow(/jobId/);
    expect(() => outputKey(id, -1, 'png')).toThrow(/index/);
    expect(() => outputKey(id, 0, '.png')).toThrow(/ext/);
  });
});

describe('priorities and options', () => {
  it('maps the API scale onto BullMQ (1 = highest)', () => {
    expect(toBullPriority(100)).toBe(1);
    expect(toBullPriority(50)).toBe(51);
    expect(toBullPriority(0)).toBe(101);
  });

  it('resolves defaults and names a bad option', () => {
    const o = resolveQueueOptions();
    expect(o.prefix).toBe('{asyncdiff}');
    expect(o.recordTtlSec).toBe(7 * 24 * 3600);
    expect(o.idempotencyTtlSec).toBe(24 * 3600);
    expect(() => resolveQueueOptions({ attempts: 0 })).toThrow(/attempts/);
    expect(() => resolveQueueOptions({ prefix: 'a b' })).toThrow(/prefix/);
  });
});

describe('probeRedis', () => {
  it('answers true for a live server and false for a closed port, quickly', async () => {
    expect(await probeRedis(TEST_REDIS_URL)).toBe(true);
    const t0 = Date.now();
    expect(await probeRedis('redis://127.0.0.1:1', 500)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
