import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { closeRedis, createRedis, probeRedis } from '@asyncdiff/queue';
import { describe, expect, it } from 'vitest';

import { resolveRedis } from './serve/redis.js';

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
    const redis = createRedis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', 'command');
    try {
      const keys = await redis.keys(`{serve-test-${port}}*`);
      if (keys.length) await redis.del(...keys);
    } finally {
      await closeRedis(redis);
    }
  }, 90_000);

  it('starts a private redis-server when no Redis answers, and stops it', async () => {
    const varDir = mkdtempSync(path.join(tmpdir(), 'serve-var-'));
    const logs: string[] = [];
    const redis = await resolveRedis({}, varDir, (s) => logs.push(s), 'redis://127.0.0.1:1');
    try {
      expect(redis.origin).toBe('private');
      expect(await probeRedis(redis.url)).toBe(true);
      expect(logs.join('\n')).toContain('started a private redis-server');
    } finally {
      await redis.close();
    }
    expect(await probeRedis(redis.url, 300)).toBe(false);
  }, 30_000);
});
