import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { closeRedis, createRedis, type JobProgressEvent } from '@asyncdiff/queue';
import { afterEach, describe, expect, it } from 'vitest';

import { errorSchema, jobViewSchema } from './index.js';
import { readSse, startHarness, TEST_REDIS_URL, timerHandler, waitFor, type Harness } from './test-fixtures/harness.js';

const KEY_A = 'sse-key-a-0123456789abcdef';
const KEY_B = 'sse-key-b-0123456789abcdef';
const as = (key: string) => ({ authorization: `Bearer ${key}` });

/** A raw HTTP/1.1 GET on its own socket that never reads what it is sent (paused from the start). */
function stalledGet(url: string, path: string, headers: Record<string, string>): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.pause();
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${hostname}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('SSE streams hold up against greedy and slow clients (real Redis, real HTTP)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  const metric = async (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\d+)$`, 'm').exec(await (await h.request('/metrics')).text())?.[1] ?? 0);

  it('caps open streams per key (429 TOO_MANY_STREAMS), not across keys, and frees a place when a stream closes', async () => {
    h = await startHarness({ apiKeys: [KEY_A, KEY_B], maxSseStreamsPerKey: 2 });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '1' }, as(KEY_A))).json());
    const other = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '2' }, as(KEY_B))).json());
    const aborts = [new AbortController(), new AbortController()];
    for (const abort of aborts) expect((await h.request(job.links.events, { headers: as(KEY_A), signal: abort.signal })).status).toBe(200);
    const third = await h.request(job.links.events, { headers: as(KEY_A) });
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('5');
    expect(errorSchema.parse(await third.json()).error.code).toBe('TOO_MANY_STREAMS');
    // A refused or 404 stream holds no place.
    expect((await h.request(other.links.events, { headers: as(KEY_A) })).status).toBe(429);
    const b = new AbortController();
    expect((await h.request(other.links.events, { headers: as(KEY_B), signal: b.signal })).status).toBe(200);
    expect(await metric('asyncdiff_sse_streams')).toBe(3);
    aborts[0]!.abort();
    await waitFor(async () => (await metric('asyncdiff_sse_streams')) === 2, 5000, 'a place freed');
    const again = await h.request(job.links.events, { headers: as(KEY_A) });
    expect(again.status).toBe(200);
    await again.body?.cancel();
    aborts[1]!.abort();
    b.abort();
    await waitFor(async () => (await metric('asyncdiff_sse_streams')) === 0, 5000, 'all released');
  });

  it('routes a job\'s events to its own streams only', async () => {
    h = await startHarness();
    const quiet = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'video', model: 'moving-digits', prompt: '1' })).json()); // no video worker: stays queued
    const busy = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '2', steps: 20 })).json());
    const reading = readSse(await h.request(quiet.links.events), 4000);
    const busyEvents = readSse(await h.request(busy.links.events), 10_000);
    await h.worker({ handler: timerHandler(10) });
    expect((await busyEvents).filter((e) => e.event === 'progress')).toHaveLength(20);
    await h.request(quiet.links.cancel, { method: 'POST' });
    const events = await reading;
    expect(events.map((e) => e.event)).toEqual(['job', 'state', 'job']);
    expect(events.every((e) => (e.data as { id?: string; jobId?: string }).id === quiet.id || (e.data as { jobId?: string }).jobId === quiet.id)).toBe(true);
  });

  it('cuts a stream whose reader stops reading once its unsent bytes pass the high-water mark; others carry on', async () => {
    h = await startHarness({ sseMaxBufferedBytes: 64 * 1024 });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '3' })).json());
    const socket = await stalledGet(h.url, job.links.events, {});
    let ended = false;
    socket.on('close', () => (ended = true));
    // A reader that keeps up, reading from the start.
    const healthy = readSse(await h.request(job.links.events), 30_000);
    await waitFor(async () => (await metric('asyncdiff_sse_streams')) === 2, 5000, 'both streams open');
    // ~12 MB of progress events for this job (more than the kernel's socket buffers hold),
    // published as a GPU host would, in small bursts a reader that reads can keep up with.
    const redis = createRedis(TEST_REDIS_URL, 'command');
    const phase = 'x'.repeat(4000);
    for (let burst = 0; burst < 300; burst++) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 10; i++) {
        const step = burst * 10 + i;
        const event: JobProgressEvent = { type: 'progress', jobId: job.id, kind: 'image', progress: { step, steps: 3000, percent: 0, phase }, at: Date.now() };
        pipeline.publish(`${h.prefix}:events`, JSON.stringify(event));
      }
      await pipeline.exec();
      await sleep(3);
    }
    await closeRedis(redis);
    await waitFor(async () => (await metric('asyncdiff_sse_dropped_total{reason="slow_reader"}')) === 1, 10_000, 'slow reader dropped');
    expect(await metric('asyncdiff_sse_streams')).toBe(1);
    // The stalled client finds its connection closed once it reads again.
    socket.resume();
    await waitFor(async () => ended, 5000, 'stalled socket closed');
    // The reader that keeps up got every event, and its stream ends normally with the job.
    await h.request(job.links.cancel, { method: 'POST' });
    const received = await healthy;
    expect(received.filter((e) => e.event === 'progress')).toHaveLength(3000);
    expect(jobViewSchema.parse(received.at(-1)?.data).status).toBe('canceled');
  });
});
