import { describe, expect, it } from 'vitest';

import { GpuHostError } from '../errors.js';
import { startProbeServer, type CheckResult } from './probe-server.js';

describe('GPU host probe server (/metrics, /healthz, /readyz)', () => {
  it('answers liveness at once, readiness only once the host serves it and its checks pass', async () => {
    let source: { checks: Record<string, CheckResult> } | undefined;
    const probes = await startProbeServer({ port: 0, host: '127.0.0.1', maxLoopStallMs: 5000 }, () =>
      source && { metrics: async () => ({ contentType: 'text/plain; version=0.0.4; charset=utf-8', text: '# HELP x y\n# TYPE x gauge\nx 1\n' }), readiness: async () => source?.checks ?? {} },
    );
    try {
      expect(probes.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${probes.url}/healthz`)).status).toBe(200);
      const starting = await fetch(`${probes.url}/readyz`);
      expect(starting.status).toBe(503);
      expect(await starting.json()).toEqual({ status: 'unready', checks: { started: 'unavailable' } });
      expect((await fetch(`${probes.url}/metrics`)).status).toBe(503);

      source = { checks: { started: 'ok', stages: 'ok', redis: 'unavailable' } };
      const noRedis = await fetch(`${probes.url}/readyz`);
      expect(noRedis.status).toBe(503);
      expect(await noRedis.json()).toEqual({ status: 'unready', checks: { started: 'ok', stages: 'ok', redis: 'unavailable' } });
      source = { checks: { started: 'ok', stages: 'ok', redis: 'ok' } };
      expect((await fetch(`${probes.url}/readyz`)).status).toBe(200);
      const metrics = await fetch(`${probes.url}/metrics?x=1`);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await metrics.text()).toContain('x 1');
      expect((await fetch(`${probes.url}/other`)).status).toBe(404);
      expect((await fetch(`${probes.url}/healthz`, { method: 'POST' })).status).toBe(405);
    } finally {
      await probes.close();
    }
  });

  it('fails liveness after the event loop stalled longer than allowed', async () => {
    const probes = await startProbeServer({ port: 0, host: '127.0.0.1', maxLoopStallMs: 200 }, () => undefined);
    try {
      await new Promise((r) => setTimeout(r, 250));
      // A real stall: the loop is blocked for 600 ms (what a synchronous session.run would do).
      const until = Date.now() + 600;
      while (Date.now() < until) {
        // spin
      }
      const res = await fetch(`${probes.url}/healthz`);
      const body = (await res.json()) as { status: string; eventLoopStallMs: number };
      expect(res.status).toBe(503);
      expect(body.status).toBe('stalled');
      expect(body.eventLoopStallMs).toBeGreaterThanOrEqual(400);
      expect(probes.loopStallMs()).toBeGreaterThanOrEqual(400);
    } finally {
      await probes.close();
    }
  });

  it('names the option when its port is taken', async () => {
    const first = await startProbeServer({ port: 0, host: '127.0.0.1', maxLoopStallMs: 5000 }, () => undefined);
    try {
      const taken = startProbeServer({ port: first.port, host: '127.0.0.1', maxLoopStallMs: 5000 }, () => undefined);
      await expect(taken).rejects.toBeInstanceOf(GpuHostError);
      await expect(taken).rejects.toMatchObject({ code: 'METRICS_LISTEN_FAILED', field: 'metricsPort' });
    } finally {
      await first.close();
    }
  });
});
