import type { NextFunction, Request, Response } from 'express';

import { ApiError, toApiError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { requestIdOf, requestLog } from './request-log.js';

/**
 * The last middleware: every error becomes `{error: {code, message, field, requestId}}` with the
 * status `HTTP_STATUS` gives its code; `requestId` is the `X-Request-Id` of the response, so a
 * client's bug report points at the server's log lines. Server faults are logged; client
 * mistakes are not.
 */
export function errorHandler(logger: Logger) {
  // Express recognises error handlers by their four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const error = toApiError(err);
    if (error.status >= 500) requestLog(res, logger).error(`${req.method} ${redactQuery(req.originalUrl)} failed:`, error.cause ?? error);
    if (res.headersSent) {
      // A stream (SSE) already started: all we can do is end it.
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(error.extra.headers ?? {})) res.setHeader(name, value);
    res.status(error.status).json(error.body(requestIdOf(res)));
  };
}

/** Unknown paths: 404 naming the path; known paths with another method: 405 with `Allow`. */
export function notFound(allowedMethods: (path: string) => readonly string[]) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const allowed = allowedMethods(req.path);
    if (allowed.length) {
      next(new ApiError('METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use ${allowed.join(', ')}`, 'method', { headers: { Allow: allowed.join(', ') } }));
      return;
    }
    next(new ApiError('NOT_FOUND', `no route for ${req.method} ${req.path}`, 'path'));
  };
}

/**
 * A URL fit for logs: the query string replaced by `?[redacted]`, since it may carry signatures
 * of file URLs, cursors, or credentials a client put there by mistake.
 */
export function redactQuery(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?[redacted]`;
}
