/**
 * The fleet on a real Redis Cluster (issue #13): three masters on loopback made by
 * `redis-cli --cluster create`, the API and a GPU host (real stage processes, the shipped `digits`
 * model) connected through `redis+cluster://`. Jobs, a batch, an SSE stream, a webhook, the
 * metrics that drive autoscaling and the ops dashboard all work as on one server; afterwards every
 * key of the run sits in the one slot of the prefix's hash tag, on a master that is not the first
 * seed node (so a single-node client could not have done any of it: see the MOVED check).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { decodePng } from '@asyncdiff/media';
import { closeRedis, createRedis, probeRedis, type RedisClient } from '@asyncdiff/queue';
import { createLocalObjectStore, type LocalObjectStore } from '@asyncdiff/storage';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startApi, storageDeps, type ApiServer } from '../apps/api/src/index.js';
import { readSse } from '../apps/api/src/test-fixtures/harness.js';
import { startGpuHost, type GpuHost } from '../apps/gpu-host/src/index.js';

import { freePort, silent, tempDir } from './support/fleet.js';
import { HAVE_REDIS_BINARIES, redisCli, startRedisCluster, type LocalRedisCluster } from './support/redis-topology.js';

const KEY = 'cluster-admin-key-0123456789abcdef';

interface JobJson {
  id: string;
  status: string;
  outputs: { kind: string; url: string | null; contentType: string }[];
}

describe.skipIf(!HAVE_REDIS_BINARIES)('the fleet on a 3-master Redis Cluster', () => {
  let cluster: LocalRedisCluster;
  let prefix: string;
  let slot: number;
  let owner: number;
  let scratch: { dir: string; remove: () => void };
  let store: LocalObjectStore;
  let api: ApiServer;
  let host: GpuHost | undefined;
  let hooks: Server;
  const delivered: unknown[] = [];

  const call = async <T>(pathname: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${api.url}${pathname}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    expect(res.status, `${pathname}: ${res.status}`).toBeLessThan(300);
    return (await res.json()) as T;
  };
  const until = async <T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await check();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    // A prefix whose slot is served by a master other than the first seed node.
    for (;;) {
      prefix = `{cl-${randomUUID().slice(0, 8)}}`;
      slot = await cluster.keyslot(prefix.slice(1, -1));
      owner = await cluster.ownerOf(slot);
      if (owner !== cluster.ports[0]) break;
    }
    scratch = tempDir('cluster-e2e');
    const port = await freePort();
    store = createLocalObjectStore({ rootDir: scratch.dir, baseUrl: `http://127.0.0.1:${port}/v1/files` });
    hooks = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        delivered.push(JSON.parse(body) as unknown);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
    api = await startApi({
      port,
      logger: silent,
      apiAdminKeys: [KEY],
      rateLimitBurst: 0,
      webhookTargets: { allowPrivate: true },
      queue: { connection: cluster.url, prefix, backoffDelayMs: 50, webhookBackoffDelayMs: 100 },
      ...storageDeps(store),
    });
  }, 60_000);

  afterAll(async () => {
    await host?.close();
    await api?.close();
    await store?.close();
    await new Promise((resolve) => hooks?.close(resolve));
    await cluster?.stop();
    scratch?.remove();
  });

  it('is a real cluster: a single-node client to the first seed is redirected, probeRedis answers for the cluster URL', async () => {
    const single = new Redis(cluster.ports[0]!, '127.0.0.1', { maxRetriesPerRequest: 0 });
    try {
      await expect(single.get(`${prefix}:anything`)).rejects.toThrow(/MOVED/);
    } finally {
      single.disconnect();
    }
    expect(await probeRedis(cluster.url, 2000)).toBe(true);
    expect(await probeRedis(`redis+cluster://127.0.0.1:1`, 500)).toBe(false);
  });

  it('runs jobs, a batch, SSE, webhooks, metrics and the dashboard', async () => {
    // Queued before any GPU host exists: BullMQ keeps them in its prioritized set, not the wait
    // list. The exported queue depth must count them (what the KEDA trigger scales on).
    const streamed = await call<{ id: string }>('/v1/jobs', { type: 'image', model: 'digits', prompt: 'seven', seed: 3, steps: 8, output: { scale: 2 } });
    const hooked = await call<{ id: string }>('/v1/jobs', { type: 'image', model: 'digits', prompt: '4', seed: 4, steps: 6, priority: 80, webhook: `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook` });
    const batch = await call<{ id: string; total: number }>('/v1/batches', { name: 'on the cluster', matrix: { type: 'image', model: 'digits', prompts: ['1', 'two'], seeds: [1], steps: [6] } });
    expect(batch.total).toBe(2);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    const depth = (state: string) => Number(new RegExp(`^asyncdiff_queue_jobs\\{queue="image",state="${state}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(depth('prioritized') + depth('waiting'), metrics).toBe(4);
    expect(depth('prioritized')).toBe(4);

    const sse = fetch(`${api.url}/v1/jobs/${streamed.id}/events`, { headers: { authorization: `Bearer ${KEY}` } });
    host = await startGpuHost({ connection: cluster.url, prefix, storage: store, hostId: 'cluster-host', devices: 'cpu', healthIntervalMs: 0, heartbeatIntervalMs: 200, backoffDelayMs: 50 });

    const events = await readSse(await sse, 120_000);
    const names = events.map((e) => e.event);
    expect(names[0]).toBe('job');
    expect(names).toContain('progress');
    expect(events.at(-1)).toMatchObject({ event: 'job', data: { id: streamed.id, status: 'succeeded' } });

    const jobs = await until('the jobs', async () => {
      const all = await Promise.all([streamed.id, hooked.id].map((id) => call<JobJson>(`/v1/jobs/${id}`)));
      return all.every((j) => j.status === 'succeeded') ? all : undefined;
    });
    for (const job of jobs) {
      const png = job.outputs.find((o) => o.kind === 'image');
      const res = await fetch(png!.url!);
      expect(res.status).toBe(200);
      expect(decodePng(Buffer.from(await res.arrayBuffer())).width).toBeGreaterThan(0);
    }
    const done = await until('the batch', async () => {
      const b = await call<{ status: string; counts: Record<string, number> }>(`/v1/batches/${batch.id}`);
      return b.status === 'completed' ? b : undefined;
    });
    expect(done.counts['succeeded']).toBe(2);
    await until('the webhook', async () => (delivered.some((d) => JSON.stringify(d).includes(hooked.id)) ? true : undefined), 30_000);

    const snapshot = await call<{
      hosts: { hostId: string; alive: boolean }[];
      jobs: { id: string; status: string }[];
      batches: { id: string; status: string }[];
      queues: { name: string; lastHour: { succeeded: number } | null }[];
    }>('/dashboard/api/snapshot');
    expect(snapshot.hosts.find((h) => h.hostId === 'cluster-host')?.alive).toBe(true);
    expect(snapshot.jobs.find((j) => j.id === streamed.id)?.status).toBe('succeeded');
    expect(snapshot.batches.find((b) => b.id === batch.id)?.status).toBe('completed');
    expect(snapshot.queues.find((q) => q.name === 'image')?.lastHour?.succeeded).toBe(4);
    const page = await fetch(`${api.url}/dashboard`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(page.status).toBe(200);
    const board = await fetch(`${api.url}/admin/queues/api/queues`, { headers: { authorization: `Bearer ${KEY}` } });
    expect(board.status).toBe(200);
  }, 240_000);

  it('kept every key of the run in the prefix\'s one slot, on its master', async () => {
    const sizes = await Promise.all(cluster.ports.map(async (p) => Number(await redisCli(p, 'dbsize'))));
    const inSlot = Number(await redisCli(owner, 'cluster', 'countkeysinslot', String(slot)));
    expect(inSlot).toBeGreaterThan(20);
    expect(sizes).toEqual(cluster.ports.map((p) => (p === owner ? inSlot : 0)));
    // Our clients really are Cluster clients: commands on our keys reach the owner through any seed.
    const client: RedisClient = createRedis(cluster.url, 'command');
    try {
      expect(await client.exists(`${prefix}:jobs:all`)).toBe(1);
    } finally {
      await closeRedis(client);
    }
  });
});
