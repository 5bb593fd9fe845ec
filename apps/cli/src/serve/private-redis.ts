import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';

import { probeRedis } from '@asyncdiff/queue';

/** A `redis-server` child that only this process can use and that does not outlive it. */
export interface PrivateRedis {
  /** With the password: hand it to our own clients only. */
  readonly url: string;
  /** The URL without the password, for logs. */
  readonly display: string;
  /** The redis-server process (not its watchdog). */
  readonly pid: number;
  /** Stops it (SIGTERM: the AOF is flushed); repeat-safe. */
  close(): Promise<void>;
}

/*
 * The watchdog between us and redis-server, a POSIX shell: redis reads its config from fd 3 (so
 * the password never appears in argv, which `ps` shows every user), the shell prints redis's pid
 * and then reads its stdin, a pipe from this process, until EOF. The kernel closes that pipe when
 * this process exits however it exits — `kill -9` included, where no handler of ours runs — and
 * the shell then stops redis and waits for it. A normal `close()` ends the pipe the same way.
 */
const WATCHDOG = ['redis-server - <&3 3<&- &', 'r=$!', 'exec 3<&-', 'echo "$r"', 'while read -r _; do :; done', 'kill -TERM "$r" 2>/dev/null', 'wait "$r"'].join('\n');

/** How long a stopping redis-server may take (AOF flush) before it is killed. */
const STOP_DEADLINE_MS = 10_000;

/**
 * Starts a private redis-server with its data in `dataDir`: bound to 127.0.0.1 only, a random
 * `requirepass`, `appendonly yes` and `maxmemory-policy noeviction` (BullMQ loses jobs under
 * eviction), its log in `dataDir/redis.log`. It stops when this process does, even on SIGKILL.
 */
export async function startPrivateRedis(dataDir: string): Promise<PrivateRedis> {
  const dir = path.resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const port = await freePort();
  const password = randomBytes(24).toString('hex');
  const config = [
    `port ${port}`,
    'bind 127.0.0.1',
    'protected-mode yes',
    `requirepass ${password}`,
    `dir ${JSON.stringify(dir)}`,
    `logfile ${JSON.stringify(path.join(dir, 'redis.log'))}`,
    'appendonly yes',
    'maxmemory-policy noeviction',
    'save ""',
  ];
  // detached: its own process group, so Ctrl-C reaches only us; we drain and then stop it.
  const child = spawn('sh', ['-c', WATCHDOG], { stdio: ['pipe', 'pipe', 'ignore', 'pipe'], detached: true });
  const exited = once(child, 'exit').then(() => undefined);
  (child.stdio[3] as Writable).end(`${config.join('\n')}\n`);
  const pid = await firstLine(child.stdout as Readable, exited);
  const display = `redis://127.0.0.1:${port}`;
  const url = `redis://:${password}@127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= stop(child, pid, exited);
    return closing;
  };
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await probeRedis(url, 200)) return { url, display, pid, close };
    await new Promise((r) => setTimeout(r, 50));
  }
  await close();
  throw new Error(`redis-server did not answer on 127.0.0.1:${port} (see ${path.join(dir, 'redis.log')})`);
}

async function stop(child: ChildProcess, pid: number, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin?.end();
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([exited.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), STOP_DEADLINE_MS)))]);
  clearTimeout(timer);
  if (!late) return;
  for (const p of [pid, child.pid]) {
    try {
      if (p) process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await exited;
}

/** The watchdog's first output line: redis-server's pid. */
async function firstLine(stdout: Readable, exited: Promise<void>): Promise<number> {
  let text = '';
  const line = new Promise<string>((resolve) => {
    const onData = (d: Buffer): void => {
      text += d.toString();
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      stdout.off('data', onData);
      stdout.resume(); // nothing else comes; keep the pipe drained anyway
      resolve(text.slice(0, nl));
    };
    stdout.on('data', onData);
  });
  const first = await Promise.race([line, exited.then(() => '')]);
  const pid = Number(first.trim());
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new Error('could not start redis-server (is "sh" on PATH?)');
  return pid;
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
