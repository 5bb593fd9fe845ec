import type { Express } from 'express';
import { afterEach, describe, expect, it } from 'vitest';

import { API_ROUTES } from './index.js';
import { startHarness, waitFor, type Harness } from './test-fixtures/harness.js';

/** The routes express actually serves, as [method, OpenAPI path]. */
function servedRoutes(app: Express): string[] {
  const stack = (app as unknown as { router: { stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> } }).router.stack;
  return stack
    .filter((layer) => layer.route)
    .flatMap((layer) => Object.keys(layer.route!.methods).map((m) => `${m} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`))
    .sort();
}

describe('OpenAPI document and metrics', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('serves an OpenAPI 3.1 document listing every route the app serves', async () => {
    h = await startHarness();
    const res = await h.request('/openapi.json');
    expect(res.status).toBe(200);
    const doc = JSON.parse(await res.text()) as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties?: Record<string, unknown>; required?: string[] }> };
    };
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`)).sort();
    expect(documented).toEqual(servedRoutes(h.api.app));
    expect(documented).toEqual(API_ROUTES.map(([m, p]) => `${m} ${p}`).sort());
    const operationIds = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(operationIds).size).toBe(operationIds.length);
    // Schemas generated from zod: the request body lists every spec field, unknown fields closed.
    const input = doc.components.schemas['JobSpecInput'];
    expect(Object.keys(input?.properties ?? {}).sort()).toEqual(
      ['count', 'guidance', 'height', 'model', 'negativePrompt', 'output', 'parallel', 'preview', 'priority', 'prompt', 'scheduler', 'seed', 'steps', 'timeoutSec', 'type', 'webhook', 'webhookEvents', 'webhook_events', 'width'].sort(),
    );
    expect(input?.properties?.['timeoutSec']).toMatchObject({ type: 'integer', minimum: 1, maximum: 3600, description: expect.stringContaining('TIMEOUT') });
    expect(input?.required?.sort()).toEqual(['model', 'prompt', 'type']);
    expect(doc.components.schemas['Job']?.properties).toHaveProperty('queuePosition');
    expect(doc.components.schemas['Job']?.properties).toHaveProperty('expiresAt');
    expect(input?.properties?.['webhookEvents']).toMatchObject({ type: 'array', items: { enum: ['start', 'preview', 'completed'] } });
    const create = doc.paths['/v1/jobs']?.['post'] as { responses: Record<string, unknown>; parameters: Array<{ name: string }> } | undefined;
    expect(Object.keys(create?.responses ?? {})).toEqual(expect.arrayContaining(['200', '202']));
    expect(create?.parameters.map((p) => p.name)).toContain('Prefer');
    // Batches: the request lists both forms and the shared fields; the view has counts, ETA, artefacts.
    const batch = doc.components.schemas['BatchRequest'];
    expect(Object.keys(batch?.properties ?? {}).sort()).toEqual(['jobs', 'matrix', 'name', 'parallel', 'priority', 'webhook']);
    const matrix = (batch?.properties?.['matrix'] ?? {}) as { properties?: Record<string, unknown>; required?: string[] };
    expect(Object.keys(matrix.properties ?? {}).sort()).toEqual(['count', 'guidance', 'model', 'output', 'prompts', 'scheduler', 'seeds', 'steps', 'type']);
    expect(matrix.required?.sort()).toEqual(['model', 'prompts', 'seeds', 'type']);
    for (const p of ['counts', 'progress', 'eta', 'failed', 'manifest', 'contactSheet', 'links']) expect(doc.components.schemas['Batch']?.properties).toHaveProperty(p);
    expect(doc.paths['/v1/batches']?.['post']?.responses).toHaveProperty('202');
    expect(doc.paths['/v1/batches/{id}/retry-failed']?.['post']?.responses).toHaveProperty('202');
    // Every $ref resolves.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]);
    for (const name of refs) expect(doc.components.schemas).toHaveProperty(name!);
  });

  it('exposes Prometheus metrics: requests by route and status, latency, queue counts, terminal jobs', async () => {
    h = await startHarness();
    await h.worker();
    const { id } = (await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '4', steps: 2 })).json()) as { id: string };
    await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: 'cat' });
    await h.request('/v1/jobs/nope');
    await waitFor(async () => ((await (await h.request(`/v1/jobs/${id}`)).json()) as { status: string }).status === 'succeeded', 10_000, 'job');
    // The record turns succeeded just before BullMQ moves its job to completed.
    const text = await waitFor(async () => {
      const res = await h.request('/metrics');
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0.0.4/);
      const body = await res.text();
      return body.includes('asyncdiff_queue_jobs{queue="image",state="completed"} 1') ? body : undefined;
    }, 5000, 'completed count');
    expect(text).toContain('# TYPE asyncdiff_http_requests_total counter');
    expect(text).toContain('asyncdiff_http_requests_total{method="POST",route="/v1/jobs",status="202"} 1');
    expect(text).toContain('asyncdiff_http_requests_total{method="POST",route="/v1/jobs",status="422"} 1');
    expect(text).toContain('asyncdiff_http_requests_total{method="GET",route="/v1/jobs/:id",status="400"} 1');
    // prom-client writes `le` first.
    expect(text).toMatch(/asyncdiff_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/v1\/jobs\/:id"\} \d+/);
    expect(text).toContain('# TYPE asyncdiff_queue_jobs gauge');
    expect(text).toContain('asyncdiff_queue_jobs{queue="image",state="completed"} 1');
    expect(text).toContain('asyncdiff_queue_jobs{queue="video",state="waiting"} 0');
    expect(text).toContain('asyncdiff_jobs_finished_total{kind="image",status="succeeded"} 1');
    // Every sample line is well-formed exposition text.
    for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_]\w*="(?:[^"\\]|\\.)*",?)*\})? [-+0-9.eInfNa]+$/);
    }
  });
});
