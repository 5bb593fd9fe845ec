import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';

import { probeRedis } from '@asyncdiff/queue';

/** Where Redis came from, and how to let it go. */
export interface RedisSource {
  readonly url: string;
  readonly origin: 'REDIS_URL' | 'local' | 'private';
  /** Stops the private redis-server (no-op for a Redis we did not start). */
  close(): Promise<void>;
}

/**
 * DESIGN.md §5: `REDIS_URL` if set, else 127.0.0.1:6379 if it answers, else a private
 * `redis-server` child with its data under `var/redis` (AOF on, `noeviction`, as BullMQ needs).
 */
export async function resolveRedis(env: NodeJS.ProcessEnv, varDir: string, log: (s: string) => void, localUrl = 'redis://127.0.0.1:6379'): Promise<RedisSource> {
  const given = env['REDIS_URL'];
  if (given) {
    if (!(await probeRedis(given, 2000))) throw new Error(`REDIS_URL=${given} does not answer`);
    return { url: given, origin: 'REDIS_URL', close: async () => undefined };
  }
  if (await probeRedis(localUrl, 500)) return { url: localUrl, origin: 'local', close: async () => undefined };
  if (spawnSync('redis-server', ['--version']).error) installRedis(log);
  const port = await freePort();
  const dir = path.resolve(varDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--save', ''],
    { stdio: 'ignore' },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    if (await probeRedis(url, 200)) {
      log(`started a private redis-server on ${url} (data in ${dir})`);
      return {
        url,
        origin: 'private',
        close: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
          }),
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port}`);
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
