/**
 * The ops dashboard in Chromium against the real GPU host (`apps/gpu-host/dist/main.js` as a
 * child process on CPU core groups): jobs and a batch submitted through the API move to
 * succeeded on the page live; the host card shows its replica group, running job, steps/s and
 * stage processes; the charts (queue depth and completions over the last hour, step-time
 * histogram, the running job's per-stage timeline) draw real data; cancel and retry work from
 * the page. Build first:
 * `npx tsc -b apps/gpu-host/tsconfig.build.json`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { findModelPackage } from '@asyncdiff/models';
import { createModelCatalog, staticModelCatalog } from '@asyncdiff/queue';
import { createLocalObjectStore, type LocalObjectStore } from '@asyncdiff/storage';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startApi, storageDeps, type ApiServer } from '../apps/api/src/index.js';
import { HAVE_CHROMIUM, launchChromium, pageErrors, screenshot } from '../apps/api/src/test-fixtures/browser.js';
import { HAVE_GPU_HOST, spawnGpuHost, type GpuHostProcess } from '../apps/api/src/test-fixtures/gpu-host-process.js';
import { deletePrefix, silentLogger, TEST_REDIS_URL } from '../apps/api/src/test-fixtures/harness.js';

/** What the tests read of an <img> (the test tsconfig has no DOM types). */
type Img = { complete: boolean; naturalWidth: number };

/** Painted (non-transparent) pixels of the chart's canvas, counted in the page. */
const paintedPixels = (page: Page, chart: string) =>
  page.evaluate<number>(`(() => {
    const c = document.querySelector('[data-chart="${chart}"] canvas');
    if (!c) return 0;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  })()`);

const KEY = 'dashboard-gpu-key-0123456789abcdef';

