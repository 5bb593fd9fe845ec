import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { createLocalObjectStore } from '@asyncdiff/storage';
import { afterEach, describe, expect, it } from 'vitest';

import { batchListSchema, batchViewSchema, errorSchema, jobListSchema, jobViewSchema } from './index.js';
import { storageDeps } from './storage-deps.js';
import { startHarness, timerHandler, waitFor, type Harness } from './test-fixtures/harness.js';

const KEY_A = 'owner-key-a-0123456789abcdef';
const KEY_B = 'owner-key-b-0123456789abcdef';
const ADMIN = 'owner-admin-0123456789abcdef';
const as = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });

describe('each key sees its own work (real Redis, real HTTP)', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  const start = (extra: Parameters<typeof startHarness>[0] = {}) => startHarness({ apiKeys: [KEY_A, KEY_B], apiAdminKeys: [ADMIN], ...extra });
  const submit = async (key: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await h.post('/v1/jobs', body, as(key, headers));
    expect(res.status).toBe(202);
    return jobViewSchema.parse(await res.json());
  };

  it("answers another key's job 404 — exactly like a job that does not exist — for GET, events and cancel", async () => {
    h = await start();
    const mine = await submit(KEY_A, { type: 'image', model: 'digits', prompt: '1' });
    const missing = 'job_00000000000000000000000000';
    const calls = (id: string) => [
      () => h.request(`/v1/jobs/${id}`, { headers: as(KEY_B) }),
      () => h.request(`/v1/jobs/${id}/events`, { headers: as(KEY_B) }),
      () => h.request(`/v1/jobs/${id}/cancel`, { method: 'POST', headers: as(KEY_B) }),
    ];
    for (const [i, call] of calls(mine.id).entries()) {
      const theirs = await call();
      const none = await calls(missing)[i]!();
      expect([theirs.status, none.status]).toEqual([404, 404]);
      const [a, b] = [errorSchema.parse(await theirs.json()).error, errorSchema.parse(await none.json()).error];
      // Every error body carries its own request's id; everything else must be the same.
      expect({ ...a, requestId: undefined }).toEqual({ ...b, requestId: undefined, message: b.message.replace(missing, mine.id) });
      expect(a).toMatchObject({ code: 'JOB_NOT_FOUND', field: 'id' });
    }
    // B's cancel did nothing; the owner and an admin see the job.
    const own = jobViewSchema.parse(await (await h.request(`/v1/jobs/${mine.id}`, { headers: as(KEY_A) })).json());
    expect(own).toMatchObject({ status: 'queued', cancelRequested: false });
    expect((await h.request(`/v1/jobs/${mine.id}`, { headers: as(ADMIN) })).status).toBe(200);
    const events = await h.request(`/v1/jobs/${mine.id}/events`, { headers: as(KEY_A) });
    expect(events.status).toBe(200);
    await events.body?.cancel();
    // An admin may cancel anyone's job.
    const canceled = await h.request(`/v1/jobs/${mine.id}/cancel`, { method: 'POST', headers: as(ADMIN) });
    expect(jobViewSchema.parse(await canceled.json()).status).toBe('canceled');
  });

  it("lists only the caller's jobs (also by status and across pages); admins list everyone's", async () => {
    h = await start();
    const a = [];
    for (let i = 0; i < 3; i++) a.push(await submit(KEY_A, { type: 'image', model: 'digits', prompt: String(i) }));
    const b = await submit(KEY_B, { type: 'image', model: 'digits', prompt: '9' });
    await h.request(`/v1/jobs/${a[1]!.id}/cancel`, { method: 'POST', headers: as(KEY_A) });
    const list = async (key: string, query = '') => jobListSchema.parse(await (await h.request(`/v1/jobs${query}`, { headers: as(key) })).json());
    expect((await list(KEY_A)).jobs.map((j) => j.id)).toEqual([a[2]!.id, a[1]!.id, a[0]!.id]);
    expect((await list(KEY_B)).jobs.map((j) => j.id)).toEqual([b.id]);
    expect((await list(KEY_A, '?status=canceled')).jobs.map((j) => j.id)).toEqual([a[1]!.id]);
    expect((await list(KEY_B, '?status=canceled')).jobs).toEqual([]);
    expect((await list(KEY_A, '?status=queued')).jobs.map((j) => j.id)).toEqual([a[2]!.id, a[0]!.id]);
    const first = await list(KEY_A, '?limit=2');
    const second = await list(KEY_A, `?limit=2&cursor=${first.nextCursor}`);
    expect([...first.jobs, ...second.jobs].map((j) => j.id)).toEqual([a[2]!.id, a[1]!.id, a[0]!.id]);
    expect(second.nextCursor).toBeNull();
    expect((await list(ADMIN)).jobs.map((j) => j.id)).toEqual([b.id, a[2]!.id, a[1]!.id, a[0]!.id]);
  });

  it('keeps Idempotency-Keys per key: the same key name never replays or conflicts with another key', async () => {
    h = await start();
    const a = await submit(KEY_A, { type: 'image', model: 'digits', prompt: '1' }, { 'Idempotency-Key': 'nightly' });
    const b = await submit(KEY_B, { type: 'image', model: 'digits', prompt: '2' }, { 'Idempotency-Key': 'nightly' });
    expect(b.id).not.toBe(a.id);
    const replay = await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '1' }, as(KEY_A, { 'Idempotency-Key': 'nightly' }));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(jobViewSchema.parse(await replay.json()).id).toBe(a.id);
    const conflict = await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '3' }, as(KEY_B, { 'Idempotency-Key': 'nightly' }));
    expect(errorSchema.parse(await conflict.json()).error.code).toBe('IDEMPOTENCY_CONFLICT');
  });

  it("answers another key's batch 404 for GET, jobs, cancel and retry-failed, and lists only the caller's", async () => {
    h = await start();
    const res = await h.post('/v1/batches', { matrix: { type: 'image', model: 'digits', prompts: ['1'], seeds: [1, 2], steps: [2] } }, as(KEY_A));
    expect(res.status).toBe(202);
    const batch = batchViewSchema.parse(await res.json());
    const theirs = [
      h.request(`/v1/batches/${batch.id}`, { headers: as(KEY_B) }),
      h.request(`/v1/batches/${batch.id}/jobs`, { headers: as(KEY_B) }),
      h.request(`/v1/batches/${batch.id}/cancel`, { method: 'POST', headers: as(KEY_B) }),
      h.request(`/v1/batches/${batch.id}/retry-failed`, { method: 'POST', headers: as(KEY_B) }),
    ];
    for (const r of await Promise.all(theirs)) {
      expect(r.status).toBe(404);
      expect(errorSchema.parse(await r.json()).error).toMatchObject({ code: 'BATCH_NOT_FOUND', field: 'id' });
    }
    // The children are A's jobs too.
    const children = (await (await h.request(`/v1/batches/${batch.id}/jobs`, { headers: as(KEY_A) })).json()) as { jobs: Array<{ id: string }> };
    expect(children.jobs).toHaveLength(2);
    expect((await h.request(`/v1/jobs/${children.jobs[0]!.id}`, { headers: as(KEY_B) })).status).toBe(404);
    const listOf = async (key: string) => batchListSchema.parse(await (await h.request('/v1/batches', { headers: as(key) })).json()).batches.map((b) => b.id);
    expect(await listOf(KEY_A)).toEqual([batch.id]);
    expect(await listOf(KEY_B)).toEqual([]);
    expect(await listOf(ADMIN)).toEqual([batch.id]);
    expect(batchViewSchema.parse(await (await h.request(`/v1/batches/${batch.id}`, { headers: as(KEY_A) })).json()).status).toBe('queued');
    // An admin can act on it.
    expect((await h.request(`/v1/batches/${batch.id}/cancel`, { method: 'POST', headers: as(ADMIN) })).status).toBe(200);
  });

  it('hands output URLs (signed, expiring capabilities) only to who may see the job; an unsigned path to them is refused', async () => {
    const store = createLocalObjectStore({ rootDir: mkdtempSync(path.join(tmpdir(), 'owner-files-')) });
    h = await start({ ...storageDeps(store) });
    await h.worker({ handler: timerHandler(5) });
    const job = await submit(KEY_A, { type: 'image', model: 'digits', prompt: '4', steps: 2 });
    const done = await waitFor(async () => {
      const v = jobViewSchema.parse(await (await h.request(`/v1/jobs/${job.id}`, { headers: as(KEY_A) })).json());
      return v.status === 'succeeded' ? v : undefined;
    }, 10_000, 'job');
    const key = done.outputs[0]!.key;
    await store.put(key, Buffer.from('png bytes'), { contentType: 'image/png' });
    // The owner's signed URL works (without any API key: it is the capability) …
    const url = (await (await h.request(`/v1/jobs/${job.id}`, { headers: as(KEY_A) })).json() as { outputs: Array<{ url: string }> }).outputs[0]!.url;
    expect(url).toMatch(/signature=/);
    expect((await h.request(url)).status).toBe(200);
    // … B never gets one (the job is 404 to B), and knowing the key is not enough.
    expect((await h.request(`/v1/jobs/${job.id}`, { headers: as(KEY_B) })).status).toBe(404);
    const bare = await h.request(`/v1/files/${key}`, { headers: as(KEY_B) });
    expect(bare.status).toBe(403);
    const parsed = new URL(url, h.url);
    const otherKey = key.replace(/\d{4}\.png$/, '0001.png');
    const transplanted = await h.request(`/v1/files/${otherKey}${parsed.search}`);
    expect(transplanted.status).toBe(403);
    expect(errorSchema.parse(await transplanted.json()).error.code).toBe('URL_INVALID');
    await store.close();
  });
});
