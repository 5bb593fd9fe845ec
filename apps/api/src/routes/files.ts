import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import type { Express } from 'express';

import { ApiError } from '../errors.js';

/** An opened stored file, ready to stream. */
export interface OpenedFile {
  readonly stream: Readable;
  readonly contentType: string;
  readonly bytes: number;
}

/**
 * Serves outputs kept in a local folder through expiring signed URLs (the local-storage analogue
 * of S3 presigned URLs). `open` verifies the URL (path + query) and throws an error whose `code`
 * ends in `NOT_FOUND`, `EXPIRED` or `SIGNATURE`/`MALFORMED` — the API maps those to 404/403/400.
 * The API never imports storage: the embedder (the CLI's `serve`) adapts its store to this.
 */
export interface FileServer {
  /** Path prefix of the file route, e.g. `/v1/files`. */
  readonly basePath: string;
  open(requestUrl: string): Promise<OpenedFile>;
}

/** `GET <basePath>/<key>?expires=…&signature=…`: streams one stored output. */
export function registerFileRoutes(app: Express, files: FileServer | undefined): void {
  if (!files) return;
  const base = files.basePath.replace(/\/+$/, '');
  app.get(new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/.+`), async (req, res, next) => {
    let opened: OpenedFile;
    try {
      opened = await files.open(req.originalUrl);
    } catch (err) {
      next(fileError(err));
      return;
    }
    res.setHeader('Content-Type', opened.contentType);
    res.setHeader('Content-Length', String(opened.bytes));
    res.setHeader('Cache-Control', 'private, max-age=60');
    try {
      await pipeline(opened.stream, res);
    } catch {
      res.destroy();
    }
  });
}

function fileError(err: unknown): ApiError {
  const code = String((err as { code?: unknown }).code ?? '');
  if (code.endsWith('NOT_FOUND')) return new ApiError('NOT_FOUND', 'no such file', 'url');
  if (code.endsWith('EXPIRED')) return new ApiError('URL_EXPIRED', 'this file URL has expired; fetch the job again for a fresh one', 'expires');
  if (code.endsWith('SIGNATURE')) return new ApiError('URL_INVALID', 'this file URL is not validly signed', 'signature');
  if (code.endsWith('MALFORMED') || code.endsWith('INVALID_KEY') || code.endsWith('PATH_ESCAPE')) return new ApiError('URL_INVALID', 'malformed file URL', 'url');
  return new ApiError('INTERNAL', 'cannot read the file', null, {}, { cause: err });
}
