import type { NextFunction, Request, Response } from 'express';

import type { Logger } from '../deps.js';
import { ApiError, toApiError } from '../errors.js';

/**
 * The last middleware: every error becomes `{error: {code, message, field}}` with the status
 * `HTTP_STATUS` gives its code. Server faults are logged; client mistakes are not.
 */
export function errorHandler(logger: Logger) {
  // Express recognises error handlers by their four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const error = toApiError(err);
    if (error.status >= 500) logger.error(`${req.method} ${req.originalUrl} failed:`, error.cause ?? error);
    if (res.headersSent) {
      // A stream (SSE) already started: all we can do is end it.
      res.end();
      return;
    }
    for (const [name, value] of Object.entries(error.extra.headers ?? {})) res.setHeader(name, value);
    res.status(error.status).json(error.toJSON());
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
