import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { closeRedis, createRedis, type JobPreviewEvent } from '@asyncdiff/queue';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';

import { apiOptionsFromEnv, errorSchema, jobViewSchema, SIGNATURE_HEADER, verifyWebhookSignature } from './index.js';
import { startHarness, TEST_REDIS_URL, waitFor, type Harness } from './test-fixtures/harness.js';

/** One request a receiver got. */
interface Delivery {
  readonly body: string;
  readonly headers: Record<string, string>;
}

/** A loopback webhook receiver answering 200 to everything. */
async function receiver(): Promise<{ url: string; received: Delivery[]; close(): Promise<void> }> {
  const received: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ body, headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])) });
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const spec = (extra: Record<string, unknown>) => ({ type: 'image', model: 'digits', prompt: '2', steps: 3, ...extra });
const typesOf = (received: readonly Delivery[]) => received.map((d) => (JSON.parse(d.body) as { type: string }).type);
const settle = () => new Promise((r) => setTimeout(r, 400));

/** A 1×1 PNG, base64 (what a preview carries). */
const PNG_1X1 = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==';

describe('webhook events and Standard Webhooks signatures', () => {
  let h: Harness | undefined;
  let r: Awaited<ReturnType<typeof receiver>> | undefined;
  afterEach(async () => {
    await r?.close();
    await h?.close();
    h = undefined;
    r = undefined;
  });

  it('sends start and completed when asked, each signed so the standardwebhooks library verifies it', async () => {
    r = await receiver();
    h = await startHarness({ webhookTargets: { allowPrivate: true } });
    const res = await h.post('/v1/jobs', spec({ webhook: r.url, webhookEvents: ['completed', 'start', 'start'] }));
    const job = jobViewSchema.parse(await res.json());
    expect(job.spec.webhookEvents).toEqual(['start', 'completed']); // deduplicated, canonical order
    await h.worker();
    await waitFor(async () => r!.received.length >= 2, 15_000, 'start and completed');
    await settle();
    expect(typesOf(r.received)).toEqual(['job.running', 'job.succeeded']);
    const wh = new Webhook(h.api.webhookSecret);
    const [start, done] = r.received.map((d) => ({ ...d, payload: wh.verify(d.body, d.headers) as { event: string; id: string; job: { id: string; status: string } } }));
    expect(start!.payload).toMatchObject({ event: 'start', id: `wh-${job.id}-start`, job: { id: job.id } });
    expect(start!.headers['webhook-id']).toBe(`wh-${job.id}-start`);
    expect(done!.payload).toMatchObject({ event: 'completed', id: `wh-${job.id}`, job: { id: job.id, status: 'succeeded' } });
    expect(Math.abs(Number(done!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(done!.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    // Another secret does not verify, nor does a changed body.
    expect(() => new Webhook('whsec_' + Buffer.alloc(32, 7).toString('base64')).verify(done!.body, done!.headers)).toThrow(/signature/);
    expect(() => wh.verify(done!.body.replace('succeeded', 'failed'), done!.headers)).toThrow(/signature/);
    expect(done!.headers[SIGNATURE_HEADER.toLowerCase()]).toBeUndefined();
  });

  it('sends only completed by default, and nothing but what a job asked for', async () => {
    r = await receiver();
    h = await startHarness({ webhookTargets: { allowPrivate: true } });
    const plain = jobViewSchema.parse(await (await h.post('/v1/jobs', spec({ webhook: r.url }))).json());
    expect(plain.spec.webhookEvents).toEqual(['completed']);
    const startOnly = jobViewSchema.parse(await (await h.post('/v1/jobs', spec({ webhook: `${r.url}?s`, webhook_events: ['start'] }))).json());
    await h.worker();
    await waitFor(async () => r!.received.length >= 2, 15_000, 'two deliveries');
    await waitFor(async () => (await h!.request(startOnly.links.self).then((x) => x.json()) as { status: string }).status === 'succeeded', 10_000, 'the second job');
    await settle();
    const ids = r.received.map((d) => d.headers['webhook-id']).sort();
    expect(ids).toEqual([`wh-${plain.id}`, `wh-${startOnly.id}-start`].sort());
  });

  it('forwards a preview from the event bus to jobs that asked for previews (same data as the SSE event)', async () => {
    r = await receiver();
    h = await startHarness({ webhookTargets: { allowPrivate: true } });
    const wants = jobViewSchema.parse(await (await h.post('/v1/jobs', spec({ webhook: r.url, webhook_events: ['preview'] }))).json());
    const other = jobViewSchema.parse(await (await h.post('/v1/jobs', spec({ webhook: `${r.url}?other` }))).json());
    // Published the way a GPU host does: on the fleet's events channel, which every API process hears.
    const redis = createRedis(TEST_REDIS_URL, 'command');
    try {
      // The deliverer subscribes as the API starts; publish once it listens.
      await waitFor(async () => Number((await redis.pubsub('NUMSUB', `${h!.prefix}:events`))[1]) >= 1, 5000, 'the subscription');
      const preview = (jobId: string, step: number): JobPreviewEvent => ({ type: 'preview', jobId, kind: 'image', step, steps: 3, mime: 'image/png', width: 1, height: 1, data: PNG_1X1, at: Date.now() });
      for (const event of [preview(wants.id, 1), preview(other.id, 1), preview(wants.id, 2), preview(wants.id, 2)]) {
        await redis.publish(`${h.prefix}:events`, JSON.stringify(event));
      }
    } finally {
      await closeRedis(redis);
    }
    await waitFor(async () => r!.received.length >= 2, 10_000, 'two previews');
    await settle();
    expect(r.received).toHaveLength(2); // the other job asked for none; the repeated step-2 preview went once
    const bodies = r.received.map((d) => new Webhook(h!.api.webhookSecret).verify(d.body, d.headers) as { type: string; event: string; preview: Record<string, unknown> });
    expect(bodies.map((b) => b.preview['step']).sort()).toEqual([1, 2]);
    for (const b of bodies) {
      expect(b).toMatchObject({ type: 'job.preview', event: 'preview' });
      expect(b.preview).toEqual({ jobId: wants.id, step: b.preview['step'], steps: 3, mime: 'image/png', width: 1, height: 1, data: PNG_1X1 });
    }
    // Canceling ends it with no completed delivery (the job asked for previews only).
    await h.request(wants.links.cancel, { method: 'POST' });
    await settle();
    expect(r.received).toHaveLength(2);
  });

  it('adds the deprecated Asyncdiff-Signature only with the legacy flag, keyed as before; a previous secret still signs during a rotation', async () => {
    r = await receiver();
    const legacySecret = 'test-secret-0123456789';
    const previous = 'whsec_' + Buffer.alloc(32, 1).toString('base64');
    h = await startHarness({ webhookTargets: { allowPrivate: true }, webhookSecret: legacySecret, webhookPreviousSecrets: [previous], webhookLegacySignature: true });
    // A free-text secret of an earlier release is offered to receivers as its whsec_ form.
    expect(h.api.webhookSecret).toBe('whsec_' + Buffer.from(legacySecret).toString('base64'));
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', spec({ webhook: r.url }))).json());
    await h.request(job.links.cancel, { method: 'POST' });
    await waitFor(async () => r!.received.length >= 1, 10_000, 'delivery');
    const [d] = r.received;
    expect(verifyWebhookSignature(legacySecret, d!.body, d!.headers[SIGNATURE_HEADER.toLowerCase()]!)).toBe(true);
    expect(d!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [h.api.webhookSecret, previous]) expect(new Webhook(secret).verify(d!.body, d!.headers)).toMatchObject({ type: 'job.canceled' });
  });

  it('hands the signing secret to admin keys only', async () => {
    const admin = 'admin-key-0123456789abcdef';
    const user = 'user-key-0123456789abcdef0';
    h = await startHarness({ apiKeys: [user], apiAdminKeys: [admin], deliverWebhooks: false });
    const get = (key?: string) => h!.request('/v1/webhooks/default/secret', key ? { headers: { authorization: `Bearer ${key}` } } : {});
    const ok = await get(admin);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(await ok.json()).toEqual({ key: h.api.webhookSecret, previousKeys: [] });
    const forbidden = await get(user);
    expect([forbidden.status, errorSchema.parse(await forbidden.json()).error.code]).toEqual([403, 'FORBIDDEN']);
    expect((await get()).status).toBe(401);
  });

  it('validates webhookEvents: names, one spelling, and only with a webhook (422 naming the field)', async () => {
    h = await startHarness({ deliverWebhooks: false, webhookTargets: { allowPrivate: true } });
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ webhook: 'http://127.0.0.1:9/h', webhookEvents: ['output'] }, 'webhookEvents.0'],
      [{ webhook: 'http://127.0.0.1:9/h', webhookEvents: [] }, 'webhookEvents'],
      [{ webhook: 'http://127.0.0.1:9/h', webhookEvents: ['start'], webhook_events: ['start'] }, 'webhook_events'],
      [{ webhook_events: ['completed'] }, 'webhook_events'],
      [{ webhookEvents: ['start'] }, 'webhookEvents'],
    ];
    for (const [extra, field] of cases) {
      const res = await h.post('/v1/jobs', spec(extra));
      const body = errorSchema.parse(await res.json());
      expect([res.status, body.error.code], JSON.stringify(extra)).toEqual([422, 'INVALID_SPEC']);
      expect(body.error.issues?.map((i) => i.field), JSON.stringify(extra)).toContain(field);
    }
  });

  it('reads the webhook settings from the environment, naming a bad variable', () => {
    const whsec = 'whsec_' + Buffer.alloc(32, 2).toString('base64');
    expect(apiOptionsFromEnv({ WEBHOOK_SECRET: whsec, WEBHOOK_PREVIOUS_SECRETS: `legacy-secret-0123456789, ${whsec}`, WEBHOOK_LEGACY_SIGNATURE: '1' })).toMatchObject({
      webhookSecret: whsec,
      webhookPreviousSecrets: ['legacy-secret-0123456789', whsec],
      webhookLegacySignature: true,
    });
    expect(() => apiOptionsFromEnv({ WEBHOOK_SECRET: 'short' })).toThrow(/WEBHOOK_SECRET/);
    expect(() => apiOptionsFromEnv({ WEBHOOK_SECRET: 'whsec_' + Buffer.alloc(8).toString('base64') })).toThrow(/WEBHOOK_SECRET/);
    expect(() => apiOptionsFromEnv({ WEBHOOK_PREVIOUS_SECRETS: 'ok-secret-0123456789,short' })).toThrow(/WEBHOOK_PREVIOUS_SECRETS/);
    expect(() => apiOptionsFromEnv({ WEBHOOK_LEGACY_SIGNATURE: 'yes' })).toThrow(/WEBHOOK_LEGACY_SIGNATURE/);
  });
});

