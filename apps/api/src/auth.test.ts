import { afterEach, describe, expect, it } from 'vitest';

import { errorSchema, startApi, type ApiServer } from './index.js';
import { silentLogger, startHarness, TEST_REDIS_URL, type Harness } from './test-fixtures/harness.js';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-0123456789abcdef';

describe('API keys and rate limits', () => {
  let h: Harness;
  let second: ApiServer | undefined;
  afterEach(async () => {
    await second?.close();
    second = undefined;
    await h?.close();
  });

  it('requires a known bearer key on /v1 but not on health, metrics and the document', async () => {
    h = await startHarness({ apiKeys: [KEY_A, KEY_B] });
    const none = await h.request('/v1/models');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(errorSchema.parse(await none.json()).error).toMatchObject({ code: 'UNAUTHORIZED', field: 'Authorization' });
    const wrong = await h.request('/v1/models', { headers: { Authorization: 'Bearer nope-nope-nope-nope' } });
    expect(wrong.status).toBe(401);
    const basic = await h.request('/v1/models', { headers: { Authorization: `Basic ${KEY_A}` } });
    expect(basic.status).toBe(401);
    expect((await h.request('/v1/models', { headers: { Authorization: `Bearer ${KEY_B}` } })).status).toBe(200);
    for (const open of ['/healthz', '/readyz', '/metrics', '/openapi.json']) expect((await h.request(open)).status).toBe(200);
  });

  it('scopes Idempotency-Keys per API key', async () => {
    h = await startHarness({ apiKeys: [KEY_A, KEY_B] });
    const body = { type: 'image', model: 'digits', prompt: '1' };
    const a = await h.post('/v1/jobs', body, { Authorization: `Bearer ${KEY_A}`, 'Idempotency-Key': 'k' });
    const b = await h.post('/v1/jobs', body, { Authorization: `Bearer ${KEY_B}`, 'Idempotency-Key': 'k' });
    expect(((await a.json()) as { id: string }).id).not.toBe(((await b.json()) as { id: string }).id);
  });

  it('limits each key with a token bucket shared by every API process, answering 429 with Retry-After', async () => {
    const limits = { apiKeys: [KEY_A, KEY_B], rateLimitBurst: 3, rateLimitPerSec: 0.5 };
    h = await startHarness(limits);
    second = await startApi({ ...limits, port: 0, logger: silentLogger, deliverWebhooks: false, queue: { connection: TEST_REDIS_URL, prefix: h.prefix } });
    const asA = { headers: { Authorization: `Bearer ${KEY_A}` } };
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const base = i % 2 === 0 ? h.url : second.url; // alternate processes: one bucket
      statuses.push((await fetch(`${base}/v1/models`, asA)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    const limited = await fetch(`${second.url}/v1/models`, asA);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(errorSchema.parse(await limited.json()).error.code).toBe('RATE_LIMITED');
    // Another key has its own bucket.
    expect((await h.request('/v1/models', { headers: { Authorization: `Bearer ${KEY_B}` } })).status).toBe(200);
    // Refill: 0.5 token/s → one request passes again after ~2 s.
    await new Promise((r) => setTimeout(r, 2100));
    expect((await h.request('/v1/models', asA)).status).toBe(200);
  });

  it('rate-limits failed authentications per IP: 429 with Retry-After, then even a right key waits; a missing header does not count', async () => {
    h = await startHarness({ apiKeys: [KEY_A], authFailureBurst: 3, authFailurePerSec: 0.5 });
    for (let i = 0; i < 5; i++) expect((await h.request('/v1/models')).status).toBe(401); // no credential: no guess
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await h.request('/v1/models', { headers: { Authorization: `Bearer guess-${i}-0123456789abcdef` } })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const limited = await h.request('/v1/models', { headers: { Authorization: `Bearer ${KEY_A}` } });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(errorSchema.parse(await limited.json()).error).toMatchObject({ code: 'AUTH_RATE_LIMITED', field: 'Authorization' });
    // The dashboard's login form shares the budget.
    const login = await h.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ key: KEY_A }), redirect: 'manual' });
    expect(login.status).toBe(429);
    expect(login.headers.get('retry-after')).not.toBeNull();
    // 0.5 tokens/s: a try is allowed again after about 2 s.
    await new Promise((r) => setTimeout(r, 2100));
    expect((await h.request('/v1/models', { headers: { Authorization: `Bearer ${KEY_A}` } })).status).toBe(200);
  });

  it('limits failed dashboard logins, which count whether the key is unknown or not an admin key', async () => {
    h = await startHarness({ apiKeys: [KEY_A], apiAdminKeys: [KEY_B], authFailureBurst: 2, authFailurePerSec: 0.2 });
    const tryKey = (key: string) => h.request('/dashboard/login', { method: 'POST', body: new URLSearchParams({ key }), redirect: 'manual' });
    expect((await tryKey(KEY_A)).status).toBe(401); // a valid key, but not an admin's
    expect((await tryKey('nope-nope-nope-nope')).status).toBe(401);
    const third = await tryKey(KEY_B);
    expect(third.status).toBe(429);
    expect(await third.text()).toContain('Too many failed attempts');
  });
});
