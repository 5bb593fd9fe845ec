import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { GpuHostError } from '../errors.js';

/** One readiness check's verdict, as `/readyz` reports it (reasons go to the log, not the caller). */
export type CheckResult = 'ok' | 'unavailable';

/** What the probe server asks the host. */
export interface ProbeSource {
  /** Prometheus exposition text and its content type. */
  metrics(): Promise<{ contentType: string; text: string }>;
  /** Named readiness checks: `stages` (no stage process starting or crashed) and `redis` (PING answers). */
  readiness(): Promise<Record<string, CheckResult>>;
}

/** A listening probe server. */
export interface ProbeServer {
  readonly port: number;
  readonly url: string;
  /** The longest event-loop stall seen over the last `windowMs`, in ms. */
  loopStallMs(): number;
  close(): Promise<void>;
}

/** Options of `startProbeServer`. */
export interface ProbeServerOptions {
  readonly port: number;
  readonly host: string;
  /** `/healthz` fails while the loop stalled longer than this within the last 10 s. */
  readonly maxLoopStallMs: number;
}

const TICK_MS = 100;
const WINDOW_MS = 10_000;

/**
 * The GPU host's HTTP port for Prometheus and Kubernetes: `GET /metrics` (text format 0.0.4),
 * `GET /healthz` (200 while the process runs and its event loop has not stalled for more than
 * `maxLoopStallMs` in the last 10 s — a stalled loop stops BullMQ's lock renewal), `GET /readyz`
 * (200 once the host's stages are loaded and Redis answers, else 503 with the failing checks).
 * It listens before the host starts its groups, so liveness answers during a long start-up.
 */
export async function startProbeServer(options: ProbeServerOptions, source: () => ProbeSource | undefined): Promise<ProbeServer> {
  // Stalls: how late each 100 ms tick fires.
  const stalls: Array<{ at: number; ms: number }> = [];
  let expected = Date.now() + TICK_MS;
  const ticker = setInterval(() => {
    const now = Date.now();
    stalls.push({ at: now, ms: Math.max(0, now - expected) });
    expected = now + TICK_MS;
    while (stalls.length > 0 && stalls[0]!.at < now - WINDOW_MS) stalls.shift();
  }, TICK_MS);
  ticker.unref();
  const loopStallMs = () => Math.max(0, ...stalls.map((s) => s.ms), Date.now() - expected);

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'use GET' } });
      if (path === '/healthz') {
        const stall = loopStallMs();
        const ok = stall <= options.maxLoopStallMs;
        return json(res, ok ? 200 : 503, { status: ok ? 'ok' : 'stalled', eventLoopStallMs: Math.round(stall) });
      }
      const host = source();
      if (path === '/readyz') {
        const checks: Record<string, CheckResult> = host ? await host.readiness() : { started: 'unavailable' };
        const ready = Object.values(checks).every((v) => v === 'ok');
        return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'unready', checks });
      }
      if (path === '/metrics') {
        if (!host) return json(res, 503, { error: { code: 'UNAVAILABLE', message: 'the host is starting' } });
        const { contentType, text } = await host.metrics();
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        return res.end(text);
      }
      json(res, 404, { error: { code: 'NOT_FOUND', message: `no route for ${req.method ?? 'GET'} ${path}; try /metrics, /healthz, /readyz` } });
    })().catch((err: unknown) => {
      if (!res.headersSent) json(res, 500, { error: { code: 'INTERNAL', message: 'internal error' } });
      else res.destroy(err instanceof Error ? err : undefined);
    });
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        server.off('listening', onListening);
        reject(err);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(options.port, options.host);
    });
  } catch (err) {
    clearInterval(ticker);
    throw new GpuHostError('METRICS_LISTEN_FAILED', `cannot listen on ${options.host}:${options.port} for /metrics, /healthz, /readyz: ${(err as Error).message}`, false, 'metricsPort', { cause: err });
  }
  const { port, address } = server.address() as AddressInfo;
  const shown = address.includes(':') ? `[${address}]` : address;
  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${shown}:${port}`,
    loopStallMs,
    close() {
      closing ??= new Promise<void>((resolve) => {
        clearInterval(ticker);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
