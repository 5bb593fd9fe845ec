import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { describeRedisTarget, probeRedis, redactRedisUrl, redisTargetFromEnv, type RedisConnection } from '@asyncdiff/queue';

import { startPrivateRedis } from './private-redis.js';

/** Where Redis came from, and how to let it go. */
export interface RedisSource {
  /** For our clients (a private server's URL includes its password). */
  readonly connection: RedisConnection;
  /** For logs: without a password. */
  readonly display: string;
  /** `environment`: REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS (see `redisTargetFromEnv`). */
  readonly origin: 'environment' | 'local' | 'private';
  /** The private redis-server's pid (absent for a Redis we did not start). */
  readonly pid?: number;
  /** Stops the private redis-server (no-op for a Redis we did not start). */
  close(): Promise<void>;
}

/** Options of `resolveRedis`. */
export interface ResolveRedisOptions {
  /** Tried when the environment names no Redis. @defaultValue `redis://127.0.0.1:6379` */
  readonly localUrl?: string;
  /** Start a private redis-server even when the environment names a Redis or the local one answers. @defaultValue false */
  readonly forcePrivate?: boolean;
}

/**
 * DESIGN.md §5: the Redis the environment names (REDIS_URL, or a Cluster / Sentinel: see
 * `redisTargetFromEnv`) if any, else 127.0.0.1:6379 if it answers, else a private `redis-server`
 * child with its data under `var/redis` (see `startPrivateRedis`: loopback only, a random
 * password, AOF on, `noeviction`, stopped with this process even on SIGKILL).
 */
export async function resolveRedis(env: NodeJS.ProcessEnv, varDir: string, log: (s: string) => void, options: ResolveRedisOptions = {}): Promise<RedisSource> {
  const given = options.forcePrivate ? undefined : redisTargetFromEnv(env);
  if (given) {
    const display = describeRedisTarget(given);
    if (!(await probeRedis(given, 2000))) throw new Error(`Redis at ${display} (from the environment) does not answer`);
    return { connection: given, display, origin: 'environment', close: async () => undefined };
  }
  const localUrl = options.localUrl ?? 'redis://127.0.0.1:6379';
  if (!options.forcePrivate && (await probeRedis(localUrl, 500))) return { connection: localUrl, display: redactRedisUrl(localUrl), origin: 'local', close: async () => undefined };
  if (spawnSync('redis-server', ['--version']).error) installRedis(log);
  const dir = path.resolve(varDir, 'redis');
  const redis = await startPrivateRedis(dir);
  log(`started a private redis-server on ${redis.display} (127.0.0.1 only, password-protected; data in ${dir})`);
  return { connection: redis.url, display: redis.display, origin: 'private', pid: redis.pid, close: () => redis.close() };
}

/**
 * A fresh machine of ours has Debian's package index but maybe no Redis: as root, install it
 * (that is what makes `npm start` one command); otherwise say exactly what to do.
 */
function installRedis(log: (s: string) => void): void {
  const root = process.getuid?.() === 0;
  if (!root || spawnSync('apt-get', ['--version']).error) {
    throw new Error('no Redis answers and redis-server is not installed: run "apt-get install -y redis-server" (as root), or set REDIS_URL');
  }
  log('redis-server is not installed: apt-get install -y redis-server');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: 'inherit', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    r = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: 'inherit', env });
  }
  if (r.status !== 0 || spawnSync('redis-server', ['--version']).error) throw new Error('could not install redis-server; install it or set REDIS_URL');
}
