import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { hostname } from 'node:os';
import type { TLSSocket } from 'node:tls';

import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';

import { apiOptionsFromEnv, errorSchema, jobViewSchema, SIGNATURE_HEADER, signWebhook, verifyWebhookSignature } from './index.js';
import { LOCALHOST_CERT, LOCALHOST_KEY } from './test-fixtures/localhost-cert.js';
import { readSse, startHarness, waitFor, type Harness } from './test-fixtures/harness.js';

interface Received {
  readonly at: number;
  readonly body: string;
  /** The legacy `Asyncdiff-Signature` header ('' when absent). */
  readonly signature: string;
  /** Every request header (lower-case names). */
  readonly headers: Record<string, string>;
  readonly host: string;
  readonly servername: string | undefined;
}

/** What a receiver answers: a status, or a redirect. */
type Answer = number | { readonly status: number; readonly location: string };

/** A webhook receiver on a loopback address, counting every TCP connection it accepts. */
interface Receiver {
  readonly port: number;
  readonly received: Received[];
  /** TCP connections accepted so far (a refused delivery must leave this at 0). */
  connections(): number;
  /** Requests that arrived and were never answered (`hang`). */
  openRequests(): number;
  url(path?: string, host?: string): string;
  close(): Promise<void>;
}

/**
 * A local receiver answering each request with the next of `answers` (then 200); `hang` never
 * answers. Binds `address` (any of 127/8) on `port` (0: a free one); `tls` serves LOCALHOST_CERT.
 */
async function receiver(options: { answers?: Answer[]; hang?: boolean; address?: string; port?: number; tls?: boolean } = {}): Promise<Receiver> {
  const answers = [...(options.answers ?? [])];
  const received: Received[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  let open = 0;
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      received.push({
        at: Date.now(),
        body,
        signature: String(req.headers[SIGNATURE_HEADER.toLowerCase()] ?? ''),
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        host: String(req.headers.host ?? ''),
        servername: (req.socket as Partial<TLSSocket>).servername || undefined,
      });
      if (options.hang) {
        open++;
        return;
      }
      const answer = answers.shift() ?? 200;
      if (typeof answer === 'number') res.statusCode = answer;
      else {
        res.statusCode = answer.status;
        res.setHeader('Location', answer.location);
      }
      res.end();
    });
  };
  const server: Server = options.tls ? createHttpsServer({ key: LOCALHOST_KEY, cert: LOCALHOST_CERT }, handler) : createServer(handler);
  server.on(options.tls ? 'secureConnection' : 'connection', () => accepted++);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const address = options.address ?? '127.0.0.1';
  server.listen(options.port ?? 0, address);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    received,
    connections: () => accepted,
    openRequests: () => open,
    url: (path = '/hook', host = address) => `${options.tls ? 'https' : 'http'}://${host}:${port}${path}`,
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * A host name for tests that need one the default policy accepts: this machine's own name, which
 * the system resolves locally (hosts file), so even a broken deliverer that asked the system
 * instead of the stub would stay on this machine. The stub answers for it.
 */
const localName = (): string => {
  const name = hostname().toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '' ? 'asyncdiff-test-receiver.invalid' : name;
};

/** A job spec with a webhook. */
const spec = (webhook: string) => ({ type: 'image', model: 'digits', prompt: '2', steps: 3, webhook });

