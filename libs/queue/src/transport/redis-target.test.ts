import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../domain/errors.js';
import { resolveQueueOptions } from './options.js';
import { redisTargetFromEnv } from './redis-env.js';
import { describeRedisTarget, redactRedisUrl, resolveRedisTarget } from './redis-target.js';
import { createRedis } from './redis.js';

/** The error a call throws (fails the test if it does not throw). */
function thrown(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidArgumentError);
    return e as InvalidArgumentError;
  }
  throw new Error('did not throw');
}

describe('resolveRedisTarget', () => {
  it('keeps redis:// and rediss:// URLs as one server', () => {
    expect(resolveRedisTarget('redis://:pw@10.0.0.1:6380/2')).toEqual({ kind: 'standalone', url: 'redis://:pw@10.0.0.1:6380/2' });
    expect(resolveRedisTarget(' rediss://h:1 ')).toEqual({ kind: 'standalone', url: 'rediss://h:1' });
  });

  it('reads redis+cluster:// seed lists, credentials, IPv6 and default ports; rediss+ means TLS', () => {
    expect(resolveRedisTarget('redis+cluster://a:7000,b,[::1]:7002')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 6379 },
        { host: '::1', port: 7002 },
      ],
      tls: false,
    });
    expect(resolveRedisTarget('rediss+cluster://app:p%40ss@c1:7000/')).toEqual({ kind: 'cluster', nodes: [{ host: 'c1', port: 7000 }], username: 'app', password: 'p@ss', tls: true });
    expect(resolveRedisTarget('redis+cluster://:only-pass@c1:1')).toMatchObject({ password: 'only-pass' });
  });

  it('reads redis+sentinel:// with the master name, db and Sentinel password', () => {
    expect(resolveRedisTarget('redis+sentinel://:pw@s1,s2:26380/mymaster/3?sentinelPassword=sp')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      name: 'mymaster',
      password: 'pw',
      sentinelPassword: 'sp',
      db: 3,
      tls: false,
    });
    expect(resolveRedisTarget('rediss+sentinel://s1/m')).toMatchObject({ name: 'm', db: 0, tls: true });
  });

  it('names the field on every mistake', () => {
    for (const [url, message] of [
      ['http://h:1', /must be a redis:\/\//],
      ['redis+cluster://h:99999', /"h:99999" is not host:port/],
      ['redis+cluster://h:1/0', /no database number/],
      ['redis+sentinel://s1:26379', /ends in \/<master name>/],
      ['redis+sentinel://s1/m/x', /ends in \/<master name>/],
      ['redis+cluster://,', /at least one host:port/],
      ['redis://', /not a valid redis:\/\/ URL/],
    ] as const) {
      const e = thrown(() => resolveRedisTarget(url, 'queue.connection'));
      expect(e.field, url).toBe('queue.connection');
      expect(e.code).toBe('INVALID_OPTIONS');
      expect(e.message, url).toMatch(message);
    }
    expect(thrown(() => resolveRedisTarget({ kind: 'cluster', nodes: [], tls: false })).field).toBe('connection.nodes');
    expect(thrown(() => resolveRedisTarget({ kind: 'sentinel', sentinels: [{ host: 'h', port: 1 }], name: '', db: 0, tls: false })).field).toBe('connection.name');
  });

  it('describes a target for logs without its passwords', () => {
    const secret = 'hunter2-hunter2';
    for (const url of [`redis://:${secret}@h:1/0`, `redis+cluster://u:${secret}@a:1,[::1]:2`, `redis+sentinel://:${secret}@s:3/m/1?sentinelPassword=${secret}`]) {
      expect(describeRedisTarget(resolveRedisTarget(url))).not.toContain(secret);
    }
    expect(describeRedisTarget(resolveRedisTarget('redis+cluster://a:1,[::1]:2'))).toBe('redis+cluster://a:1,[::1]:2');
    expect(describeRedisTarget(resolveRedisTarget('rediss+sentinel://s:3/m/1'))).toBe('rediss+sentinel://s:3/m/1');
    expect(redactRedisUrl('redis://user:s3cret@h:1')).toBe('redis://user:***@h:1');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });
});