describe.skipIf(!HAVE_CHROMIUM || !HAVE_GPU_HOST)('dashboard in Chromium with the real GPU host', () => {
  const prefix = `{dgh-${Date.now()}}`;
  let dir: string;
  let store: LocalObjectStore;
  let api: ApiServer;
  let host: GpuHostProcess;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  const call = async <T = { id: string; status: string }>(p: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${api.url}${p}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return (await res.json()) as T;
  };
  const row = (section: string, id: string, status?: string) => page.locator(`#${section} tr[data-job-id="${id}"]${status ? `[data-status="${status}"]` : ''}`);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dash-gpu-'));
    store = createLocalObjectStore({ rootDir: dir });
    // The API also accepts a model ("ghost") the host lacks, so a job can fail on the host.
    const digits = findModelPackage('digits');
    const models = staticModelCatalog([...createModelCatalog().list(), { ...digits, name: 'ghost' }]);
    api = await startApi({ port: 0, logger: silentLogger, apiAdminKeys: [KEY], rateLimitBurst: 0, depthSampleIntervalMs: 1000, queue: { connection: TEST_REDIS_URL, prefix, models }, ...storageDeps(store) });
    host = spawnGpuHost({
      REDIS_URL: TEST_REDIS_URL,
      QUEUE_PREFIX: prefix,
      STORAGE_DIR: dir,
      GPU_HOST_ID: 'e2e-host',
      GPU_HOST_DEVICES: 'cpu',
      GPU_HOST_HEARTBEAT_MS: '500',
      GPU_HOST_HEALTH_INTERVAL_MS: '0',
      // Admission that always batches: the batches card must not depend on this machine's speed today.
      GPU_HOST_MAX_STEP_MS: '60000',
      GPU_HOST_MIN_BATCH_GAIN: '1',
    });
    await host.ready(120_000);
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1500, height: 1100 } })).newPage();
    errors = pageErrors(page);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await host?.stop(30_000);
    await api?.close();
    await store?.close();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('logs in with an admin key through the form and shows the host, its group and stage processes', { timeout: 120_000 }, async () => {
    await page.goto(`${api.url}/dashboard`);
    expect(page.url()).toContain('/dashboard/login');
    await page.fill('input[name="key"]', KEY);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${api.url}/dashboard`);
    await page.locator('#live[data-state="live"]').waitFor({ timeout: 20_000 });
    const card = page.locator('#hosts [data-host-id="e2e-host"]');
    await card.waitFor({ timeout: 20_000 });
    await expect.poll(() => card.locator('.chip').allTextContents()).toEqual(['cpu[0]', 'cpu[1]']);
    await page.evaluate(() => Object.assign(globalThis, { __noReload: 7 }));
  });

  it('shows jobs and a batch moving to succeeded live, with the running job and steps/s on the host card', { timeout: 400_000 }, async () => {
    const long = await call('/v1/jobs', { type: 'video', model: 'moving-digits', prompt: '8', steps: 300, parallel: { mode: 'async' } });
    const card = page.locator('#hosts [data-host-id="e2e-host"]');
    await card.locator(`.group-jobs li[data-job-id="${long.id}"]`).waitFor({ timeout: 60_000 });
    await expect.poll(async () => (await card.locator('.group-jobs li').first().textContent()) ?? '', { timeout: 30_000 }).toMatch(/step [1-9]\d*\/300 · \d+\.\d steps\/s/);
    await expect.poll(() => card.locator('table.stages tbody tr').count()).toBeGreaterThanOrEqual(2);
    await screenshot(page, 'dashboard-gpu-host-running');
    // The running job's timeline: whole step, each of its 2 stages' session.run, the hand-off.
    const timeline = page.locator(`[data-chart="stage-timeline"][data-state="drawn"][data-job-id="${long.id}"]`);
    await timeline.waitFor({ timeout: 30_000 });
    expect(await timeline.getAttribute('data-series')).toBe('4');
    expect(await timeline.locator('.u-legend .u-series .u-label').allTextContents()).toEqual(['step', 'whole step', 'stage 0 session.run', 'stage 1 session.run', 'hand-off']);
    await expect.poll(() => paintedPixels(page, 'stage-timeline')).toBeGreaterThan(1000);
    await page.locator('#charts').screenshot({ path: await screenshot(page, 'dashboard-charts-running').then((f) => f.replace(/\.png$/, '-panel.png')) });
    const jobs = [];
    for (const prompt of ['1', 'four', '9']) jobs.push(await call('/v1/jobs', { type: 'image', model: 'digits', prompt, steps: 8 }));
    const batch = await call('/v1/batches', { name: 'real host grid', matrix: { type: 'video', model: 'moving-digits', prompts: ['2', '5'], seeds: [1, 2, 3, 4], steps: [6] } });
    for (const j of [long, ...jobs]) await row('jobs', j.id, 'succeeded').waitFor({ timeout: 120_000 });
    const batchRow = page.locator(`#batches tr[data-batch-id="${batch.id}"][data-status="completed"]`);
    await batchRow.waitFor({ timeout: 180_000 });
    await batchRow.locator('a.thumb img').waitFor();
    await expect.poll(() => page.locator('#gallery img').evaluateAll((imgs) => imgs.filter((i) => (i as unknown as Img).naturalWidth > 0).length)).toBeGreaterThanOrEqual(4);
    // Jobs that ran on one device shared its continuous batch: the card lists each device's
    // batch with its occupancy over the last minute.
    await expect.poll(() => card.locator('table.batches tbody tr[data-batch-device]').count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
    const spark = card.locator('table.batches .sparkline').first();
    expect(await spark.getAttribute('data-samples')).toBe('60');
    expect(Number(await spark.getAttribute('data-peak'))).toBeGreaterThanOrEqual(2);
    await screenshot(page, 'dashboard-gpu-host-done');
    // The last hour (BullMQ metrics, depth samples) and the step-time histogram of what ran.
    for (const chart of ['queue-depth', 'throughput', 'step-histogram']) {
      await page.locator(`[data-chart="${chart}"][data-state="drawn"]`).waitFor({ timeout: 30_000 });
      await expect.poll(() => paintedPixels(page, chart), { message: chart }).toBeGreaterThan(500);
    }
    const histogram = await page.locator('[data-chart="step-histogram"] .u-legend .u-series .u-label').allTextContents();
    expect(histogram.slice(1).some((l) => /^moving-digits async \(\d+ steps, mean [\d.]+ m?s\)$/.test(l)), histogram.join(' | ')).toBe(true);
    expect(histogram.slice(1).some((l) => /^digits /.test(l)), histogram.join(' | ')).toBe(true);
    const throughput = await page.locator('[data-chart="throughput"] .u-legend .u-series .u-label').allTextContents();
    expect(throughput).toEqual(['Time', 'image completed', 'image failed', 'video completed', 'video failed']);
    await page.locator('#charts').screenshot({ path: (await screenshot(page, 'dashboard-charts-done')).replace(/\.png$/, '-panel.png') });
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: number }).__noReload)).toBe(7);
  });

  it('cancels a running job and retries a failed one from the page', { timeout: 300_000 }, async () => {
    const long = await call('/v1/jobs', { type: 'video', model: 'moving-digits', prompt: '6', steps: 400, parallel: { mode: 'sequential' } });
    await row('jobs', long.id, 'running').waitFor({ timeout: 60_000 });
    await row('jobs', long.id).locator('button[data-action="job-cancel"]').click();
    await row('jobs', long.id, 'canceled').waitFor({ timeout: 30_000 });

    const ghost = await call('/v1/jobs', { type: 'image', model: 'ghost', prompt: '1', steps: 4 });
    await row('failed', ghost.id, 'failed').waitFor({ timeout: 60_000 });
    await expect.poll(() => row('failed', ghost.id).locator('.error').textContent()).toContain('MODEL_NOT_FOUND');
    await row('failed', ghost.id).locator('button[data-action="job-retry"]').click();
    const retriedBy = await expect
      .poll(async () => (await call<{ retriedBy: string | null }>(`/v1/jobs/${ghost.id}`)).retriedBy, { timeout: 10_000 })
      .toMatch(/^job_/)
      .then(async () => (await call<{ retriedBy: string }>(`/v1/jobs/${ghost.id}`)).retriedBy);
    // The host still lacks the model: the retry fails the same way, and shows up as failed.
    await row('jobs', retriedBy, 'failed').waitFor({ timeout: 60_000 });
    expect(await call<{ retryOf: string }>(`/v1/jobs/${retriedBy}`)).toMatchObject({ retryOf: ghost.id });
    await screenshot(page, 'dashboard-gpu-host-actions');
    expect(errors).toEqual([]);
  });
});
