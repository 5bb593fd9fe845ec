import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

const here = fileURLToPath(new URL('.', import.meta.url));
const sources = readdirSync(here).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const IMPORT = /(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g;

/**
 * The job domain (specs, records, lifecycle, ids, owners, work units, webhook policy) is pure:
 * the API validates and the dashboard renders with it, tests table it, and none of that should
 * need Redis. Transport (Redis keys and scripts, BullMQ queues, clients, workers) lives in
 * ../transport and may import the domain, never the other way round.
 */
describe('libs/queue domain purity', () => {
  it('has sources to check', () => {
    expect(sources.length).toBeGreaterThan(10);
  });

  it.each(sources)('%s imports neither Redis, BullMQ nor the transport layer', (file) => {
    const text = readFileSync(`${here}${file}`, 'utf8');
    const specs = [...text.matchAll(IMPORT)].map((m) => m[1]!);
    const forbidden = specs.filter((s) => /^(ioredis|bullmq)(\/|$)/.test(s) || s.startsWith('../') || s.includes('transport/'));
    expect(forbidden, `${file}: ${forbidden.join(', ')}`).toEqual([]);
  });
});
