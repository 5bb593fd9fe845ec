import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { closeRedis, createRedis, probeRedis } from '@asyncdiff/queue';
import { deletePrefix } from '@asyncdiff/queue/test-fixtures';
import { describe, expect, it } from 'vitest';

import { resolveRedis } from './serve/redis.js';
import { listeningAddresses, rawRedisCommand } from './test-fixtures/processes.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../dist/main.js');
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('asyncdiff serve (npm start)', () => {
  it('starts API + GPU host, runs a job end to end, and stops cleanly on SIGINT', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const storage = mkdtempSync(path.join(tmpdir(), 'serve-'));
    const child = spawn(process.execPath, [MAIN, 'serve', '--port', String(port)], {
      cwd: REPO,
      env: { ...process.env, QUEUE_PREFIX: `{serve-test-${port}}`, STORAGE_DIR: storage },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 200 && !out.includes('GPU host'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain(`API        http://127.0.0.1:${port}/v1/jobs`);
      const res = await fetch(`http://127.0.0.1:${port}/v1/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'image', model: 'digits', prompt: '4', steps: 10 }) });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      let job: { status: string; outputs: { url: string; kind: string }[] } = { status: 'queued', outputs: [] };
      for (let i = 0; i < 300 && job.status !== 'succeeded' && job.status !== 'failed'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        job = (await (await fetch(`http://127.0.0.1:${port}/v1/jobs/${id}`)).json()) as typeof job;
      }
      expect(job.status).toBe('succeeded');
      const png = job.outputs.find((o) => o.kind === 'image')!;
      const file = await fetch(png.url);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('image/png');
      expect(readdirSync(path.join(storage, 'jobs', id)).sort()).toEqual(['0000.png', 'job.json']);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    await deletePrefix(`{serve-test-${port}}`);
  }, 90_000);

  it('refuses a non-loopback --host without API keys, naming --insecure, before starting anything', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, QUEUE_PREFIX: '{serve-refused}', REDIS_URL: 'redis://127.0.0.1:1' };
    for (const name of ['API_KEYS', 'API_ADMIN_KEYS', 'API_INSECURE', 'HOST']) delete env[name];
    const child = spawn(process.execPath, [MAIN, 'serve', '--host', '0.0.0.0', '--port', '18080'], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toMatch(/asyncdiff serve: --host: refusing to listen on 0\.0\.0\.0 without API keys/);
    expect(err).toContain('pass --insecure');
    // Nothing was started: no Redis was looked for, no private redis-server spawned.
    expect(err).not.toMatch(/redis-server|serving/);
  }, 30_000);

  it('takes a Cluster or Sentinel from the environment, and names it without its password when it does not answer', async () => {
    const log = (): void => undefined;
    await expect(resolveRedis({ REDIS_CLUSTER_NODES: '127.0.0.1:1', REDIS_PASSWORD: 'hunter2-secret' }, tmpdir(), log)).rejects.toThrow(
      /^Redis at redis\+cluster:\/\/127\.0\.0\.1:1 \(from the environment\) does not answer$/,
    );
    await expect(resolveRedis({ REDIS_URL: 'redis+sentinel://:hunter2-secret@127.0.0.1:1/m' }, tmpdir(), log)).rejects.toThrow(/^Redis at redis\+sentinel:\/\/127\.0\.0\.1:1\/m\/0 /);
  });

  it('starts a private redis-server when no Redis answers: loopback only, password-protected, AOF, noeviction; stops it', async () => {
    const varDir = mkdtempSync(path.join(tmpdir(), 'serve-var-'));
    const logs: string[] = [];
    const redis = await resolveRedis({}, varDir, (s) => logs.push(s), { localUrl: 'redis://127.0.0.1:1' });
    const port = Number(new URL(redis.display).port);
    try {
      expect(redis.origin).toBe('private');
      expect(await probeRedis(redis.connection)).toBe(true);
      expect(logs.join('\n')).toContain('started a private redis-server');
      // The password is in our clients' URL only: not in logs, not in the process's argv.
      const password = new URL(String(redis.connection)).password;
      expect(password).toMatch(/^[0-9a-f]{48}$/);
      expect(logs.join('\n')).not.toContain(password);
      expect(redis.display).toBe(`redis://127.0.0.1:${port}`);
      expect(readFileSync(`/proc/${redis.pid}/cmdline`, 'utf8')).not.toContain(password);
      expect(await rawRedisCommand(port, 'PING')).toMatch(/^-NOAUTH/);
      expect(await probeRedis(redis.display, 500)).toBe(false);
      expect(listeningAddresses(port)).toEqual(['0100007F']); // 127.0.0.1, IPv4 only
      const client = createRedis(redis.connection, 'command');
      try {
        const config = async (key: string) => ((await client.config('GET', key)) as string[])[1];
        expect(await config('bind')).toBe('127.0.0.1');
        expect(await config('appendonly')).toBe('yes');
        expect(await config('maxmemory-policy')).toBe('noeviction');
        expect(await config('dir')).toBe(path.join(varDir, 'redis'));
      } finally {
        await closeRedis(client);
      }
    } finally {
      await redis.close();
    }
    expect(await probeRedis(redis.connection, 300)).toBe(false);
    expect(() => process.kill(redis.pid!, 0)).toThrow();
  }, 30_000);
});
