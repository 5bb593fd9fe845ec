import { describe, expect, it } from 'vitest';

import { createLogger } from './log/logger.js';
import { startHarness, waitFor } from './test-fixtures/harness.js';

type Line = Record<string, unknown>;

/** The default (pino) logger, writing its JSON lines into `lines`. */
const collectingLogger = (lines: Line[]) => createLogger({ destination: { write: (text: string) => void lines.push(JSON.parse(text) as Line) } });

describe('request ids in logs and error bodies', () => {
  it('writes the request id on every line of a request and in the error body, never the query string', async () => {
    const lines: Line[] = [];
    const h = await startHarness({ logger: collectingLogger(lines), files: { basePath: '/v1/files', open: () => Promise.reject(new Error('disk on fire')) } });
    try {
      const res = await h.request('/v1/files/jobs/x/0000.png?expires=1&signature=SECRET-SIGNATURE', { headers: { 'x-request-id': 'req-obs-0001' } });
      expect(res.status).toBe(500);
      expect(res.headers.get('x-request-id')).toBe('req-obs-0001');
      expect(await res.json()).toEqual({ error: { code: 'INTERNAL', message: 'cannot read the file', field: null, requestId: 'req-obs-0001' } });
      // The failure (with its cause) and pino-http's access line, both carrying the id.
      const mine = await waitFor(async () => {
        const found = lines.filter((l) => l['requestId'] === 'req-obs-0001');
        return found.length >= 2 ? found : undefined;
      }, 5000, 'two log lines of the request');
      expect(mine.map((l) => l['level'])).toEqual(['error', 'error']);
      expect(mine[0]).toMatchObject({ service: 'asyncdiff-api', msg: 'GET /v1/files/jobs/x/0000.png?[redacted] failed:', err: { message: 'disk on fire' } });
      expect(mine[1]).toMatchObject({ req: { method: 'GET', path: '/v1/files/jobs/x/0000.png' }, res: { status: 500 }, durationMs: expect.any(Number) });
      expect(JSON.stringify(lines)).not.toContain('SECRET-SIGNATURE');
    } finally {
      await h.close();
    }
  });

  it('gives a request without a usable id a fresh one: in the header, the error body and the access line', async () => {
    const lines: Line[] = [];
    const h = await startHarness({ logger: collectingLogger(lines) });
    try {
      for (const given of [undefined, 'has spaces in it', 'x'.repeat(129)]) {
        const res = await h.request('/v1/jobs/nope', given === undefined ? {} : { headers: { 'x-request-id': given } });
        expect(res.status).toBe(400);
        const id = res.headers.get('x-request-id') ?? '';
        expect(id).toMatch(/^[0-9a-f-]{36}$/);
        expect(((await res.json()) as { error: { requestId: string } }).error.requestId).toBe(id);
        await waitFor(async () => lines.some((l) => l['requestId'] === id && (l['res'] as { status?: number } | undefined)?.status === 400), 5000, 'the access line');
      }
      // Probes and scrapes stay out of the log.
      for (const p of ['/healthz', '/readyz', '/metrics']) await (await h.request(p)).text();
      await (await h.request('/openapi.json')).text();
      await waitFor(async () => lines.some((l) => (l['req'] as { path?: string } | undefined)?.path === '/openapi.json'), 5000, 'the openapi access line');
      expect(lines.filter((l) => ['/healthz', '/readyz', '/metrics'].includes(String((l['req'] as { path?: string } | undefined)?.path)))).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
