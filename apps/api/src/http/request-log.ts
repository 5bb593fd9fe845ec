import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pinoHttp } from 'pino-http';

import { fromPino, isStructured, withRequestId, type Logger } from '../log/logger.js';

/** A client's own `X-Request-Id` is kept when it is printable ASCII of at most 128 characters. */
const CLIENT_ID = /^[\x21-\x7e]{1,128}$/;

/** Probe and scrape paths: answered many times a minute, so they get no access-log line. */
const QUIET_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Gives every request an id (the client's `X-Request-Id` when well-formed, else a UUID), echoes
 * it in the `X-Request-Id` response header, and gives the request a logger that writes it on
 * every line (`requestId`). With the default pino logger, pino-http also writes one access line
 * per response (method, path without its query string, status, time; 5xx at `error`).
 */
export function requestLogging(logger: Logger): RequestHandler {
  const idFor = (req: IncomingMessage, res: ServerResponse): string => {
    const given = req.headers['x-request-id'];
    const id = typeof given === 'string' && CLIENT_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', id);
    return id;
  };
  if (!isStructured(logger)) {
    return (req: Request, res: Response, next: NextFunction) => {
      const id = idFor(req, res);
      res.locals['requestId'] = id;
      res.locals['log'] = withRequestId(logger, id);
      next();
    };
  }
  const http = pinoHttp({
    logger: logger.pino,
    genReqId: idFor,
    quietReqLogger: true,
    customAttributeKeys: { reqId: 'requestId', responseTime: 'durationMs' },
    autoLogging: { ignore: (req) => QUIET_PATHS.has((req.url ?? '').split('?')[0] ?? '') },
    customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : 'info'),
    serializers: {
      req: (req: { method?: string; url?: string }) => ({ method: req.method, path: (req.url ?? '').split('?')[0] }),
      res: (res: { statusCode?: number }) => ({ status: res.statusCode }),
    },
  });
  return (req: Request, res: Response, next: NextFunction) => {
    http(req, res);
    res.locals['requestId'] = String(req.id);
    res.locals['log'] = fromPino(req.log);
    next();
  };
}

/** The id `requestLogging` gave this request (undefined before it ran). */
export function requestIdOf(res: Response): string | undefined {
  const id: unknown = res.locals['requestId'];
  return typeof id === 'string' ? id : undefined;
}

/** The request's logger (request id on every line), or `fallback` outside a request. */
export function requestLog(res: Response, fallback: Logger): Logger {
  return (res.locals['log'] as Logger | undefined) ?? fallback;
}
