/**
 * The ops dashboard end to end in headless Chromium (playwright-core, the machine's Chromium):
 * log in with an admin key, submit jobs and a batch through the API, watch them move to
 * succeeded on the page without a reload, click cancel / retry / pause actions, search, open
 * bull-board. Workers are the timer-based test worker writing real PNG outputs, so the gallery
 * and contact sheet show real images. Screenshots go to test-artifacts/.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { createJobWorker, type JobWorker } from '@asyncdiff/queue';
import { createLocalObjectStore, type LocalObjectStore } from '@asyncdiff/storage';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startApi, storageDeps, type ApiServer } from '../apps/api/src/index.js';
import { HAVE_CHROMIUM, launchChromium, pageErrors, screenshot } from '../apps/api/src/test-fixtures/browser.js';
import { deletePrefix, silentLogger, TEST_REDIS_URL } from '../apps/api/src/test-fixtures/harness.js';
import { mediaHandler } from '../apps/api/src/test-fixtures/media-handler.js';

/** What the tests read of an <img> (the test tsconfig has no DOM types). */
type Img = { complete: boolean; naturalWidth: number };

const KEY = 'dashboard-e2e-key-0123456789abcdef';

describe.skipIf(!HAVE_CHROMIUM)('dashboard in Chromium (timer worker)', () => {
  const prefix = `{dash-${Date.now()}}`;
  let dir: string;
  let store: LocalObjectStore;
  let api: ApiServer;
  let workers: JobWorker[] = [];
  let browser: Browser;
  let page: Page;
  let errors: string[];

  const call = async (p: string, body?: unknown) => {
    const res = await fetch(`${api.url}${p}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    return (await res.json()) as { id: string; status: string };
  };
  const row = (section: string, id: string, status?: string) =>
    page.locator(`#${section} tr[data-job-id="${id}"]${status ? `[data-status="${status}"]` : ''}`);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dash-e2e-'));
    store = createLocalObjectStore({ rootDir: dir, urlSecret: 's'.repeat(32) });
    api = await startApi({ port: 0, logger: silentLogger, apiAdminKeys: [KEY], rateLimitBurst: 0, queue: { connection: TEST_REDIS_URL, prefix, backoffDelayMs: 50 }, ...storageDeps(store) });
    // A failed first run, a successful retry: the retry carries `retryOf`.
    const handler = mediaHandler(store, { stepMs: 40, fail: (j) => (j.spec.seed === 13 && !j.retryOf ? 'unlucky seed' : undefined) });
    for (const queue of ['image', 'video'] as const) {
      const w = createJobWorker({ connection: TEST_REDIS_URL, prefix, queue, concurrency: 2, handler, hostId: `timer-${queue}` });
      await w.waitUntilReady();
      workers.push(w);
    }
    browser = await launchChromium();
    page = await (await browser.newContext({ viewport: { width: 1500, height: 1000 } })).newPage();
    errors = pageErrors(page);
  });

  afterAll(async () => {
    await browser?.close();
    await Promise.all(workers.map((w) => w.close()));
    workers = [];
    await api?.close();
    await store?.close();
    await deletePrefix(prefix);
    rmSync(dir, { recursive: true, force: true });
  });

  it('asks for an admin key, then shows the dashboard with live updates', async () => {
    const res = await page.goto(`${api.url}/dashboard`);
    expect(res?.status()).toBe(200);
    expect(page.url()).toContain('/dashboard/login');
    await page.fill('input[name="key"]', 'wrong-key-wrong-key-wrong');
    await page.click('button[type="submit"]');
    await expect.poll(() => page.locator('.error').textContent()).toContain('Unknown API key');
    await page.fill('input[name="key"]', KEY);
    await page.click('button[type="submit"]');
    await page.waitForURL(`${api.url}/dashboard`);
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'asyncdiff_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(session?.value).not.toContain(KEY);
    await page.locator('#live[data-state="live"]').waitFor({ timeout: 10_000 });
    await page.locator('#queues tr[data-queue="image"]').waitFor();
    await page.locator('#queues tr[data-queue="video"]').waitFor();
    // A marker that a reload would wipe out.
    await page.evaluate(() => Object.assign(globalThis, { __noReload: 42 }));
    // The wrong key's 401 was expected; from here on the page must run without errors.
    expect(errors.splice(0)).toEqual(['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
  });

  it('shows submitted jobs moving to succeeded, and their outputs in the gallery', { timeout: 180_000 }, async () => {
    const jobs = [];
    for (const prompt of ['1', 'two', '3']) jobs.push(await call('/v1/jobs', { type: 'image', model: 'digits', prompt, seed: 7, steps: 12, output: { scale: 4 } }));
    jobs.push(await call('/v1/jobs', { type: 'video', model: 'moving-digits', prompt: '4', seed: 8, steps: 12 }));
    // Seen while running (live progress), then succeeded.
    await row('jobs', jobs[0]!.id, 'running').or(row('jobs', jobs[0]!.id, 'succeeded')).first().waitFor({ timeout: 15_000 });
    for (const j of jobs) await row('jobs', j.id, 'succeeded').waitFor({ timeout: 30_000 });
    await page.locator(`#gallery figure[data-job-id="${jobs[3]!.id}"] img`).waitFor({ timeout: 10_000 });
    // Served through signed /v1/files URLs: every preview decodes.
    await expect
      .poll(() => page.locator('#gallery img').evaluateAll((imgs) => imgs.filter((i) => (i as unknown as Img).complete && (i as unknown as Img).naturalWidth > 0).length), { timeout: 10_000 })
      .toBeGreaterThanOrEqual(4);
    await screenshot(page, 'dashboard-jobs-succeeded');
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: number }).__noReload)).toBe(42);
  });

  it('cancels a running job and retries a failed one from the page', { timeout: 180_000 }, async () => {
    const long = await call('/v1/jobs', { type: 'image', model: 'digits', prompt: '5', steps: 400 });
    await row('jobs', long.id, 'running').waitFor({ timeout: 15_000 });
    await row('jobs', long.id).locator('button[data-action="job-cancel"]').click();
    await row('jobs', long.id, 'canceled').waitFor({ timeout: 15_000 });
    expect((await call(`/v1/jobs/${long.id}`)).status).toBe('canceled');

    const bad = await call('/v1/jobs', { type: 'image', model: 'digits', prompt: '6', seed: 13, steps: 3 });
    await row('failed', bad.id, 'failed').waitFor({ timeout: 15_000 });
    await expect.poll(() => row('failed', bad.id).locator('.error').textContent()).toContain('unlucky seed');
    await screenshot(page, 'dashboard-failed-job');
    await row('failed', bad.id).locator('button[data-action="job-retry"]').click();
    const retried = await expect
      .poll(async () => ((await call(`/v1/jobs/${bad.id}`)) as unknown as { retriedBy: string | null }).retriedBy, { timeout: 10_000 })
      .toMatch(/^job_/)
      .then(async () => ((await call(`/v1/jobs/${bad.id}`)) as unknown as { retriedBy: string }).retriedBy);
    await row('jobs', retried, 'succeeded').waitFor({ timeout: 20_000 });
    await expect.poll(() => page.locator('#toast').textContent()).toContain('job retry');
    expect(await page.evaluate(() => (globalThis as unknown as { __noReload?: number }).__noReload)).toBe(42);
  });

  it('shows a batch with a live progress bar until it completes, with its contact sheet', { timeout: 180_000 }, async () => {
    const batch = await call('/v1/batches', { name: 'e2e grid', matrix: { type: 'image', model: 'digits', prompts: ['0', '1', '2', '3'], seeds: [1, 2, 3], steps: [20] } });
    const batchRow = page.locator(`#batches tr[data-batch-id="${batch.id}"]`);
    await batchRow.waitFor({ timeout: 10_000 });
    const seen = new Set<string>();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const percent = await batchRow.locator('.bar').getAttribute('data-percent').catch(() => null);
      if (percent) seen.add(percent);
      if ((await batchRow.getAttribute('data-status').catch(() => null)) === 'completed') break;
      await page.waitForTimeout(100);
    }
    expect(await batchRow.getAttribute('data-status')).toBe('completed');
    // It moved through intermediate values on the page, live.
    expect([...seen].map(Number).filter((p) => p > 0 && p < 100).length).toBeGreaterThanOrEqual(2);
    await batchRow.locator('a.thumb img').waitFor();
    expect(await batchRow.locator('a.thumb img').evaluate((i) => (i as unknown as Img).naturalWidth)).toBeGreaterThan(0);
    await screenshot(page, 'dashboard-batch-completed');
  });

  it('pauses and resumes a queue, searches a job by id, and links to bull-board behind the same login', { timeout: 180_000 }, async () => {
    page.once('dialog', (d) => void d.accept());
    await page.locator('#queues tr[data-queue="image"] button[data-action="queue-pause"]').click();
    await page.locator('#queues tr[data-queue="image"][data-paused="true"]').waitFor({ timeout: 10_000 });
    const queued = await call('/v1/jobs', { type: 'image', model: 'digits', prompt: '9', steps: 2 });
    await page.waitForTimeout(500);
    expect((await call(`/v1/jobs/${queued.id}`)).status).toBe('queued');
    await page.locator('#queues tr[data-queue="image"] button[data-action="queue-resume"]').click();
    await page.locator('#queues tr[data-queue="image"][data-paused="false"]').waitFor({ timeout: 10_000 });
    await row('jobs', queued.id, 'succeeded').waitFor({ timeout: 20_000 });

    await page.fill('#search-id', queued.id);
    await page.click('#search button[type="submit"]');
    await page.locator(`#found [data-found-id="${queued.id}"][data-status="succeeded"]`).waitFor();
    expect(await page.locator('#found img').count()).toBe(1);
    await screenshot(page, 'dashboard-search');

    const board = await page.context().newPage();
    const res = await board.goto(`${api.url}/admin/queues`);
    expect(res?.status()).toBe(200);
    await board.waitForFunction(() => (globalThis as unknown as { document: { body: { innerText: string } } }).document.body.innerText.includes('image'), undefined, { timeout: 15_000 });
    await screenshot(board, 'bull-board');
    await board.close();
    const anonymous = await fetch(`${api.url}/admin/queues/api/queues`, { redirect: 'manual' });
    expect(anonymous.status).toBe(303);
    expect(errors).toEqual([]);
  });
});