describe('redisTargetFromEnv', () => {
  it('says nothing when nothing is set (callers use 127.0.0.1:6379)', () => {
    expect(redisTargetFromEnv({})).toBeUndefined();
  });

  it('REDIS_URL in any of its forms', () => {
    expect(redisTargetFromEnv({ REDIS_URL: 'redis://r:1' })).toEqual({ kind: 'standalone', url: 'redis://r:1' });
    expect(redisTargetFromEnv({ REDIS_URL: 'redis+cluster://a:1,b:2' })).toMatchObject({ kind: 'cluster', nodes: [{ host: 'a', port: 1 }, { host: 'b', port: 2 }] });
  });

  it('REDIS_CLUSTER_NODES with REDIS_USERNAME / REDIS_PASSWORD / REDIS_TLS; it wins over REDIS_URL', () => {
    expect(redisTargetFromEnv({ REDIS_URL: 'redis://:x@redis:6379/0', REDIS_CLUSTER_NODES: 'n1:7000, n2:7001', REDIS_USERNAME: 'app', REDIS_PASSWORD: 'pw', REDIS_TLS: '1' })).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      username: 'app',
      password: 'pw',
      tls: true,
    });
  });

  it('REDIS_SENTINELS + REDIS_SENTINEL_NAME (+ REDIS_SENTINEL_PASSWORD)', () => {
    expect(redisTargetFromEnv({ REDIS_SENTINELS: 's1,s2:26380', REDIS_SENTINEL_NAME: 'mymaster', REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'sp' })).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26380 },
      ],
      name: 'mymaster',
      password: 'pw',
      sentinelPassword: 'sp',
      db: 0,
      tls: false,
    });
  });

  it('names the variable on a bad or contradictory setting', () => {
    expect(thrown(() => redisTargetFromEnv({ REDIS_SENTINELS: 's1' })).field).toBe('REDIS_SENTINEL_NAME');
    expect(thrown(() => redisTargetFromEnv({ REDIS_SENTINEL_NAME: 'm' })).field).toBe('REDIS_SENTINEL_NAME');
    expect(thrown(() => redisTargetFromEnv({ REDIS_CLUSTER_NODES: 'a:1', REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'm' })).field).toBe('REDIS_SENTINELS');
    expect(thrown(() => redisTargetFromEnv({ REDIS_CLUSTER_NODES: 'a:x' })).field).toBe('REDIS_CLUSTER_NODES');
    expect(thrown(() => redisTargetFromEnv({ REDIS_URL: 'redis+sentinel://s1' })).field).toBe('REDIS_URL');
    expect(thrown(() => redisTargetFromEnv({ REDIS_TLS: 'yes', REDIS_CLUSTER_NODES: 'a:1' })).field).toBe('REDIS_TLS');
    expect(thrown(() => redisTargetFromEnv({ REDIS_URL: ' ' })).field).toBe('REDIS_URL');
  });
});

describe('queue options on a Redis Cluster', () => {
  it('require a {hash tag} in the prefix (every multi-key script must stay in one slot)', () => {
    expect(resolveQueueOptions({ connection: 'redis+cluster://a:1' }).prefix).toBe('{asyncdiff}');
    expect(resolveQueueOptions({ connection: 'redis+cluster://a:1', prefix: 'fleet{eu}' }).connection.kind).toBe('cluster');
    for (const prefix of ['asyncdiff', '{}asyncdiff', 'x}{']) {
      const e = thrown(() => resolveQueueOptions({ connection: 'redis+cluster://a:1', prefix }));
      expect(e.field).toBe('prefix');
      expect(e.message).toMatch(/hash tag/);
    }
    // One server does not care.
    expect(resolveQueueOptions({ connection: 'redis://h:1', prefix: 'plain' }).prefix).toBe('plain');
  });

  it('open ioredis Cluster clients with BullMQ\'s blocking settings on every node', () => {
    const bull = createRedis('redis+cluster://127.0.0.1:1', 'bullmq');
    const command = createRedis({ kind: 'cluster', nodes: [{ host: '127.0.0.1', port: 1 }], password: 'pw', tls: false }, 'command');
    const single = createRedis('redis://127.0.0.1:1', 'command');
    for (const c of [bull, command, single]) c.on('error', () => undefined);
    try {
      expect(bull).toBeInstanceOf(Cluster);
      expect((bull as Cluster).options.redisOptions?.maxRetriesPerRequest).toBeNull();
      expect((command as Cluster).options.redisOptions).toMatchObject({ maxRetriesPerRequest: 3, password: 'pw' });
      expect(single).toBeInstanceOf(Redis);
    } finally {
      for (const c of [bull, command, single]) c.disconnect();
    }
  });
});
