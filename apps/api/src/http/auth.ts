import { createHash } from 'node:crypto';

import type { NextFunction, Request, Response } from 'express';

import { ApiError } from '../errors.js';

/** Who made a request: an API key's id (a hash prefix, never the key) or `ip:<address>`. */
export interface ClientIdentity {
  readonly id: string;
  readonly authenticated: boolean;
}

/** The identity `authenticate` attached to a request. */
export function clientOf(res: Response): ClientIdentity {
  return (res.locals['client'] as ClientIdentity | undefined) ?? { id: 'anonymous', authenticated: false };
}

/** Stable public id of an API key (used in rate-limit keys, idempotency scopes and logs). */
export function keyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/**
 * Bearer-token auth over a fixed key set. With no keys configured auth is off and clients are
 * identified by IP. Keys are compared by hash lookup, so timing reveals nothing about them.
 */
export function authenticate(apiKeys: readonly string[]) {
  const known = new Map(apiKeys.map((k) => [createHash('sha256').update(k).digest('hex'), keyId(k)]));
  return (req: Request, res: Response, next: NextFunction): void => {
    if (known.size === 0) {
      res.locals['client'] = { id: `ip:${req.ip ?? 'unknown'}`, authenticated: false } satisfies ClientIdentity;
      return next();
    }
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+([\x21-\x7e]{1,512})\s*$/i.exec(header);
    const id = match?.[1] ? known.get(createHash('sha256').update(match[1]).digest('hex')) : undefined;
    if (!id) {
      const error = new ApiError('UNAUTHORIZED', header ? 'unknown API key' : 'send "Authorization: Bearer <API key>"', 'Authorization', {
        headers: { 'WWW-Authenticate': 'Bearer realm="asyncdiff"' },
      });
      return next(error);
    }
    res.locals['client'] = { id: `key:${id}`, authenticated: true } satisfies ClientIdentity;
    next();
  };
}
