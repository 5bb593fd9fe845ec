import { afterEach, describe, expect, it } from 'vitest';

import { parsePrefer } from './http/prefer.js';
import { errorSchema, jobListSchema, jobViewSchema } from './openapi/schemas.js';
import { startHarness, timerHandler, type Harness } from './test-fixtures/harness.js';

const spec = { type: 'image', model: 'digits', prompt: '3', steps: 3 };

describe('POST /v1/jobs with Prefer: wait (sync mode)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('answers 200 with the finished job when it ends within the wait', async () => {
    h = await startHarness();
    await h.worker({ handler: timerHandler(20) });
    const res = await h.post('/v1/jobs', spec, { prefer: 'wait=20' });
    expect(res.status).toBe(200);
    expect(res.headers.get('preference-applied')).toBe('wait=20');
    const job = jobViewSchema.parse(await res.json());
    expect(job.status).toBe('succeeded');
    expect(job.outputs).toHaveLength(1);
    expect(job.outputs[0]?.url).toBe(`https://cdn.test/jobs/${job.id}/0000.png`);
    expect(res.headers.get('location')).toBe(job.links.self);
    // Its duration is the job's: filed under its own route label, out of the API's latency alert.
    const metrics = await (await h.request('/metrics')).text();
    expect(metrics).toMatch(/asyncdiff_http_requests_total\{method="POST",route="\/v1\/jobs#wait",status="200"\} 1/);
  });

  it('answers 202 with the job as it is when the wait runs out, after waiting it', async () => {
    h = await startHarness();
    await h.worker({ handler: timerHandler(1000) }); // 3 s of steps
    const started = Date.now();
    const res = await h.post('/v1/jobs', spec, { prefer: 'wait=1' });
    const waited = Date.now() - started;
    expect(res.status).toBe(202);
    expect(res.headers.get('preference-applied')).toBe('wait=1');
    const job = jobViewSchema.parse(await res.json());
    expect(['queued', 'running']).toContain(job.status);
    expect(res.headers.get('location')).toBe(job.links.self);
    expect(waited).toBeGreaterThanOrEqual(950);
    // Without the header: 202 at once, no Preference-Applied.
    const plain = await h.post('/v1/jobs', spec);
    expect(plain.status).toBe(202);
    expect(plain.headers.get('preference-applied')).toBeNull();
  });

  it('ignores other preferences and refuses a wait outside 1…60 with 400 naming Prefer, creating nothing', async () => {
    h = await startHarness();
    for (const prefer of ['wait=0', 'wait=61', 'wait=99', 'wait=abc', 'wait=-1', 'wait=1.5', 'wait=']) {
      const res = await h.post('/v1/jobs', spec, { prefer });
      const body = errorSchema.parse(await res.json());
      expect([res.status, body.error.code, body.error.field], prefer).toEqual([400, 'INVALID_REQUEST', 'Prefer']);
    }
    expect(jobListSchema.parse(await (await h.request('/v1/jobs')).json()).jobs).toHaveLength(0);
    const other = await h.post('/v1/jobs', spec, { prefer: 'respond-async, return=minimal' });
    expect(other.status).toBe(202);
    expect(other.headers.get('preference-applied')).toBeNull();
  });

  it('answers a waiting request 202 at once when the server starts draining', async () => {
    h = await startHarness({ reconcileIntervalMs: 0 }); // no worker: the job stays queued
    const pending = h.post('/v1/jobs', spec, { prefer: 'wait=60' });
    await new Promise((r) => setTimeout(r, 500));
    const started = Date.now();
    const closed = h.api.close();
    const res = await pending;
    expect(res.status).toBe(202);
    expect(jobViewSchema.parse(await res.json()).status).toBe('queued');
    expect(Date.now() - started).toBeLessThan(5000);
    await closed;
  });

  it('parses Prefer as RFC 7240 does: case-insensitive, parameters and quotes allowed, the first wait counts', () => {
    expect(parsePrefer(undefined)).toEqual({});
    expect(parsePrefer('wait')).toEqual({ waitSec: 60 });
    expect(parsePrefer('WAIT=5')).toEqual({ waitSec: 5 });
    expect(parsePrefer('wait="7"')).toEqual({ waitSec: 7 });
    expect(parsePrefer('respond-async, wait=9; foo=bar')).toEqual({ waitSec: 9 });
    expect(parsePrefer(['return=minimal', 'wait=3', 'wait=4'])).toEqual({ waitSec: 3 });
    expect(parsePrefer('handling=lenient')).toEqual({});
    expect(() => parsePrefer('wait=60s')).toThrow(/Prefer: wait must be/);
  });
});
