/**
 * `kill -9` of `asyncdiff serve`: nothing it started or created outlives it for long. Its private
 * redis-server stops at once (its watchdog sees the pipe from serve close), and the shared memory
 * of its generations, which no handler of a SIGKILLed process can remove, is swept by the next
 * serve (or GPU host) at start-up.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { deletePrefix, TEST_REDIS_URL, testPrefix } from '@asyncdiff/queue/test-fixtures';
import { afterEach, describe, expect, it } from 'vitest';

import { descendants, isAlive, rawRedisCommand, waitUntil } from './test-fixtures/processes.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/main.js');

interface Serve {
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  output: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Serve[] = [];

/** Starts `asyncdiff serve` in `cwd` (its var/ lives there) and waits until it serves. */
async function startServe(cwd: string, env: Record<string, string>, flags: string[] = []): Promise<Serve> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, [MAIN, 'serve', '--port', String(port), ...flags], { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const s: Serve = { child, port, output: '', exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal }))) };
  started.push(s);
  child.stdout.on('data', (d: Buffer) => (s.output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (s.output += d.toString()));
  await waitUntil(() => s.output.includes('try: curl') || child.exitCode !== null, 60_000, 'serve to start');
  expect(s.output).toContain(`API        http://127.0.0.1:${port}/v1/jobs`);
  return s;
}

/** /dev/shm segments (`asyncdiff-<instance>-<pid>-…`) created by `pid`. */
function segmentsOf(pid: number): string[] {
  return readdirSync('/dev/shm').filter((e) => new RegExp(`^asyncdiff-[a-z][a-z0-9]{11}-${pid}-`).test(e));
}

afterEach(async () => {
  for (const s of started.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await s.exited;
  }
});

describe('kill -9 of asyncdiff serve', () => {
  it('takes its private redis-server with it within seconds; while up, that Redis wants a password', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'serve-crash-'));
    const serve = await startServe(cwd, { QUEUE_PREFIX: testPrefix('serve-crash'), STORAGE_DIR: path.join(cwd, 'out') }, ['--no-gpu-host', '--private-redis']);
    const m = /Redis redis:\/\/127\.0\.0\.1:(\d+) \[private\]/.exec(serve.output);
    expect(m).not.toBeNull();
    const redisPort = Number(m![1]);
    expect(serve.output).not.toMatch(/[0-9a-f]{48}/); // the password is never printed
    const redis = descendants(serve.child.pid!).find(([, comm]) => comm === 'redis-server');
    expect(redis).toBeDefined();
    const redisPid = redis![0];
    expect(await rawRedisCommand(redisPort, 'PING')).toMatch(/^-NOAUTH/);
    expect(existsSync(path.join(cwd, 'var/redis/redis.log'))).toBe(true);

    serve.child.kill('SIGKILL');
    expect(await serve.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const killedAt = Date.now();
    await waitUntil(() => !isAlive(redisPid), 5000, 'the orphaned redis-server to stop');
    expect(Date.now() - killedAt).toBeLessThan(5000);
    await expect(rawRedisCommand(redisPort, 'PING')).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);

  it('mid-generation leaves its shared memory behind; the next serve removes it at start-up', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'serve-crash-'));
    const prefix = testPrefix('serve-crash');
    const env = { QUEUE_PREFIX: prefix, STORAGE_DIR: path.join(cwd, 'out'), REDIS_URL: TEST_REDIS_URL };
    try {
      const first = await startServe(cwd, env);
      const res = await fetch(`http://127.0.0.1:${first.port}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'video', model: 'moving-digits', prompt: '6', steps: 1000, parallel: { mode: 'async' } }),
      });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      await waitUntil(async () => ((await (await fetch(`http://127.0.0.1:${first.port}/v1/jobs/${id}`)).json()) as { progress: { step: number } }).progress.step >= 3, 60_000, 'step 3');

      const pid = first.child.pid!;
      const segments = segmentsOf(pid);
      expect(segments.some((s) => /-ctl-/.test(s))).toBe(true); // the coordinator's control block
      const instance = /^asyncdiff-([a-z][a-z0-9]{11})-/.exec(segments[0]!)![1]!;
      const lockFile = `asyncdiff-${instance}.lock`;
      expect(readdirSync('/dev/shm')).toContain(lockFile);
      const stages = descendants(pid).map(([p]) => p);
      expect(stages.length).toBeGreaterThanOrEqual(2);

      first.child.kill('SIGKILL');
      await first.exited;
      // Stage processes notice their coordinator is gone and exit, cleaning up after themselves…
      await waitUntil(() => stages.every((p) => !isAlive(p)), 10_000, 'the stage processes to exit');
      for (const p of stages) expect(segmentsOf(p)).toEqual([]);
      // …but nothing ran in the killed process: its segments and its instance lock stay behind.
      expect(segmentsOf(pid).sort()).toEqual(segments.sort());
      expect(readdirSync('/dev/shm')).toContain(lockFile);

      const second = await startServe(cwd, env);
      expect(second.output).toMatch(/removed \d+ shared-memory segment/);
      expect(segmentsOf(pid)).toEqual([]);
      expect(readdirSync('/dev/shm')).not.toContain(lockFile);
      second.child.kill('SIGINT');
      expect((await second.exited).code).toBe(0);
    } finally {
      await deletePrefix(prefix);
    }
  }, 120_000);
});
