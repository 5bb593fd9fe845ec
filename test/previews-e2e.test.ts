/**
 * Live previews end to end: the API and the real GPU host (`apps/gpu-host/dist/main.js` as a
 * child process on CPU core groups) on real Redis. A job submitted with `preview: {every: k}`
 * streams `preview` events over `GET /v1/jobs/:id/events` (the agreed shape; PNGs that decode to
 * the stated size, at steps k, 2k, …, the last ones close to the final image); a job without it
 * streams none; a bad `every` is a 400 naming `preview.every`; the dashboard in Chromium shows a
 * running job's latest preview. Build first: `npx tsc -b apps/gpu-host/tsconfig.build.json`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { decodePng } from '@asyncdiff/media';
import { createLocalObjectStore, type LocalObjectStore } from '@asyncdiff/storage';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startApi, storageDeps, type ApiServer } from '../apps/api/src/index.js';
import { HAVE_CHROMIUM, launchChromium, pageErrors, screenshot } from '../apps/api/src/test-fixtures/browser.js';
import { HAVE_GPU_HOST, spawnGpuHost, type GpuHostProcess } from '../apps/api/src/test-fixtures/gpu-host-process.js';
import { deletePrefix, readSse, silentLogger, TEST_REDIS_URL, type SseEvent } from '../apps/api/src/test-fixtures/harness.js';

const KEY = 'previews-e2e-key-0123456789abcdef';

interface PreviewData {
  jobId: string;
  step: number;
  steps: number;
  mime: string;
  width: number;
  height: number;
  data: string;
}

describe.skipIf(!HAVE_GPU_HOST)('live previews through the API and the real GPU host', () => {
  const prefix = `{prev-${Date.now()}}`;
  let dir: string;
  let store: LocalObjectStore;
  let api: ApiServer;
  let host: GpuHostProcess;

  const post = (p: string, body: unknown) =>
    fetch(`${api.url}${p}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  /** Submits a job and reads its whole event stream (it ends at the terminal state). */
  const runWithEvents = async (body: Record<string, unknown>): Promise<{ id: string; events: SseEvent[] }> => {
    const res = await post('/v1/jobs', body);
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const stream = await fetch(`${api.url}/v1/jobs/${id}/events`, { headers: { authorization: `Bearer ${KEY}` } });
    return { id, events: await readSse(stream, 120_000) };
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'previews-e2e-'));
    store = createLocalObjectStore({ rootDir: dir });
    api = await startApi({ port: 0, logger: silentLogger, apiAdminKeys: [KEY], rateLimitBurst: 0, queue: { connection: TEST_REDIS_URL, prefix }, ...storageDeps(store) });
    host = spawnGpuHost({
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      STORAGE_DIR: dir,
      GPU_HOST_ID: 'previews-host',
      GPU_HOST_DEVICES: 'cpu',
      GPU_HOST_HEARTBEAT_MS: '500',
      GPU_HOST_HEALTH_INTERVAL_MS: '0',
    });
    await host.ready(120_000);
  }, 180_000);

  afterAll(async () => {
    await host?.stop(30_000);
    await api?.close();
    await store?.close();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('rejects preview.every outside 1…1000 with a 422 INVALID_SPEC naming the field', async () => {
    for (const every of [0, 1001, 2.5]) {
      const res = await post('/v1/jobs', { type: 'image', model: 'digits', prompt: '3', preview: { every } });
      expect(res.status).toBe(422);
      const body = JSON.stringify(await res.json());
      expect(body).toContain('INVALID_SPEC');
      expect(body).toContain('preview.every');
    }
  });

  it('streams preview events (PNG of the stated size at steps k, 2k, …) that converge to the output', { timeout: 180_000 }, async () => {
    const steps = 60;
    const { id, events } = await runWithEvents({ type: 'image', model: 'digits', prompt: '7', steps, seed: 11, output: { scale: 1 }, preview: { every: 5 } });
    const previews = events.filter((e) => e.event === 'preview').map((e) => e.data as PreviewData);
    expect(previews.length).toBeGreaterThan(0);
    for (const p of previews) {
      expect(Object.keys(p).sort()).toEqual(['data', 'height', 'jobId', 'mime', 'step', 'steps', 'width']);
      expect(p).toMatchObject({ jobId: id, steps, mime: 'image/png', width: 16, height: 16 });
      expect(p.step % 5).toBe(0);
      const png = decodePng(Buffer.from(p.data, 'base64'));
      expect([png.width, png.height]).toEqual([p.width, p.height]);
    }
    expect(previews.map((p) => p.step)).toEqual([...previews.map((p) => p.step)].sort((a, b) => a - b));
    const final = events.at(-1)!.data as { status: string; outputs: { kind: string; url: string }[] };
    expect(final.status).toBe('succeeded');
    const image = decodePng(new Uint8Array(await (await fetch(new URL(final.outputs.find((o) => o.kind !== 'sidecar')!.url, api.url))).arrayBuffer()));
    // The latest preview (from the last fifth of the steps) shows nearly the final image; the first one does not.
    const last = previews.at(-1)!;
    expect(last.step).toBeGreaterThanOrEqual(0.8 * steps);
    const diff = (p: PreviewData) => {
      const px = decodePng(Buffer.from(p.data, 'base64')).pixels;
      return px.reduce((s, v, i) => s + Math.abs(v - (image.pixels[i] as number)), 0) / px.length;
    };
    expect(diff(last)).toBeLessThan(12);
    expect(diff(previews[0]!)).toBeGreaterThan(diff(last));
  });

  it('streams a video job its middle frame, and no previews for a job that did not ask', { timeout: 180_000 }, async () => {
    const video = await runWithEvents({ type: 'video', model: 'moving-digits', prompt: '4', steps: 20, preview: { every: 4 } });
    const vp = video.events.filter((e) => e.event === 'preview').map((e) => e.data as PreviewData);
    expect(vp.length).toBeGreaterThan(0);
    for (const p of vp) expect(decodePng(Buffer.from(p.data, 'base64'))).toMatchObject({ width: p.width, height: p.height });

    const off = await runWithEvents({ type: 'image', model: 'digits', prompt: '2', steps: 30 });
    expect(off.events.filter((e) => e.event === 'progress').length).toBeGreaterThan(0);
    expect(off.events.filter((e) => e.event === 'preview')).toEqual([]);
    expect((off.events.at(-1)!.data as { status: string }).status).toBe('succeeded');
  });

  describe.skipIf(!HAVE_CHROMIUM)('dashboard in Chromium', () => {
    let browser: Browser;
    let page: Page;
    let errors: string[];
    beforeAll(async () => {
      browser = await launchChromium();
      page = await (await browser.newContext({ viewport: { width: 1400, height: 1000 } })).newPage();
      errors = pageErrors(page);
    }, 60_000);
    afterAll(async () => {
      await browser?.close();
    });

    it('shows the running job its latest preview', { timeout: 240_000 }, async () => {
      await page.goto(`${api.url}/dashboard/login`);
      await page.fill('input[name="key"]', KEY);
      await page.click('button[type="submit"]');
      await page.waitForURL(`${api.url}/dashboard`);
      await page.locator('#live[data-state="live"]').waitFor({ timeout: 20_000 });
      const res = await post('/v1/jobs', { type: 'video', model: 'moving-digits', prompt: '8', steps: 400, preview: { every: 5 }, parallel: { mode: 'sequential' } });
      const { id } = (await res.json()) as { id: string };
      const img = page.locator(`#jobs tr[data-job-id="${id}"] td.progress img.preview`);
      await img.waitFor({ timeout: 120_000 });
      const first = Number(await img.getAttribute('data-step'));
      expect(first % 5).toBe(0);
      // It follows the job: a later preview replaces it.
      await expect.poll(async () => Number(await page.locator(`#jobs tr[data-job-id="${id}"] img.preview`).getAttribute('data-step')), { timeout: 60_000 }).toBeGreaterThan(first);
      const size = await page.locator(`#jobs tr[data-job-id="${id}"] img.preview`).evaluate((i) => [(i as unknown as { naturalWidth: number }).naturalWidth, (i as unknown as { naturalHeight: number }).naturalHeight]);
      expect(size[0]).toBeGreaterThan(0);
      await screenshot(page, 'dashboard-preview-running');
      await post(`/v1/jobs/${id}/cancel`, {});
      await page.locator(`#jobs tr[data-job-id="${id}"][data-status="canceled"]`).waitFor({ timeout: 30_000 });
      expect(await page.locator(`#jobs tr[data-job-id="${id}"] img.preview`).count()).toBe(0);
      expect(errors).toEqual([]);
    });
  });
});
