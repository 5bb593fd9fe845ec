/**
 * The OpenAPI document against what the server really does: per-operation security, the
 * response headers real answers carry (both ways: what is sent is documented, what is required
 * is sent), and every Server-Sent Event a real stream sends matches its documented schema.
 */
import { afterEach, describe, expect, it } from 'vitest';

import { jobViewSchema } from '../index.js';
import { readSse, startHarness, timerHandler, type Harness } from '../test-fixtures/harness.js';
import { RESPONSE_HEADERS } from './builders.js';
import { JOB_STREAM_EVENTS, type JobStreamEvent } from './job-stream.js';

const KEY = 'openapi-doc-key-0123456789abcdef';
const auth = { authorization: `Bearer ${KEY}` };

interface Header {
  $ref: string;
}
interface Operation {
  operationId: string;
  security?: unknown[];
  tags?: string[];
  parameters: Array<{ $ref?: string; name?: string }>;
  responses: Record<string, { headers?: Record<string, Header>; content?: Record<string, { schema: { $ref?: string } }> }>;
}
interface Doc {
  servers?: Array<{ url: string }>;
  tags: Array<{ name: string; description: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { headers: Record<string, { required?: boolean }>; schemas: Record<string, { oneOf?: unknown[]; discriminator?: { propertyName: string; mapping: Record<string, string> } }> };
}

const fetchDoc = async (h: Harness): Promise<Doc> => (await (await h.request('/openapi.json')).json()) as Doc;

describe('OpenAPI document matches the server', () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it('declares servers, tags, and per-operation security: bearer on /v1, the metrics token (or none) on /metrics, none on probes and the document', async () => {
    h = await startHarness();
    const doc = await fetchDoc(h);
    expect(doc.servers?.length).toBeGreaterThan(0);
    const tagNames = doc.tags.map((t) => t.name);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        const where = `${method} ${path}`;
        expect(op.security, where).toBeDefined();
        if (path.startsWith('/v1/')) expect(op.security, where).toEqual([{ bearer: [] }]);
        else if (path === '/metrics') expect(op.security, where).toEqual([{ metricsToken: [] }, {}]);
        else expect(op.security, where).toEqual([]);
        expect(op.tags?.length, where).toBe(1);
        expect(tagNames, where).toContain(op.tags?.[0]);
        expect(op.parameters.map((p) => p.$ref), where).toContain('#/components/parameters/RequestId');
        // Every key-guarded operation says what its client errors are.
        if (path.startsWith('/v1/')) expect(Object.keys(op.responses).filter((s) => s.startsWith('4')).length, where).toBeGreaterThan(0);
      }
    }
  });

  it('documents exactly the API headers that real answers carry', async () => {
    h = await startHarness({ apiKeys: [KEY], rateLimitBurst: 4, rateLimitPerSec: 0.001, metricsToken: 'openapi-doc-metrics-token-0123' });
    const doc = await fetchDoc(h);
    const names = Object.keys(RESPONSE_HEADERS);
    const check = async (res: Response, method: string, path: string) => {
      const where = `${method} ${path} ${res.status}`;
      const documented = doc.paths[path]?.[method]?.responses[String(res.status)];
      expect(documented, `${where} is documented`).toBeDefined();
      const declared = Object.keys(documented?.headers ?? {});
      for (const ref of Object.values(documented?.headers ?? {})) expect(ref.$ref).toMatch(/^#\/components\/headers\//);
      const sent = names.filter((n) => res.headers.has(n));
      expect(sent.filter((n) => !declared.includes(n)), `${where}: sent but not documented`).toEqual([]);
      const required = declared.filter((n) => doc.components.headers[n]?.required);
      expect(required.filter((n) => !res.headers.has(n)), `${where}: required but not sent`).toEqual([]);
      return sent;
    };

    // 401 (before the rate limit: no RateLimit-*), then four requests the bucket allows, then 429.
    expect(await check(await h.request('/v1/models'), 'get', '/v1/models')).toEqual(['X-Request-Id', 'WWW-Authenticate']);
    const body = { type: 'image', model: 'digits', prompt: '3' };
    const first = await h.post('/v1/jobs', body, { ...auth, 'idempotency-key': 'doc-test' });
    expect(await check(first, 'post', '/v1/jobs')).toEqual(['X-Request-Id', 'RateLimit-Limit', 'RateLimit-Remaining', 'Location']);
    const replay = await h.post('/v1/jobs', body, { ...auth, 'idempotency-key': 'doc-test' });
    expect(await check(replay, 'post', '/v1/jobs')).toContain('Idempotent-Replayed');
    const job = jobViewSchema.parse(await first.json());
    expect(first.headers.get('location')).toBe(job.links.self);
    await check(await h.request(`/v1/jobs/${job.id}`, { headers: auth }), 'get', '/v1/jobs/{id}');
    expect((await check(await h.request('/v1/jobs/not-a-job', { headers: auth }), 'get', '/v1/jobs/{id}')).sort()).toEqual(['RateLimit-Limit', 'RateLimit-Remaining', 'X-Request-Id']);
    const limited = await h.request(`/v1/jobs/${job.id}`, { headers: auth });
    expect(limited.status).toBe(429);
    expect((await check(limited, 'get', '/v1/jobs/{id}')).sort()).toEqual(['RateLimit-Limit', 'RateLimit-Remaining', 'Retry-After', 'X-Request-Id']);

    // Open routes: no rate limit; /metrics without its token is 401 with WWW-Authenticate.
    expect(await check(await h.request('/healthz', { headers: { 'x-request-id': 'probe-1' } }), 'get', '/healthz')).toEqual(['X-Request-Id']);
    expect(await check(await h.request('/readyz'), 'get', '/readyz')).toEqual(['X-Request-Id']);
    expect(await check(await h.request('/openapi.json'), 'get', '/openapi.json')).toEqual(['X-Request-Id']);
    expect(await check(await h.request('/metrics'), 'get', '/metrics')).toEqual(['X-Request-Id', 'WWW-Authenticate']);
  });

  it('documents every Server-Sent Event a job stream sends, and each one matches its schema', async () => {
    h = await startHarness();
    const doc = await fetchDoc(h);
    const stream = doc.components.schemas['JobStreamEvent'];
    expect(Object.keys(stream?.discriminator?.mapping ?? {}).sort()).toEqual(Object.keys(JOB_STREAM_EVENTS).sort());
    expect(stream?.oneOf).toHaveLength(Object.keys(JOB_STREAM_EVENTS).length);
    expect(doc.paths['/v1/jobs/{id}/events']?.['get']?.responses['200']?.content?.['text/event-stream']?.schema.$ref).toBe('#/components/schemas/JobStreamEvent');

    await h.worker({ handler: timerHandler(40) });
    const submit = async (steps: number) => jobViewSchema.parse(await (await h.post('/v1/jobs', { type: 'image', model: 'digits', prompt: '5', steps })).json());
    const done = await submit(4);
    const canceled = await submit(500);
    const reading = [readSse(await h.request(done.links.events)), readSse(await h.request(canceled.links.events))];
    await new Promise((r) => setTimeout(r, 600));
    await h.request(canceled.links.cancel, { method: 'POST' });
    const events = (await Promise.all(reading)).flat();

    const seen = new Set(events.map((e) => e.event));
    expect([...seen].filter((name) => !(name in JOB_STREAM_EVENTS))).toEqual([]);
    for (const name of ['job', 'progress', 'state', 'cancel-requested']) expect(seen).toContain(name);
    for (const e of events) {
      const documented: JobStreamEvent = JOB_STREAM_EVENTS[e.event as keyof typeof JOB_STREAM_EVENTS];
      const parsed = documented.schema.safeParse(e.data);
      expect(parsed.success ? [] : parsed.error.issues, `${e.event} ${JSON.stringify(e.data).slice(0, 200)}`).toEqual([]);
    }
  }, 30_000);
});
