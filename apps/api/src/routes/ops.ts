import type { Express } from 'express';

import { PROMETHEUS_CONTENT_TYPE } from '../metrics/registry.js';
import { openApiDocument } from '../openapi/document.js';
import type { RouteContext } from './context.js';

/**
 * Unauthenticated operational routes: `/healthz` (the process answers), `/readyz` (Redis and the
 * injected check answer), `/metrics` (Prometheus text) and `/openapi.json`.
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
        checks[name] = err instanceof Error ? err.message : 'failed';
      }
    };
    await run('redis', () => ctx.jobs.ping());
    if (ctx.readiness) await run('custom', ctx.readiness);
    const ready = Object.values(checks).every((v) => v === 'ok');
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unready', checks });
  });

  app.get('/metrics', async (_req, res) => {
    res.type(PROMETHEUS_CONTENT_TYPE).send(await ctx.metrics.registry.render());
  });

  const doc = openApiDocument();
  app.get('/openapi.json', (_req, res) => {
    res.json(doc);
  });
}

async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
