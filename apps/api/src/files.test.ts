import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { createLocalObjectStore } from '@asyncdiff/storage';
import { afterEach, describe, expect, it } from 'vitest';

import { storageDeps } from './storage-deps.js';
import { startHarness, type Harness } from './test-fixtures/harness.js';

describe('local-folder outputs behind signed URLs', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function setup(): Promise<{ h: Harness; url: (key: string, expiresInSec?: number) => Promise<string> }> {
    const store = createLocalObjectStore({ rootDir: mkdtempSync(path.join(tmpdir(), 'files-')) });
    h = await startHarness({ ...storageDeps(store) });
    await store.put('jobs/job_x/0000.png', Buffer.from('fake png bytes'), { contentType: 'image/png' });
    return { h, url: (key, expiresInSec = 60) => store.url(key, { expiresInSec }) };
  }

  it('serves a stored file through its signed URL', async () => {
    const { h, url } = await setup();
    const res = await h.request(await url('jobs/job_x/0000.png'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer()).toString()).toBe('fake png bytes');
  });

  it('refuses a tampered signature, an expired URL and a missing key with stable codes', async () => {
    const { h, url } = await setup();
    const good = await url('jobs/job_x/0000.png');
    const tampered = good.replace(/signature=./, (m) => (m.endsWith('A') ? `${m.slice(0, -1)}B` : `${m.slice(0, -1)}A`));
    const bad = await h.request(tampered);
    expect(bad.status).toBe(403);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('URL_INVALID');
    const expired = await url('jobs/job_x/0000.png', 1);
    await new Promise((r) => setTimeout(r, 2100));
    const old = await h.request(expired);
    expect(old.status).toBe(403);
    expect(((await old.json()) as { error: { code: string; field: string } }).error).toMatchObject({ code: 'URL_EXPIRED', field: 'expires' });
    const missing = await h.request(await url('jobs/job_x/0001.png'));
    expect(missing.status).toBe(404);
    const escape = await h.request('/v1/files/../../etc/passwd?expires=1&signature=x');
    expect(escape.status).toBeGreaterThanOrEqual(400);
    expect(escape.status).toBeLessThan(500);
  });
});