describe('webhooks', () => {
  let h: Harness | undefined;
  const receivers: Receiver[] = [];
  const hook = async (options: Parameters<typeof receiver>[0] = {}) => {
    const r = await receiver(options);
    receivers.push(r);
    return r;
  };
  afterEach(async () => {
    // Receivers first: a hanging one would otherwise hold the deliverer's close for its timeout.
    await Promise.all(receivers.splice(0).map((r) => r.close()));
    await h?.close();
    h = undefined;
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
    const r = await hook({ answers: [500] });
    h = await startHarness({ webhookSecret: 'test-secret-0123456789', webhookTargets: { allowPrivate: true } });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', spec(r.url()))).json());
    await h.worker();
    await waitFor(async () => r.received.length >= 2, 15_000, 'two deliveries');
    const [first, second] = r.received;
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(90); // backoff (100 ms base in tests)
    // Standard Webhooks, verified with the library a receiver would use; no legacy header by default.
    for (const x of [first!, second!]) {
      expect(new Webhook(h.api.webhookSecret).verify(x.body, x.headers)).toEqual(JSON.parse(x.body));
      expect(x.headers['webhook-id']).toBe(`wh-${job.id}`);
      expect(x.signature).toBe('');
    }
    const payload = JSON.parse(second!.body) as { type: string; id: string; job: unknown };
    expect(payload.type).toBe('job.succeeded');
    expect(payload.id).toBe(JSON.parse(first!.body).id); // same delivery id on retries
    const view = jobViewSchema.parse(payload.job);
    expect(view.id).toBe(job.id);
    expect(view.outputs[0]?.url).toBe(`https://cdn.test/jobs/${job.id}/0000.png`);
    await new Promise((res) => setTimeout(res, 300));
    expect(r.received).toHaveLength(2); // delivered once accepted, no more
  });

  it('fires on cancel too, signed with the shared secret startApi reports', async () => {
    const r = await hook();
    h = await startHarness({ webhookTargets: { allowPrivate: true } });
    expect(h.api.webhookSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', spec(r.url()))).json());
    await h.request(job.links.cancel, { method: 'POST' });
    await waitFor(async () => r.received.length >= 1, 10_000, 'delivery');
    const x = r.received[0]!;
    expect(new Webhook(h.api.webhookSecret).verify(x.body, x.headers)).toMatchObject({ type: 'job.canceled', event: 'completed' });
    expect(() => new Webhook(h!.api.webhookSecret).verify(x.body.replace('canceled', 'succeeded'), x.headers)).toThrow(/signature/);
  });

  it('refuses internal targets at submit with 400 WEBHOOK_TARGET_FORBIDDEN naming webhook (jobs and batches), before resolving a localhost name', async () => {
    const asked: string[] = [];
    const answers: Record<string, readonly string[]> = {
      'hooks.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
      'split.example.com': ['93.184.216.34', '10.0.0.7'],
      'metadata.example.com': ['169.254.169.254'],
      'mapped.example.com': ['::ffff:127.0.0.1'],
    };
    const resolver = async (host: string) => {
      asked.push(host);
      const a = answers[host];
      if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return a;
    };
    // Nothing here may be called: deliveries off, and nothing ends.
    h = await startHarness({ deliverWebhooks: false, reconcileIntervalMs: 0, webhookTargets: { resolver } });
    const forbidden = [
      'http://169.254.169.254/latest/meta-data',
      'http://127.0.0.1:6379/',
      'http://10.0.0.1/x',
      'http://0x7f000001/',
      'http://localhost.:8080/',
      'http://2130706433/',
      'http://0177.0.0.1/',
      'http://127.1/',
      'http://0/',
      'http://100.64.0.1/',
      'http://192.168.1.1/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://[fd00::1]/',
      'http://[fe80::1]/',
      'http://[64:ff9b::a00:1]/',
      'https://split.example.com/x',
      'https://metadata.example.com/x',
      'https://mapped.example.com/x',
      'https://nowhere.example.com/x',
      'http://api.localhost/',
    ];
    for (const url of forbidden) {
      const res = await h.post('/v1/jobs', spec(url));
      const body = errorSchema.parse(await res.json());
      expect([res.status, body.error.code, body.error.field], url).toEqual([400, 'WEBHOOK_TARGET_FORBIDDEN', 'webhook']);
      expect(body.error.message, url).toMatch(/^webhook: /);
    }
    const batchRes = await h.post('/v1/batches', { jobs: [{ type: 'image', model: 'digits', prompt: '1' }], webhook: 'http://169.254.169.254/latest/meta-data' });
    expect([batchRes.status, errorSchema.parse(await batchRes.json()).error]).toMatchObject([400, { code: 'WEBHOOK_TARGET_FORBIDDEN', field: 'webhook' }]);
    // Nothing was recorded, and localhost names were never resolved.
    expect(((await (await h.request('/v1/jobs')).json()) as { jobs: unknown[] }).jobs).toHaveLength(0);
    expect(asked.sort()).toEqual(['mapped.example.com', 'metadata.example.com', 'nowhere.example.com', 'split.example.com']);

    // Public targets, IPv6 literals included, are accepted.
    for (const url of ['https://hooks.example.com/x', 'https://[2606:4700:4700::1111]/hook', 'http://[2002:808:808::1]:8080/']) {
      expect((await h.post('/v1/jobs', spec(url))).status, url).toBe(202);
    }
    expect((await h.post('/v1/batches', { jobs: [{ type: 'image', model: 'digits', prompt: '1' }], webhook: 'https://hooks.example.com/b' })).status).toBe(202);
  });

  it('refuses at delivery when the name now resolves to loopback (DNS rebinding), before any connection', async () => {
    const r = await hook();
    const name = localName();
    let calls = 0;
    // Public at submit, loopback at every later resolution.
    const resolver = async (host: string) => {
      if (host !== name) throw new Error(`unexpected lookup of ${host}`);
      calls++;
      return calls === 1 ? ['93.184.216.34'] : ['127.0.0.1'];
    };
    h = await startHarness({ webhookTargets: { resolver } });
    const res = await h.post('/v1/jobs', spec(r.url('/hook', name)));
    expect(res.status).toBe(202);
    const job = jobViewSchema.parse(await res.json());
    await h.request(job.links.cancel, { method: 'POST' });
    const delivery = await waitFor(async () => {
      const d = await h!.api.jobs.webhookQueue.getJob(`wh-${job.id}`);
      return d && (await d.getState()) === 'failed' ? d : undefined;
    }, 10_000, 'the delivery to be given up');
    expect(delivery.failedReason).toMatch(/resolves to 127\.0\.0\.1, which is a loopback address/);
    expect(delivery.attemptsMade).toBe(1); // refused for good, not retried
    expect(calls).toBe(2);
    expect(r.connections()).toBe(0);
    expect(r.received).toEqual([]);
  });

  it('connects to the address it vetted, keeping the URL host in Host and TLS SNI (https, pinned)', async () => {
    // The receiver is on 127.0.0.2; the system would resolve "localhost" to 127.0.0.1, where a
    // decoy listens on the same port: only a connection pinned to the stub's answer reaches it.
    const r = await hook({ address: '127.0.0.2', tls: true });
    const decoy = await hook({ address: '127.0.0.1', port: r.port }).catch(() => undefined);
    const asked: string[] = [];
    const resolver = async (host: string) => {
      asked.push(host);
      return ['127.0.0.2'];
    };
    h = await startHarness({ webhookTargets: { allowPrivate: true, resolver }, webhookCa: LOCALHOST_CERT });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', spec(r.url('/hook', 'localhost')))).json());
    await h.request(job.links.cancel, { method: 'POST' });
    await waitFor(async () => r.received.length >= 1, 10_000, 'delivery');
    expect(r.received[0]).toMatchObject({ host: `localhost:${r.port}`, servername: 'localhost' });
    expect(asked).toEqual(['localhost', 'localhost']); // once at submit, once at delivery, never by the socket
    expect(decoy?.connections() ?? 0).toBe(0);
  });

  it('does not follow redirects: a 3xx is a failed attempt, retried at the same URL', async () => {
    const elsewhere = await hook();
    const r = await hook({ answers: [{ status: 302, location: elsewhere.url('/stolen') }] });
    h = await startHarness({ webhookTargets: { allowPrivate: true } });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', spec(r.url()))).json());
    await h.request(job.links.cancel, { method: 'POST' });
    await waitFor(async () => r.received.length >= 2, 10_000, 'the retry after the redirect');
    expect(elsewhere.connections()).toBe(0);
  });

  it('keeps delivering to other receivers while one hangs (per-receiver concurrency)', async () => {
    const slow = await hook({ hang: true });
    const fast = await hook();
    // Two slots in all, one per receiver: without the per-receiver limit the hanging receiver's
    // deliveries would hold both slots for the whole 30 s timeout.
    h = await startHarness({ webhookTargets: { allowPrivate: true }, webhookConcurrency: 2, webhookPerReceiverConcurrency: 1, webhookTimeoutMs: 30_000 });
    for (let i = 0; i < 4; i++) {
      const job = jobViewSchema.parse(await (await h.post('/v1/jobs', spec(slow.url(`/slow/${i}`)))).json());
      await h.request(job.links.cancel, { method: 'POST' });
    }
    await waitFor(async () => slow.openRequests() >= 1, 10_000, 'the slow receiver to hang');
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', spec(fast.url()))).json());
    const started = Date.now();
    await h.request(job.links.cancel, { method: 'POST' });
    await waitFor(async () => fast.received.length >= 1, 8000, 'the fast receiver');
    expect(Date.now() - started).toBeLessThan(8000);
    expect(slow.openRequests()).toBe(1);
  });

  it('fails a job BullMQ lost in the background: SSE and the webhook hear it without anyone reading the job', async () => {
    const r = await hook();
    h = await startHarness({ webhookTargets: { allowPrivate: true }, reconcileIntervalMs: 200, queue: { reconcileAfterMs: 300 } });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', spec(r.url()))).json());
    const stream = h.request(`/v1/jobs/${job.id}/events`);
    const events = readSse(await stream, 15_000);
    const [image] = h.api.jobs.bullQueues();
    await image!.remove(job.id); // as if never enqueued, or removed by hand
    const seen = await events;
    const state = seen.find((e) => e.event === 'state') as { data: { status: string; error?: { code: string } } } | undefined;
    expect(state?.data).toMatchObject({ status: 'failed', error: { code: 'JOB_LOST' } });
    await waitFor(async () => r.received.length >= 1, 10_000, 'the webhook');
    const body = JSON.parse(r.received[0]!.body) as { type: string; job: { error: { code: string } } };
    expect(body.type).toBe('job.failed');
    expect(body.job.error.code).toBe('JOB_LOST');
  });

  it('reads the opt-ins from the environment, naming a bad variable', () => {
    expect(apiOptionsFromEnv({ WEBHOOK_ALLOW_PRIVATE: '1', WEBHOOK_ALLOW_HOSTS: 'hooks.corp, *.svc.local', WEBHOOK_ALLOW_CIDRS: '10.20.0.0/16,fd00::/8' }).webhookTargets).toEqual({
      allowPrivate: true,
      allowHosts: ['hooks.corp', '*.svc.local'],
      allowCidrs: ['10.20.0.0/16', 'fd00::/8'],
    });
    expect(apiOptionsFromEnv({}).webhookTargets).toEqual({ allowPrivate: false, allowHosts: [], allowCidrs: [] });
    expect(() => apiOptionsFromEnv({ WEBHOOK_ALLOW_CIDRS: '10.0.0.0/33' })).toThrow(/WEBHOOK_ALLOW_CIDRS/);
    expect(() => apiOptionsFromEnv({ WEBHOOK_ALLOW_HOSTS: 'http://x' })).toThrow(/WEBHOOK_ALLOW_HOSTS/);
    expect(() => apiOptionsFromEnv({ WEBHOOK_ALLOW_PRIVATE: 'yes' })).toThrow(/WEBHOOK_ALLOW_PRIVATE/);
  });
});
