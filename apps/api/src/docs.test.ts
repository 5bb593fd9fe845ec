/**
 * The API reference page at /docs: Redoc from node_modules (no CDN) under a strict CSP, open
 * without a key, rendering every operation of /openapi.json — in the machine's headless Chromium.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { HAVE_CHROMIUM, launchChromium, pageErrors, screenshot } from './test-fixtures/browser.js';
import { startHarness, type Harness } from './test-fixtures/harness.js';

const KEY = 'docs-test-key-0123456789abcdef';

interface Doc {
  paths: Record<string, Record<string, { operationId: string; summary: string }>>;
  components: { schemas: Record<string, unknown> };
}

describe('API docs page (/docs)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ apiKeys: [KEY] });
  });
  afterAll(async () => h?.close());

  it('serves the page and Redoc from this server, without a key, under a CSP with no inline script', async () => {
    const page = await h.request('/docs');
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self';");
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    const html = await page.text();
    expect(html).toContain('<redoc spec-url="/openapi.json"');
    expect(html).toContain('<script src="/docs/assets/redoc.standalone.js"></script>');
    expect(html).not.toMatch(/<script>|https?:\/\//);

    const script = await h.request('/docs/assets/redoc.standalone.js');
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const js = await script.text();
    expect(js.length).toBeGreaterThan(500_000);
    expect(js).toContain('Redoc');
    expect(script.headers.get('etag')).toBeTruthy();
    expect((await h.request('/docs/assets/nothing.js')).status).toBe(404);
    // The document it renders is open too; the API itself is not.
    expect((await h.request('/openapi.json')).status).toBe(200);
    expect((await h.request('/v1/models')).status).toBe(401);
  });

  describe.skipIf(!HAVE_CHROMIUM)('in Chromium', () => {
    let browser: Browser;
    let page: Page;
    beforeAll(async () => {
      browser = await launchChromium();
      page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
    });
    afterAll(async () => browser?.close());

    it('renders every operation of the document, loading nothing from anywhere else', async () => {
      const errors = pageErrors(page);
      const elsewhere: string[] = [];
      const blockedByCsp = new Set<string>();
      page.on('request', (req) => {
        const url = req.url();
        if (!url.startsWith(`${h.url}/`) && !url.startsWith('blob:') && !url.startsWith('data:')) elsewhere.push(url);
      });
      page.on('requestfailed', (req) => {
        if (/csp/i.test(req.failure()?.errorText ?? '')) blockedByCsp.add(req.url());
      });
      const doc = (await (await h.request('/openapi.json')).json()) as Doc;
      const operations = Object.values(doc.paths).flatMap((ops) => Object.values(ops));
      expect(operations.length).toBeGreaterThan(10);

      const res = await page.goto(`${h.url}/docs`);
      expect(res?.status()).toBe(200);
      // Redoc gives each operation a section whose id ends in operation/<operationId>.
      for (const op of operations) {
        const section = page.locator(`[id$="operation/${op.operationId}"]`);
        await section.first().waitFor({ state: 'attached', timeout: 30_000 });
        await expect.poll(() => section.first().textContent()).toContain(op.summary.slice(0, 20));
      }
      // The job stream's events are there, by name.
      const events = page.locator('[id$="operation/jobEvents"]');
      await expect.poll(() => events.first().textContent()).toContain('text/event-stream');
      await expect.poll(() => page.locator('h1').first().textContent()).toContain('asyncdiff fleet API');
      await screenshot(page, 'api-docs', false);
      // Redoc 2 always shows Redocly's logo from cdn.redoc.ly (no option turns it off): the CSP
      // blocks it before any request is made, which is the one error the page may log.
      const blockedLogo = /^console: Loading the image 'https:\/\/cdn\.redoc\.ly\/redoc\/logo-mini\.svg' violates the following Content Security Policy directive/;
      expect(errors.filter((e) => !blockedLogo.test(e))).toEqual([]);
      // Anything aimed elsewhere (that logo) must have been stopped by the CSP, never sent.
      expect(elsewhere.filter((u) => !blockedByCsp.has(u))).toEqual([]);
    }, 90_000);
  });
});
