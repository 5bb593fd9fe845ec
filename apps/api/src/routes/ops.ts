import { createHash, timingSafeEqual } from 'node:crypto';

import type { Express, Request } from 'express';

import { ApiError } from '../errors.js';
import { authRateLimited, bearerOf } from '../http/auth.js';
import { openApiDocument } from '../openapi/document.js';
import type { RouteContext } from './context.js';

/**
 * Operational routes, open to probes: `/healthz` (the process answers), `/readyz` (Redis and the
 * injected check answer; failures are reported as `unavailable` — the reason goes to the log,
 * never to the caller), `/metrics` (Prometheus text; behind `Authorization: Bearer <token>`
 * when `metricsToken` is set) and `/openapi.json`.
 */
export function registerOpsRoutes(app: Express, ctx: RouteContext): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    const run = async (name: string, check: () => Promise<void> | void) => {
      try {
        await withTimeout(Promise.resolve(check()), 2000);
        checks[name] = 'ok';
      } catch (err) {
        // Raw errors name hosts, ports and internals: log them, answer a stable word.
        ctx.logger.warn(`readiness check ${name} failed`, err);
        checks[name] = 'unavailable';
      }
    };
    await run('redis', () => ctx.jobs.ping());
    if (ctx.readiness) await run('custom', ctx.readiness);
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unready', checks });
  });

  const metricsAllowed = metricsGuard(ctx.options.metricsToken);
  app.get('/metrics', async (req, res) => {
    if (ctx.options.metricsToken !== null) {
      const ip = req.ip ?? 'unknown';
      const blocked = ctx.authFailures.blocked(ip);
      if (blocked !== undefined) throw authRateLimited(blocked);
      if (!metricsAllowed(req)) {
        const wait = req.get('authorization') ? await ctx.authFailures.fail(ip) : undefined;
        if (wait !== undefined) throw authRateLimited(wait);
        throw new ApiError('UNAUTHORIZED', 'send "Authorization: Bearer <metrics token>"', 'Authorization', { headers: { 'WWW-Authenticate': 'Bearer realm="metrics"' } });
      }
    }
    res.type(ctx.metrics.contentType).send(await ctx.metrics.render());
  });

  const doc = openApiDocument();
  app.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
}

/** Whether a request carries the metrics token (always true without one). Compared by hash, in constant time. */
function metricsGuard(token: string | null): (req: Request) => boolean {
  if (token === null) return () => true;
  const expected = createHash('sha256').update(token).digest();
  return (req) => {
    const given = bearerOf(req);
    return given !== undefined && timingSafeEqual(createHash('sha256').update(given).digest(), expected);
  };
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
