import { findModelPackage } from '@asyncdiff/models';
import { afterEach, describe, expect, it } from 'vitest';

import { errorSchema, jobListSchema, jobViewSchema, modelListSchema } from './index.js';
import { startHarness, waitFor, type Harness } from './test-fixtures/harness.js';

const image = (prompt: string, extra: Record<string, unknown> = {}) => ({ type: 'image', model: 'digits', prompt, steps: 5, ...extra });

describe('jobs API (real Redis, real HTTP)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('accepts a job with 202, its links and Location, and reports it through GET', async () => {
    h = await startHarness();
    const res = await h.post('/v1/jobs', image('seven', { seed: 7, count: 2 }));
    expect(res.status).toBe(202);
    const job = jobViewSchema.parse(await res.json());
    expect(res.headers.get('location')).toBe(`/v1/jobs/${job.id}`);
    expect(job).toMatchObject({ status: 'queued', type: 'image', queuePosition: 1, attempts: 0, outputs: [], error: null });
    expect(job.spec).toMatchObject({ seed: 7, classId: 7, count: 2, steps: 5, guidance: findModelPackage('digits').defaults.guidance, scheduler: 'ddim' });
    expect(job.links).toEqual({ self: `/v1/jobs/${job.id}`, events: `/v1/jobs/${job.id}/events`, cancel: `/v1/jobs/${job.id}/cancel` });

    await h.worker();
    const done = await waitFor(async () => {
      const view = jobViewSchema.parse(await (await h.request(job.links.self)).json());
      return view.status === 'succeeded' ? view : undefined;
    }, 10_000, 'success');
    expect(done.queuePosition).toBeNull();
    expect(done.progress).toEqual({ step: 5, steps: 5, percent: 100 });
    expect(done.outputs.map((o) => [o.key, o.url])).toEqual([
      [`jobs/${job.id}/0000.png`, `https://cdn.test/jobs/${job.id}/0000.png`],
      [`jobs/${job.id}/0001.png`, `https://cdn.test/jobs/${job.id}/0001.png`],
    ]);
    expect(done.timings['runMs']).toBeGreaterThan(0);
    expect(Date.parse(done.finishedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(done.startedAt ?? ''));
  });

  it('hands output URLs out through an injected ObjectStore-like object', async () => {
    const seen: Array<[string, number | undefined]> = [];
    h = await startHarness({ outputUrls: { url: async (key, o) => (seen.push([key, o?.expiresInSec]), `http://store/${key}?sig=1`) }, outputUrlExpiresInSec: 600 });
    const { id } = (await (await h.post('/v1/jobs', image('1'))).json()) as { id: string };
    await h.worker();
    const done = await waitFor(async () => {
      const v = jobViewSchema.parse(await (await h.request(`/v1/jobs/${id}`)).json());
      return v.status === 'succeeded' ? v : undefined;
    });
    expect(done.outputs[0]?.url).toBe(`http://store/jobs/${id}/0000.png?sig=1`);
    expect(seen.at(-1)).toEqual([`jobs/${id}/0000.png`, 600]);
  });

  it('returns the same job for a repeated Idempotency-Key, also under concurrency', async () => {
    h = await startHarness();
    const first = await h.post('/v1/jobs', image('2'), { 'Idempotency-Key': 'order-1' });
    const again = await h.post('/v1/jobs', image('2'), { 'Idempotency-Key': 'order-1' });
    const a = jobViewSchema.parse(await first.json());
    const b = jobViewSchema.parse(await again.json());
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(b.id).toBe(a.id);
    expect(b.spec.seed).toBe(a.spec.seed);

    const conflict = await h.post('/v1/jobs', image('3'), { 'Idempotency-Key': 'order-1' });
    expect(conflict.status).toBe(409);
    expect(errorSchema.parse(await conflict.json()).error).toMatchObject({ code: 'IDEMPOTENCY_CONFLICT', field: 'Idempotency-Key' });

    const burst = await Promise.all(Array.from({ length: 25 }, () => h.post('/v1/jobs', image('4'), { 'Idempotency-Key': 'burst' })));
    const ids = await Promise.all(burst.map(async (r) => ((await r.json()) as { id: string }).id));
    expect(new Set(ids).size).toBe(1);
    expect(burst.filter((r) => r.headers.get('idempotent-replayed') === null)).toHaveLength(1);
    const list = jobListSchema.parse(await (await h.request('/v1/jobs?limit=100')).json());
    expect(list.jobs).toHaveLength(2);
  });

  it('cancels a queued job at once (idempotently) and a running one within a step', async () => {
    h = await startHarness();
    const queued = jobViewSchema.parse(await (await h.post('/v1/jobs', image('5'))).json());
    const c1 = await h.request(`/v1/jobs/${queued.id}/cancel`, { method: 'POST' });
    expect(c1.status).toBe(200);
    expect(jobViewSchema.parse(await c1.json())).toMatchObject({ status: 'canceled', cancelRequested: true, queuePosition: null });
    const c2 = await h.request(`/v1/jobs/${queued.id}/cancel`, { method: 'POST' });
    expect(c2.status).toBe(200);
    expect(((await c2.json()) as { status: string }).status).toBe('canceled');

    await h.worker();
    const running = jobViewSchema.parse(await (await h.post('/v1/jobs', image('6', { steps: 200 }))).json());
    await waitFor(async () => (jobViewSchema.parse(await (await h.request(running.links.self)).json()).progress.step >= 2 ? true : undefined));
    const c3 = await h.request(running.links.cancel, { method: 'POST' });
    expect(c3.status).toBe(202);
    expect(jobViewSchema.parse(await c3.json())).toMatchObject({ status: 'running', cancelRequested: true });
    const ended = await waitFor(async () => {
      const v = jobViewSchema.parse(await (await h.request(running.links.self)).json());
      return v.status === 'canceled' ? v : undefined;
    }, 3000, 'canceled');
    expect(ended.progress.step).toBeLessThan(200);
    expect(ended.outputs).toEqual([]);

    // A finished job's cancel is a no-op that returns its state.
    const c4 = await h.request(running.links.cancel, { method: 'POST' });
    expect(c4.status).toBe(200);
    expect(jobViewSchema.parse(await c4.json()).finishedAt).toBe(ended.finishedAt);
  });

  it('paginates newest first with a stable opaque cursor and filters by status', async () => {
    h = await startHarness();
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) ids.push(((await (await h.post('/v1/jobs', image(String(i)))).json()) as { id: string }).id);
    const seen: string[] = [];
    let next: string | null = '/v1/jobs?limit=4';
    let pages = 0;
    while (next) {
      const page = jobListSchema.parse(await (await h.request(next)).json());
      seen.push(...page.jobs.map((j) => j.id));
      if (pages === 0) await h.post('/v1/jobs', image('9')); // arrives mid-listing; must not shift pages
      next = page.links.next;
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([...ids].reverse());

    await h.request(`/v1/jobs/${ids[3]}/cancel`, { method: 'POST' });
    const canceled = jobListSchema.parse(await (await h.request('/v1/jobs?status=canceled')).json());
    expect(canceled.jobs.map((j) => j.id)).toEqual([ids[3]]);
    const queued = jobListSchema.parse(await (await h.request('/v1/jobs?status=queued&limit=100')).json());
    expect(queued.jobs).toHaveLength(9);
    expect(queued.jobs.every((j) => j.queuePosition !== null)).toBe(true);

    const wrongCursor = await h.request(`/v1/jobs?status=queued&cursor=${encodeURIComponent(canceled.nextCursor ?? 'x')}`);
    expect(wrongCursor.status).toBe(400);
    expect(errorSchema.parse(await wrongCursor.json()).error.field).toBe('cursor');
  });

  it('lists the models with prompts, shapes and defaults', async () => {
    h = await startHarness();
    const body = modelListSchema.parse(await (await h.request('/v1/models')).json());
    // The shipped packages; a developer's var/models may add diffusers exports to the listing.
    const shipped = body.models.filter((m) => m.format !== 'diffusers');
    expect(shipped.map((m) => m.name)).toEqual(['digits', 'moving-digits']);
    const video = shipped[1];
    expect(video).toMatchObject({ kind: 'video', sample: { dims: [1, 8, 16, 16], frames: 8 }, outputFormats: ['gif', 'mp4', 'webm'] });
    expect(video?.prompts[7]).toEqual({ classId: 7, label: '7', aliases: ['seven'] });
    expect(video?.defaults.steps).toBeGreaterThan(0);
    expect(video?.defaults.timeoutSec).toBe(600);
    // Read from each denoiser graph's declared timestep input: both take one per batch row.
    for (const m of shipped) expect(m.batching).toEqual({ timestep: 'per-sample', continuous: true, joinsAtAnyStep: true });
  });

  it('answers 400 for a malformed id and 404 for an unknown one', async () => {
    h = await startHarness();
    const bad = await h.request('/v1/jobs/not-an-id');
    expect(bad.status).toBe(400);
    expect(errorSchema.parse(await bad.json()).error).toMatchObject({ code: 'INVALID_ID', field: 'id' });
    const missing = await h.request('/v1/jobs/job_00000000000000000000000000');
    expect(missing.status).toBe(404);
    expect(errorSchema.parse(await missing.json()).error).toMatchObject({ code: 'JOB_NOT_FOUND', field: 'id' });
    const cancelMissing = await h.request('/v1/jobs/job_00000000000000000000000000/cancel', { method: 'POST' });
    expect(cancelMissing.status).toBe(404);
  });

  it('reports spec errors with every issue and its field', async () => {
    h = await startHarness();
    const res = await h.post('/v1/jobs', { type: 'video', model: 'moving-digits', prompt: 'cat', count: 3, output: { format: 'png' } });
    expect(res.status).toBe(422);
    const { error } = errorSchema.parse(await res.json());
    expect(error.code).toBe('INVALID_SPEC');
    expect(error.issues?.map((i) => i.field).sort()).toEqual(['count', 'output.format', 'prompt']);
  });

  it('is healthy, and ready only when Redis and the injected check answer', async () => {
    let storageUp = true;
    h = await startHarness({
      readiness: () => {
        if (!storageUp) throw new Error('storage unreachable');
      },
    });
    expect((await h.request('/healthz')).status).toBe(200);
    const ready = await h.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: 'ok', custom: 'ok' } });
    storageUp = false;
    const unready = await h.request('/readyz');
    expect(unready.status).toBe(503);
    // A generic word, never the raw error (it can name hosts and internals); the log has it.
    expect(await unready.json()).toEqual({ status: 'unready', checks: { redis: 'ok', custom: 'unavailable' } });
  });
});
