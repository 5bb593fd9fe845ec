import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

import { closeRedis, createRedis } from '@asyncdiff/queue';
import { afterEach, describe, expect, it } from 'vitest';

import { jobViewSchema } from './index.js';
import { readSse, startHarness, timerHandler, waitFor, type Harness } from './test-fixtures/harness.js';

describe('GET /v1/jobs/:id/events (SSE)', () => {
  let h: Harness;
  /** A private redis-server some tests start; stopped after the harness that uses it. */
  let stopRedis: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await h?.close();
    await stopRedis?.();
    stopRedis = undefined;
  });

  it('sends the current state first, then progress and state changes, then the final job, and ends', async () => {
    h = await startHarness();
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '3', steps: 6 })).json());
    const res = await h.request(job.links.events);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reading = readSse(res);
    await h.worker({ handler: timerHandler(30) });
    const events = await reading;

    expect(events[0]?.event).toBe('job');
    expect(jobViewSchema.parse(events[0]?.data).status).toBe('queued');
    const progress = events.filter((e) => e.event === 'progress').map((e) => (e.data as { progress: { step: number } }).progress.step);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);
    const states = events.filter((e) => e.event === 'state').map((e) => (e.data as { status: string }).status);
    expect(states).toEqual(['running', 'succeeded']);
    const last = events.at(-1);
    expect(last?.event).toBe('job');
    const final = jobViewSchema.parse(last?.data);
    expect(final.status).toBe('succeeded');
    expect(final.outputs[0]?.url).toBe(`https://cdn.test/jobs/${job.id}/0000.png`);
  });

  it('ends at once with the state of a finished job', async () => {
    h = await startHarness();
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '3' })).json());
    await h.request(job.links.cancel, { method: 'POST' });
    const events = await readSse(await h.request(job.links.events), 5000);
    expect(events).toHaveLength(1);
    expect(jobViewSchema.parse(events[0]?.data).status).toBe('canceled');
  });

  it('streams a cancel of a running job to its canceled end', async () => {
    h = await startHarness();
    await h.worker({ handler: timerHandler(50) });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '3', steps: 500 })).json());
    const res = await h.request(job.links.events);
    const reading = readSse(res, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    await h.request(job.links.cancel, { method: 'POST' });
    const events = await reading;
    const names = events.map((e) => e.event);
    expect(names).toContain('cancel-requested');
    expect(jobViewSchema.parse(events.at(-1)?.data).status).toBe('canceled');
  });

  it('releases a stream when the client disconnects', async () => {
    h = await startHarness();
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '3' })).json());
    const streams = async () => Number(/asyncdiff_sse_streams (\d+)/.exec(await (await h.request('/metrics')).text())?.[1]);
    const abort = new AbortController();
    const res = await h.request(job.links.events, { signal: abort.signal });
    expect(res.status).toBe(200);
    expect(await streams()).toBe(1);
    abort.abort();
    await waitFor(async () => (await streams()) === 0, 5000, 'stream released');
  });

  it('answers JSON errors before a stream starts', async () => {
    h = await startHarness();
    const missing = await h.request('/v1/jobs/job_00000000000000000000000000/events');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('JOB_NOT_FOUND');
    const bad = await h.request('/v1/jobs/nope/events');
    expect(bad.status).toBe(400);
  });

  it("ends the stream of a job that ended while the API's Redis subscription was away (pub/sub dropped its state event)", async () => {
    // A Redis of its own: the test cuts pub/sub connections, which must not touch other tests'.
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const url = `redis://127.0.0.1:${port}`;
    const admin = createRedis(url, 'command');
    stopRedis = async () => {
      await closeRedis(admin);
      server.kill('SIGKILL');
      if (server.exitCode === null && server.signalCode === null) await once(server, 'exit');
    };
    await waitFor(async () => (await admin.ping().catch(() => '')) === 'PONG', 10_000, 'private redis');
    h = await startHarness({ queue: { connection: url } });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '3' })).json());
    const reading = readSse(await h.request(job.links.events), 10_000);
    const subscribers = async () => Number(((await admin.pubsub('NUMSUB', `${h.prefix}:events`)) as [string, number])[1]);
    await waitFor(async () => (await subscribers()) > 0, 5000, 'subscribed');
    // Hold the subscriber off: no new connection is accepted, then its connection is cut.
    const connected = Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))?.[1]);
    await admin.config('SET', 'maxclients', String(connected - 1));
    await admin.client('KILL', 'TYPE', 'pubsub');
    // The job ends while nobody listens: its `state` event is published into the void.
    expect((await h.request(job.links.cancel, { method: 'POST' })).status).toBe(200);
    expect(await subscribers()).toBe(0);
    await admin.config('SET', 'maxclients', '10000');
    const events = await reading;
    expect(events.map((e) => e.event)).toEqual(['job', 'job']);
    expect(jobViewSchema.parse(events.at(-1)?.data).status).toBe('canceled');
  });
});
