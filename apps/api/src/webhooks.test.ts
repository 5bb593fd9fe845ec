import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { jobViewSchema, SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './index.js';
import { startHarness, waitFor, type Harness } from './test-fixtures/harness.js';

interface Received {
  readonly at: number;
  readonly body: string;
  readonly signature: string;
}

/** A local webhook receiver answering each request with the next status of `answers` (then 200). */
async function receiver(answers: number[]): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({ at: Date.now(), body, signature: String(req.headers[SIGNATURE_HEADER.toLowerCase()] ?? '') });
      res.statusCode = answers.shift() ?? 200;
      res.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

describe('webhooks', () => {
  let h: Harness;
  let server: Server | undefined;
  afterEach(async () => {
    server?.close();
    await h?.close();
  });

  it('signs t=<unix>,v1=<hmac> over "t.body" and verifies only the exact body within tolerance', () => {
    const header = signWebhook('s3cret', '{"a":1}', 1_700_000_000);
    expect(header).toMatch(/^t=1700000000,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature('s3cret', '{"a":1}', header, 300, 1_700_000_100)).toBe(true);
    expect(verifyWebhookSignature('s3cret', '{"a":2}', header, 300, 1_700_000_100)).toBe(false);
    expect(verifyWebhookSignature('other', '{"a":1}', header, 300, 1_700_000_100)).toBe(false);
    expect(verifyWebhookSignature('s3cret', '{"a":1}', header, 300, 1_700_001_000)).toBe(false);
    expect(verifyWebhookSignature('s3cret', '{"a":1}', 'garbage', 300, 1_700_000_100)).toBe(false);
  });

  it('delivers a signed webhook on success, retrying with backoff after the receiver first answers 500', async () => {
    const hook = await receiver([500]);
    server = hook.server;
    h = await startHarness({ webhookSecret: 'test-secret-0123456789' });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '2', steps: 3, webhook: hook.url })).json());
    await h.worker();
    await waitFor(async () => hook.received.length >= 2, 15_000, 'two deliveries');
    const [first, second] = hook.received;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(90); // backoff (100 ms base in tests)
    for (const r of [first!, second!]) expect(verifyWebhookSignature('test-secret-0123456789', r.body, r.signature)).toBe(true);
    const payload = JSON.parse(second!.body) as { type: string; id: string; job: unknown };
    expect(payload.type).toBe('job.succeeded');
    expect(payload.id).toBe(JSON.parse(first!.body).id); // same delivery id on retries
    const view = jobViewSchema.parse(payload.job);
    expect(view.id).toBe(job.id);
    expect(view.outputs[0]?.url).toBe(`https://cdn.test/jobs/${job.id}/0000.png`);
    await new Promise((r) => setTimeout(r, 300));
    expect(hook.received).toHaveLength(2); // delivered once accepted, no more
  });

  it('fires on cancel too, signed with the shared secret startApi reports', async () => {
    const hook = await receiver([]);
    server = hook.server;
    h = await startHarness();
    expect(h.api.webhookSecret).toMatch(/^[0-9a-f]{64}$/);
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '2', webhook: hook.url })).json());
    await h.request(job.links.cancel, { method: 'POST' });
    await waitFor(async () => hook.received.length >= 1, 10_000, 'delivery');
    const r = hook.received[0]!;
    expect(verifyWebhookSignature(h.api.webhookSecret, r.body, r.signature)).toBe(true);
    expect((JSON.parse(r.body) as { type: string }).type).toBe('job.canceled');
  });
});
