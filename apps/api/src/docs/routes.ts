import { createRequire } from 'node:module';

import { Router } from 'express';

import { ApiError } from '../errors.js';
import { DOCS_CSP, docsPage } from './page.js';

/** Where the API reference page lives. */
export const DOCS_PATH = '/docs';
/** The document it renders. */
const SPEC_PATH = '/openapi.json';
/** Redoc's self-contained browser bundle, from the `redoc` npm package (no CDN). */
const REDOC_BUNDLE = 'redoc/bundles/redoc.standalone.js';

/**
 * The API reference for people: `GET /docs` is a page that renders `/openapi.json` with Redoc;
 * `GET /docs/assets/redoc.standalone.js` is Redoc itself, read from node_modules. Open to
 * everyone, like the document. The bundle is located on first use, so a server installed without
 * it still starts and answers the page's script with 503 UNAVAILABLE.
 */
export function docsRouter(): Router {
  const router = Router();
  const scriptPath = `${DOCS_PATH}/assets/redoc.standalone.js`;
  const page = docsPage({ title: 'asyncdiff fleet API', specPath: SPEC_PATH, scriptPath });
  let bundle: string | undefined;
  const bundlePath = (): string => {
    try {
      bundle ??= createRequire(import.meta.url).resolve(REDOC_BUNDLE);
      return bundle;
    } catch (err) {
      throw new ApiError('UNAVAILABLE', 'the docs page\'s script (npm package redoc) is not installed', null, {}, { cause: err });
    }
  };

  router.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', DOCS_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });

  router.get('/', (_req, res) => {
    res.setHeader('Cache-Control', 'no-cache');
    res.type('html').send(page);
  });

  router.get('/assets/redoc.standalone.js', (_req, res, next) => {
    // Revalidated (ETag/Last-Modified from sendFile) rather than cached for long: the URL carries no version.
    res.type('text/javascript; charset=utf-8').setHeader('Cache-Control', 'no-cache');
    res.sendFile(bundlePath(), (err) => {
      if (err) next(err);
    });
  });

  return router;
}
