/**
 * Redis behind Sentinel (issue #13): a master and one Sentinel on loopback; the job client and a
 * job worker find the master through `redis+sentinel://<sentinel>/<name>` alone (the master's
 * port is never given to them), run a job end to end with its events, and leave their keys on
 * that master. Failover itself (a replica promoted) is ioredis' business and not exercised here.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { createJobClient, createJobWorker, outputKey, probeRedis, type JobClient, type JobEvent, type JobWorker } from '@asyncdiff/queue';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HAVE_REDIS_BINARIES, redisCli, startRedisSentinel, type LocalRedisSentinel } from './support/redis-topology.js';

describe.skipIf(!HAVE_REDIS_BINARIES)('queue on a Sentinel-managed master', () => {
  let sentinel: LocalRedisSentinel;
  let client: JobClient | undefined;
  let worker: JobWorker | undefined;
  const prefix = '{sentinel-e2e}';

  beforeAll(async () => {
    sentinel = await startRedisSentinel('fleet-master');
  });
  afterAll(async () => {
    await worker?.close();
    await client?.close();
    await sentinel?.stop();
  });

  it('probes through the Sentinel, and fails for a master name it does not know', async () => {
    expect(await probeRedis(sentinel.url, 2000)).toBe(true);
    expect(await probeRedis(`redis+sentinel://127.0.0.1:${sentinel.sentinelPort}/no-such-master`, 1000)).toBe(false);
  });

  it('submits, runs and finishes a job with its events, keys on the master', async () => {
    client = createJobClient({ connection: sentinel.url, prefix, backoffDelayMs: 50 });
    worker = createJobWorker({
      connection: sentinel.url,
      prefix,
      queue: 'image',
      hostId: 'sentinel-worker',
      handler: async ({ job, reportProgress }) => {
        for (let step = 1; step <= job.spec.steps; step++) {
          await sleep(5);
          await reportProgress(step, job.spec.steps);
        }
        return { outputs: [{ key: outputKey(job.id, 0, 'png'), contentType: 'image/png', bytes: 1, sha256: 'a'.repeat(64), kind: 'image' }] };
      },
    });
    await worker.waitUntilReady();
    const events: JobEvent[] = [];
    const unsubscribe = await client.onEvent((e) => events.push(e));
    const { job } = await client.submit({ type: 'image', model: 'digits', prompt: '3', steps: 4 });
    const deadline = Date.now() + 20_000;
    let status = job.status as string;
    while (status !== 'succeeded' && Date.now() < deadline) {
      await sleep(50);
      status = (await client.get(job.id))?.status ?? 'missing';
    }
    unsubscribe();
    expect(status).toBe('succeeded');
    expect(events.filter((e) => e.jobId === job.id && e.type === 'progress').length).toBe(4);
    expect(await redisCli(sentinel.masterPort, 'hget', `${prefix}:job:${job.id}`, 'status')).toBe('succeeded');
  });
});
