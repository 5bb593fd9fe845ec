import { afterEach, describe, expect, it } from 'vitest';

import { jobViewSchema } from './index.js';
import { readSse, startHarness, timerHandler, waitFor, type Harness } from './test-fixtures/harness.js';

describe('GET /v1/jobs/:id/events (SSE)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

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
});
