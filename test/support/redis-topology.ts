/**
 * Real multi-process Redis topologies on loopback for tests: a Redis Cluster of masters made with
 * `redis-cli --cluster create`, and a master watched by one Sentinel. Every server listens on
 * 127.0.0.1 only, on ports picked free at start, with its files in a temp folder removed on stop.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

import { freePort } from './fleet.js';

const run = promisify(execFile);

/** Whether redis-server and redis-cli are installed (the suites skip without them). */
export const HAVE_REDIS_BINARIES = ['redis-server', 'redis-cli'].every((b) => !spawnSync(b, ['--version']).error);

/** `redis-cli -p <port> <args…>`, trimmed stdout. */
export async function redisCli(port: number, ...args: string[]): Promise<string> {
  return (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])).stdout.trim();
}

interface Server {
  readonly port: number;
  readonly child: ChildProcess;
  readonly log: string;
}

async function startServer(dir: string, args: string[], port: number, sentinel = false): Promise<Server> {
  const home = path.join(dir, String(port));
  mkdirSync(home, { recursive: true });
  const log = path.join(home, 'redis.log');
  const data = sentinel ? [] : ['--save', '', '--appendonly', 'no'];
  const child = spawn('redis-server', [...args, '--port', String(port), '--bind', '127.0.0.1', '--dir', home, '--logfile', log, ...data], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    if ((await redisCli(port, 'ping').catch(() => '')) === 'PONG') return { port, child, log };
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on ${port} did not start: ${safeRead(log)}`);
}

async function stopServers(servers: readonly Server[]): Promise<void> {
  await Promise.all(
    servers.map(async (s) => {
      if (s.child.exitCode !== null || s.child.signalCode !== null) return;
      const exited = once(s.child, 'exit');
      s.child.kill('SIGTERM');
      const timer = setTimeout(() => s.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }),
  );
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '(no log)';
  }
}

/** A running Redis Cluster of masters (no replicas). */
export interface LocalRedisCluster {
  /** Client ports, in `--cluster create` order (so the first holds slots 0…5460 of 3). */
  readonly ports: readonly number[];
  /** `redis+cluster://127.0.0.1:p1,…` */
  readonly url: string;
  /** The hash slot of `key` (`CLUSTER KEYSLOT`). */
  keyslot(key: string): Promise<number>;
  /** The client port of the master serving `slot`. */
  ownerOf(slot: number): Promise<number>;
  /** Stops every server and removes their files; repeat-safe. */
  stop(): Promise<void>;
}

/** Starts `masters` cluster-enabled servers and joins them with `redis-cli --cluster create`. */
export async function startRedisCluster(masters = 3): Promise<LocalRedisCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'asyncdiff-redis-cluster-'));
  const servers: Server[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopServers(servers).finally(() => rmSync(dir, { recursive: true, force: true }));
    return stopping;
  };
  try {
    for (let i = 0; i < masters; i++) {
      // The bus port defaults to port + 10000, which an ephemeral port may push past 65535.
      const [port, busPort] = [await freePort(), await freePort()];
      servers.push(
        await startServer(dir, ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--cluster-port', String(busPort), '--cluster-node-timeout', '5000'], port),
      );
    }
    const ports = servers.map((s) => s.port);
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes']);
    // Every node must have learnt the whole slot map before clients arrive.
    for (let i = 0; ; i++) {
      const states = await Promise.all(ports.map((p) => redisCli(p, 'cluster', 'info')));
      if (states.every((s) => /cluster_state:ok/.test(s) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(s))) break;
      if (i > 400) throw new Error(`the cluster did not converge:\n${states.join('\n')}`);
      await sleep(25);
    }
    return {
      ports,
      url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`,
      keyslot: async (key) => Number(await redisCli(ports[0]!, 'cluster', 'keyslot', key)),
      async ownerOf(slot) {
        for (const line of (await redisCli(ports[0]!, 'cluster', 'nodes')).split('\n')) {
          const [, address = '', , , , , , , ...ranges] = line.split(' ');
          const port = Number(/:(\d+)@/.exec(address)?.[1]);
          for (const r of ranges) {
            const [lo = NaN, hi = lo] = r.split('-').map(Number);
            if (slot >= lo && slot <= hi) return port;
          }
        }
        throw new Error(`no master serves slot ${slot}`);
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A master watched by one Sentinel. */
export interface LocalRedisSentinel {
  readonly masterPort: number;
  readonly sentinelPort: number;
  readonly masterName: string;
  /** `redis+sentinel://127.0.0.1:<sentinel>/<name>` */
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts a master and a Sentinel (`redis-server <conf> --sentinel`) that monitors it. */
export async function startRedisSentinel(masterName = 'asyncdiff'): Promise<LocalRedisSentinel> {
  const dir = mkdtempSync(path.join(tmpdir(), 'asyncdiff-redis-sentinel-'));
  const servers: Server[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= stopServers(servers).finally(() => rmSync(dir, { recursive: true, force: true }));
    return stopping;
  };
  try {
    const master = await startServer(dir, [], await freePort());
    servers.push(master);
    const sentinelPort = await freePort();
    // A Sentinel rewrites its config file, so it must be a writable file of its own.
    const conf = path.join(dir, 'sentinel.conf');
    writeFileSync(conf, [`sentinel monitor ${masterName} 127.0.0.1 ${master.port} 1`, `sentinel down-after-milliseconds ${masterName} 5000`, ''].join('\n'));
    servers.push(await startServer(dir, [conf, '--sentinel'], sentinelPort, true));
    for (let i = 0; ; i++) {
      const answer = await redisCli(sentinelPort, 'sentinel', 'get-master-addr-by-name', masterName).catch(() => '');
      if (answer.split('\n')[1] === String(master.port)) break;
      if (i > 200) throw new Error(`the Sentinel does not know ${masterName}: ${answer}`);
      await sleep(25);
    }
    return { masterPort: master.port, sentinelPort, masterName, url: `redis+sentinel://127.0.0.1:${sentinelPort}/${masterName}`, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
