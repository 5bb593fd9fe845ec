import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { createJobClient } from '@asyncdiff/queue';
import { afterEach, describe, expect, it } from 'vitest';

import { assertSafeBind, createApp, InsecureBindError, isLoopbackHost, jobViewSchema, startApi, type ApiServer } from './index.js';
import { readSse, startHarness, type Harness } from './test-fixtures/harness.js';
import { redactQuery } from './http/error-handler.js';

/** Opens a raw connection and collects what the server sends until it closes the connection. */
function rawConnection(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<number> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let data = '';
    const opened = Date.now();
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - opened)));
      resolve({ socket, received: () => data, closed });
    });
    socket.on('data', (d: Buffer) => (data += d.toString()));
    socket.on('error', reject);
  });
}

describe('the server holds up against slow clients and drains on shutdown (real HTTP)', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('answers 408 and closes a connection whose headers do not arrive in time', async () => {
    h = await startHarness({ headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const c = await rawConnection(h.url);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n'); // never the blank line
    const ms = await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2000);
  });

  it('answers 408 and closes a connection whose body trickles in past the request timeout', async () => {
    h = await startHarness({ headersTimeoutMs: 300, requestTimeoutMs: 700 });
    const c = await rawConnection(h.url);
    c.socket.write('POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"type"');
    const trickle = setInterval(() => !c.socket.destroyed && c.socket.write(' '), 100);
    const ms = await c.closed;
    clearInterval(trickle);
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(ms).toBeGreaterThanOrEqual(600);
    expect(ms).toBeLessThan(2500);
  });

  it('closes idle keep-alive connections after the keep-alive timeout', async () => {
    h = await startHarness({ keepAliveTimeoutMs: 300 });
    const c = await rawConnection(h.url);
    c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const ms = await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2000);
  });

  it('drains on close: stops accepting, ends event streams first, lets an in-flight request finish', async () => {
    let release: () => void = () => undefined;
    const slow = new Promise<void>((r) => (release = r));
    let inReadiness = false;
    h = await startHarness({
      readiness: async () => {
        inReadiness = true;
        await slow;
      },
    });
    const job = jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '1' })).json());
    const stream = readSse(await h.request(job.links.events), 10_000);
    const inFlight = h.request('/readyz');
    while (!inReadiness) await sleep(10);
    const t0 = Date.now();
    const closing = h.api.close();
    // The event stream ends at once (the client reconnects elsewhere) …
    const events = await stream;
    expect(events.map((e) => e.event)).toEqual(['job']);
    expect(Date.now() - t0).toBeLessThan(1000);
    // … no new connection is accepted …
    await expect(fetch(`${h.url}/healthz`)).rejects.toThrow();
    // … and the request already running completes.
    await sleep(300);
    release();
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready', checks: { redis: 'ok', custom: 'ok' } });
    await closing;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('cuts requests still running when the drain time is up', async () => {
    h = await startHarness({ drainTimeoutMs: 300, readiness: () => sleep(5000).then(() => undefined) });
    const inFlight = h.request('/readyz').then(
      (r) => r.status,
      () => 'cut',
    );
    await sleep(100);
    const t0 = Date.now();
    await h.api.close();
    const took = Date.now() - t0;
    expect(await inFlight).toBe('cut');
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(3000);
  });
});

describe('listening address policy', () => {
  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.3.2.1', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.internal', '::ffff:10.0.0.1']) expect(isLoopbackHost(host)).toBe(false);
  });

  it('refuses a public address without keys, before connecting anywhere, unless told it is meant', async () => {
    expect(() => assertSafeBind('0.0.0.0', false, false, '--insecure')).toThrow(/--insecure/);
    expect(() => assertSafeBind('0.0.0.0', true, false, '--insecure')).not.toThrow();
    expect(() => assertSafeBind('0.0.0.0', false, true, '--insecure')).not.toThrow();
    expect(() => assertSafeBind('127.0.0.1', false, false, '--insecure')).not.toThrow();
    // startApi decides before it opens a Redis connection or a socket (the Redis URL is unreachable on purpose).
    const refused = await startApi({ host: '0.0.0.0', port: 0, queue: { connection: 'redis://127.0.0.1:1' } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InsecureBindError);
    expect((refused as Error).message).toMatch(/API_KEYS.*insecure/);
  });
});

describe('ops routes', () => {
  let api: ApiServer | undefined;
  afterEach(async () => {
    await api?.close();
    api = undefined;
  });

  it('keeps /healthz and /readyz open, and /readyz never echoes a raw Redis error', async () => {
    const jobs = createJobClient({ connection: 'redis://127.0.0.1:1', prefix: '{dead-redis}' });
    const logged: unknown[] = [];
    const app = createApp({ jobs, options: { apiKeys: ['ops-key-0123456789abcdef'] }, logger: { info: () => undefined, warn: (...a: unknown[]) => logged.push(a), error: () => undefined } });
    const server = createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const ready = await fetch(`${base}/readyz`);
      expect(ready.status).toBe(503);
      const text = await ready.text();
      expect(JSON.parse(text)).toEqual({ status: 'unready', checks: { redis: 'unavailable' } });
      expect(text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|6379|:1\b|timed out|MaxRetries|Error/);
      // The reason is in the server's log instead.
      expect(JSON.stringify(logged.map((l) => String((l as unknown[])[1])))).toMatch(/ECONNREFUSED|timed out|Connection is closed|MaxRetriesPerRequest/);
    } finally {
      server.close();
      server.closeAllConnections();
      await jobs.close();
    }
  });

  it('protects /metrics with METRICS_TOKEN when one is set', async () => {
    const h = await startHarness({ metricsToken: 'metrics-token-0123456789', authFailureBurst: 3, authFailurePerSec: 0.5 });
    try {
      const none = await h.request('/metrics');
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await h.request('/metrics', { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
      const ok = await h.request('/metrics', { headers: { authorization: 'Bearer metrics-token-0123456789' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('asyncdiff_http_requests_total');
      for (const open of ['/healthz', '/readyz', '/openapi.json', '/v1/models']) expect((await h.request(open)).status).toBe(200);
    } finally {
      await h.close();
    }
  });

  it('logs failed requests without their query string', async () => {
    const lines: string[] = [];
    const h = await startHarness({
      files: { basePath: '/v1/files', open: () => Promise.reject(new Error('disk on fire')) },
      logger: { info: () => undefined, warn: () => undefined, error: (...a: unknown[]) => lines.push(a.map(String).join(' ')) },
    });
    try {
      const res = await h.request('/v1/files/jobs/x/0000.png?expires=1&signature=SECRET-SIGNATURE');
      expect(res.status).toBe(500);
      expect(lines.join('\n')).toContain('GET /v1/files/jobs/x/0000.png?[redacted] failed');
      expect(lines.join('\n')).not.toContain('SECRET-SIGNATURE');
      expect(redactQuery('/a/b')).toBe('/a/b');
    } finally {
      await h.close();
    }
  });
});
