import { closeRedis, createRedis, publishHostStatus, type HostStatus } from '@asyncdiff/queue';
import { afterEach, describe, expect, it } from 'vitest';

import type { DashboardSnapshot } from './dashboard/snapshot.js';
import { sessionSigner } from './dashboard/session.js';
import { readSse, startHarness, TEST_REDIS_URL, waitFor, type Harness } from './test-fixtures/harness.js';

const KEY = 'dashboard-test-key-0123456789abcdef';
const OTHER = 'dashboard-other-key-0123456789abcd';
const ACTION = { 'x-asyncdiff-dashboard': '1', 'content-type': 'application/json' };

describe('dashboard (HTTP)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  const login = async (key = KEY): Promise<string> => {
    const res = await h.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ key, next: '/dashboard' }), redirect: 'manual' });
    expect(res.status).toBe(303);
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^asyncdiff_session=v1\.[0-9a-f]{16}\.\d+\.[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(cookie).not.toContain(key);
    return cookie.split(';')[0] ?? '';
  };

  it('is behind the admin keys: login form, session cookie, Bearer, logout; no key in URLs', async () => {
    h = await startHarness({ apiAdminKeys: [KEY, OTHER] });
    const anon = await h.request('/dashboard', { redirect: 'manual' });
    expect(anon.status).toBe(303);
    expect(anon.headers.get('location')).toBe('/dashboard/login?next=%2Fdashboard');
    expect((await h.request('/dashboard/api/snapshot')).status).toBe(401);
    expect((await h.request('/admin/queues', { redirect: 'manual' })).status).toBe(303);
    const form = await h.request('/dashboard/login');
    expect(form.status).toBe(200);
    expect(await form.text()).toContain('name="key"');

    const bad = await h.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ key: 'nope' }), redirect: 'manual' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('set-cookie')).toBeNull();

    const cookie = await login();
    const page = await h.request('/dashboard', { headers: { cookie } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script id="initial-snapshot" type="application/json">');
    expect(html).toContain('/dashboard/assets/dashboard.js');
    expect((await h.request('/admin/queues', { headers: { cookie } })).status).toBe(200);
    expect((await h.request('/dashboard/api/snapshot', { headers: { authorization: `Bearer ${OTHER}` } })).status).toBe(200);
    expect((await h.request('/dashboard/api/snapshot', { headers: { authorization: 'Bearer wrong-key-wrong-key-wrong' } })).status).toBe(401);

    // A key in the URL logs nobody in (it would land in logs and history): the login form it is.
    const link = await h.request(`/dashboard?key=${OTHER}`, { redirect: 'manual' });
    expect(link.status).toBe(303);
    expect(link.headers.get('location')).toMatch(/^\/dashboard\/login\?next=/);
    expect(link.headers.get('set-cookie')).toBeNull();

    // Only local redirects after login.
    const evil = await h.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ key: KEY, next: '//evil.example/x' }), redirect: 'manual' });
    expect(evil.headers.get('location')).toBe('/dashboard');

    // Tampered, expired or revoked sessions are refused.
    const [name, value = ''] = cookie.split('=');
    const tampered = `${name}=${value.replace(/\.(\d+)\./, (_m, exp: string) => `.${Number(exp) + 1}.`)}`;
    expect((await h.request('/dashboard/api/snapshot', { headers: { cookie: tampered } })).status).toBe(401);
    const redis = createRedis(TEST_REDIS_URL, 'command');
    const secret = (await redis.get(`${h.prefix}:dashboard-secret`)) ?? '';
    await closeRedis(redis);
    const expired = sessionSigner([KEY], secret).issue(KEY, Date.now() - 13 * 3600 * 1000) ?? '';
    expect((await h.request('/dashboard/api/snapshot', { headers: { cookie: `asyncdiff_session=${expired}` } })).status).toBe(401);
    expect(sessionSigner([OTHER], secret).verify(value)).toBeUndefined(); // KEY's session dies with KEY

    const out = await h.request('/dashboard/logout', { method: 'POST', headers: { cookie }, redirect: 'manual' });
    expect(out.headers.get('set-cookie')).toMatch(/^asyncdiff_session=; .*Max-Age=0/);
  });

  it('takes admin keys only: a plain API key gets 403 from the dashboard, bull-board and queue actions', async () => {
    const USER = 'dashboard-user-key-0123456789abc';
    h = await startHarness({ apiKeys: [USER], apiAdminKeys: [KEY] });
    const user = { authorization: `Bearer ${USER}` };
    const snap = await h.request('/dashboard/api/snapshot', { headers: user });
    expect(snap.status).toBe(403);
    expect(((await snap.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    expect((await h.request('/dashboard', { headers: user, redirect: 'manual' })).status).toBe(403);
    expect((await h.request('/admin/queues', { headers: user, redirect: 'manual' })).status).toBe(403);
    expect((await h.request('/dashboard/api/stream', { headers: user })).status).toBe(403);
    const pause = await h.request('/dashboard/api/queues/image/pause', { method: 'POST', headers: { ...user, ...ACTION }, body: '{}' });
    expect(pause.status).toBe(403);
    const clean = await h.request('/dashboard/api/queues/image/clean', { method: 'POST', headers: { ...user, ...ACTION }, body: '{"state":"failed"}' });
    expect(clean.status).toBe(403);
    // No session for a plain key either.
    const form = await h.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ key: USER }), redirect: 'manual' });
    expect(form.status).toBe(401);
    expect(form.headers.get('set-cookie')).toBeNull();
    // The admin key gets in, sees the queue unpaused, and sees the user's jobs.
    const admin = { authorization: `Bearer ${KEY}` };
    const snapshot = (await (await h.request('/dashboard/api/snapshot', { headers: admin })).json()) as DashboardSnapshot;
    expect(snapshot.queues.find((q) => q.name === 'image')?.paused).toBe(false);
    expect((await h.request('/admin/queues', { headers: admin })).status).toBe(200);
    const { id } = (await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '1' }, user)).json()) as { id: string };
    expect((await h.request(`/v1/jobs/${id}`, { headers: admin })).status).toBe(200);
    expect((await h.request(`/dashboard/api/jobs/${id}`, { headers: admin })).status).toBe(200);
  });

  it('is open when the API has no keys, and actions need the dashboard header (CSRF)', async () => {
    h = await startHarness();
    expect((await h.request('/dashboard')).status).toBe(200);
    expect((await h.request('/dashboard/login', { redirect: 'manual' })).status).toBe(303);
    const noHeader = await h.post('/dashboard/api/queues/image/pause', {});
    expect(noHeader.status).toBe(400);
    expect(((await noHeader.json()) as { error: { field: string } }).error.field).toBe('x-asyncdiff-dashboard');
    const ok = await h.request('/dashboard/api/queues/image/pause', { method: 'POST', headers: ACTION, body: '{}' });
    expect(await ok.json()).toEqual({ ok: true, queue: 'image', paused: true });
    const snap = (await (await h.request('/dashboard/api/snapshot')).json()) as DashboardSnapshot;
    expect(snap.queues.find((q) => q.name === 'image')?.paused).toBe(true);
    const unknown = await h.request('/dashboard/api/queues/nope/pause', { method: 'POST', headers: ACTION, body: '{}' });
    expect(unknown.status).toBe(404);
    const badClean = await h.request('/dashboard/api/queues/image/clean', { method: 'POST', headers: ACTION, body: '{"state":"active"}' });
    expect(badClean.status).toBe(400);
    expect((await h.request('/dashboard/assets/../package.json')).status).toBe(404);
    expect((await h.request('/dashboard/assets/dashboard.js')).headers.get('content-type')).toMatch(/^text\/javascript/);
  });

  it('snapshots queues with last-hour stats, hosts from heartbeats, batches, jobs, failed jobs and outputs', async () => {
    h = await startHarness();
    await h.worker({ concurrency: 2 });
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push(((await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: String(i), steps: 3 })).json()) as { id: string }).id);
    const batch = (await (await h.post('/v1/batches', { matrix: { type: 'image', model: 'digits', prompts: ['5'], seeds: [1, 2], steps: [2] } })).json()) as { id: string };
    const now = Date.now();
    const heartbeat: HostStatus = {
      hostId: 'gpu-a',
      hostname: 'node-1',
      pid: 4242,
      startedAt: now - 60_000,
      lastHeartbeatAt: now,
      heartbeatIntervalMs: 1000,
      devices: [{ label: 'cuda:0', kind: 'cuda', name: 'H100', memoryMiB: 81_559 }, { label: 'cuda:1', kind: 'cuda', name: 'H100', memoryMiB: 81_559 }],
      groups: [
        {
          id: 'g0',
          devices: ['cuda:0', 'cuda:1'],
          state: 'busy',
          jobs: [{ jobId: ids[0] ?? '', kind: 'image', model: 'digits', step: 10, steps: 50, stepsPerSec: 12.5, mode: 'async', stages: 2, devices: ['cuda:0', 'cuda:1'], startedAt: now - 800 }],
          stages: [{ device: 'cuda:0', pid: 5000, state: 'busy', restarts: 0, engine: 'digits/N2S1' }, { device: 'cuda:1', pid: 5001, state: 'busy', restarts: 1, engine: 'digits/N2S1' }],
        },
      ],
      stepTimes: [{ model: 'digits', mode: 'async', counts: [0, 0, 0, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], sumSec: 0.2, count: 10 }],
    };
    const redis = createRedis(TEST_REDIS_URL, 'command');
    await publishHostStatus(redis, h.prefix, heartbeat, 5000);
    await closeRedis(redis);
    await waitFor(async () => {
      const b = (await (await h.request(`/v1/batches/${batch.id}`)).json()) as { status: string };
      return b.status === 'completed';
    }, 15_000, 'batch');
    const snap = await waitFor(async () => {
      const s = (await (await h.request('/dashboard/api/snapshot')).json()) as DashboardSnapshot;
      // History is cached for 10 s: a snapshot from before the last completion may be served that long.
      const completed = s.history.queues.find((q) => q.name === 'image')?.completed.reduce((a, b) => a + b, 0) ?? 0;
      return (s.queues.find((q) => q.name === 'image')?.lastHour?.succeeded ?? 0) >= 6 && completed >= 6 ? s : undefined;
    }, 25_000, 'stats');
    const image = snap.queues.find((q) => q.name === 'image');
    expect(image?.lastHour).toMatchObject({ finished: 6, succeeded: 6, failed: 0, perHour: 6 });
    expect(image?.lastHour?.runMs?.p50).toBeGreaterThan(0);
    expect(image?.lastHour?.queueWaitMs?.samples).toBe(6);
    expect(snap.queues.map((q) => q.name)).toEqual(['image', 'video', 'batches']);
    expect(snap.hosts).toHaveLength(1);
    expect(snap.hosts[0]).toMatchObject({ hostId: 'gpu-a', alive: true, groups: [{ id: 'g0', state: 'busy', jobs: [{ step: 10, steps: 50, stepsPerSec: 12.5 }], stages: [{ restarts: 0 }, { restarts: 1 }] }] });
    expect(snap.batches.map((b) => [b.id, b.status, b.progress.percent])).toEqual([[batch.id, 'completed', 100]]);
    expect(snap.jobs.map((j) => j.id).slice(-4)).toEqual([...ids].reverse());
    expect(snap.gallery.map((g) => g.url).every((u) => u.startsWith('https://cdn.test/jobs/'))).toBe(true);
    const metrics = await (await h.request('/metrics')).text();
    // The charts: BullMQ's per-minute completions, the API's depth samples, the hosts' step times.
    expect(snap.history.minutes).toHaveLength(60);
    const imageHistory = snap.history.queues.find((q) => q.name === 'image');
    expect(imageHistory?.completed.reduce((a, b) => a + b, 0)).toBe(6);
    expect(imageHistory?.failed.reduce((a, b) => a + b, 0)).toBe(0);
    expect(imageHistory?.waiting.some((v) => v !== null)).toBe(true);
    expect(snap.stepTimes.series).toEqual([{ model: 'digits', mode: 'async', counts: [0, 0, 0, 4, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], sumSec: 0.2, count: 10 }]);
    expect(snap.stepTimes.bucketsSec).toHaveLength(14);
    // Job latency is the GPU hosts' histograms now (precomputed quantiles do not aggregate).
    expect(metrics).not.toContain('quantile=');
    expect(metrics).toContain('asyncdiff_batches{state="completed"} 1');
    expect(metrics).toContain('asyncdiff_gpu_hosts 1');
  });

  it('streams a snapshot, then job state and progress events, over SSE', async () => {
    h = await startHarness();
    const res = await h.request('/dashboard/api/stream');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = readSse(res, 4000);
    await new Promise((r) => setTimeout(r, 300));
    await h.worker();
    const { id } = (await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '1', steps: 4 })).json()) as { id: string };
    const all = await events;
    expect(all[0]?.event).toBe('snapshot');
    const mine = all.filter((e) => (e.data as { jobId?: string }).jobId === id);
    expect(mine.filter((e) => e.event === 'progress').map((e) => (e.data as { step: number }).step)).toEqual([1, 2, 3, 4]);
    expect(mine.filter((e) => e.event === 'job').map((e) => (e.data as { status: string }).status)).toEqual(['queued', 'running', 'succeeded']);
    const later = all.filter((e) => e.event === 'snapshot').at(-1)?.data as DashboardSnapshot;
    expect(later.jobs.find((j) => j.id === id)?.status).toBe('succeeded');
  });

  it('retries failed jobs of a queue once, cancels queued ones, and cleans BullMQ\'s failed set', async () => {
    h = await startHarness();
    let fail = true;
    await h.worker({
      handler: async ({ job }) => {
        if (fail) throw Object.assign(new Error('boom'), { retryable: false, code: 'BOOM' });
        return { outputs: [], timings: { n: job.spec.steps } };
      },
    });
    const failed = [];
    for (let i = 0; i < 3; i++) failed.push(((await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '2', steps: 1 })).json()) as { id: string }).id);
    await waitFor(async () => ((await (await h.request('/v1/jobs?status=failed')).json()) as { jobs: unknown[] }).jobs.length === 3, 10_000, 'failures');
    fail = false;
    const retry = await h.request('/dashboard/api/queues/image/retry-failed', { method: 'POST', headers: ACTION, body: '{}' });
    expect(await retry.json()).toEqual({ ok: true, queue: 'image', retried: 3 });
    const again = await h.request('/dashboard/api/queues/image/retry-failed', { method: 'POST', headers: ACTION, body: '{}' });
    expect(await again.json()).toEqual({ ok: true, queue: 'image', retried: 0 });
    await waitFor(async () => ((await (await h.request('/v1/jobs?status=succeeded')).json()) as { jobs: unknown[] }).jobs.length === 3, 10_000, 'retries');
    const one = (await (await h.request(`/v1/jobs/${failed[0]}`)).json()) as { retriedBy: string };
    const single = await h.request(`/dashboard/api/jobs/${failed[0]}/retry`, { method: 'POST', headers: ACTION, body: '{}' });
    expect(await single.json()).toMatchObject({ ok: true, created: false, job: { id: one.retriedBy } });
    const notRetryable = await h.request(`/dashboard/api/jobs/${one.retriedBy}/retry`, { method: 'POST', headers: ACTION, body: '{}' });
    expect(notRetryable.status).toBe(409);

    const clean = await h.request('/dashboard/api/queues/image/clean', { method: 'POST', headers: ACTION, body: '{"state":"failed"}' });
    expect(await clean.json()).toEqual({ ok: true, queue: 'image', removed: 3 });
    // Records outlive BullMQ's copies.
    expect(((await (await h.request(`/v1/jobs/${failed[1]}`)).json()) as { status: string }).status).toBe('failed');

    await h.request('/dashboard/api/queues/image/pause', { method: 'POST', headers: ACTION, body: '{}' });
    for (let i = 0; i < 4; i++) await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '3', steps: 1 });
    await h.post('/v1/jobs', { type: 'video', model: 'moving-digits', prompt: '3', steps: 1 });
    const cancel = await h.request('/dashboard/api/queues/image/cancel-queued', { method: 'POST', headers: ACTION, body: '{}' });
    expect(await cancel.json()).toEqual({ ok: true, queue: 'image', canceled: 4 });
    expect(((await (await h.request('/v1/jobs?status=queued')).json()) as { jobs: Array<{ type: string }> }).jobs.map((j) => j.type)).toEqual(['video']);
  });
});
