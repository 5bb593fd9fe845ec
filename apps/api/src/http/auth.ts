import { createHash } from 'node:crypto';

import { ANONYMOUS_OWNER } from '@asyncdiff/queue';
import type { NextFunction, Request, Response } from 'express';

import { ApiError } from '../errors.js';
import type { AuthFailureLimiter } from './auth-failures.js';

/**
 * Who made a request. `id` names its rate-limit buckets and stream quota (the owner id of its
 * key, or `ip:<address>` without auth); `owner` is recorded on what it creates; `seesAll` lets it
 * read everyone's jobs and batches (admin keys, and everyone when the API has no keys).
 */
export interface ClientIdentity {
  readonly id: string;
  readonly owner: string;
  readonly seesAll: boolean;
  readonly authenticated: boolean;
}

/** The identity `authenticate` attached to a request. */
export function clientOf(res: Response): ClientIdentity {
  return (res.locals['client'] as ClientIdentity | undefined) ?? { id: 'anonymous', owner: ANONYMOUS_OWNER, seesAll: false, authenticated: false };
}

/** Whether `client` may see (read, follow, cancel, retry) a record with this owner; else it is 404 to them. */
export function canSee(client: ClientIdentity, record: { readonly owner?: string }): boolean {
  return client.seesAll || (record.owner !== undefined && record.owner === client.owner);
}

/** Stable public id of an API key: 16 hex digits of its SHA-256 (owner ids are `key_` + this). */
export function keyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}

/** What the server knows about a configured key. */
export interface KeyEntry {
  readonly keyId: string;
  readonly owner: string;
  readonly admin: boolean;
}

/**
 * The configured keys, looked up by the SHA-256 of what a client sends, so timing reveals
 * nothing about them. A key listed in both lists is an admin key.
 */
export interface KeyRing {
  /** False when no key of either kind is configured: auth is off. */
  readonly enabled: boolean;
  lookup(key: string): KeyEntry | undefined;
  /** Whether the key with this id is an admin key (for sessions, which carry the id only). */
  isAdminKeyId(id: string): boolean;
}

/** Builds the key ring from `API_KEYS` and `API_ADMIN_KEYS`. */
export function keyRing(apiKeys: readonly string[], adminKeys: readonly string[]): KeyRing {
  const byHash = new Map<string, KeyEntry>();
  const add = (key: string, admin: boolean) => {
    const hash = createHash('sha256').update(key).digest('hex');
    const id = keyId(key);
    byHash.set(hash, { keyId: id, owner: `key_${id}`, admin: admin || (byHash.get(hash)?.admin ?? false) });
  };
  for (const k of apiKeys) add(k, false);
  for (const k of adminKeys) add(k, true);
  const adminIds = new Set([...byHash.values()].filter((e) => e.admin).map((e) => e.keyId));
  return {
    enabled: byHash.size > 0,
    lookup: (key) => byHash.get(createHash('sha256').update(key).digest('hex')),
    isAdminKeyId: (id) => adminIds.has(id),
  };
}

/** The bearer token of a request (undefined when there is none or it is malformed). */
export function bearerOf(req: Request): string | undefined {
  return /^Bearer\s+([\x21-\x7e]{1,512})\s*$/i.exec(req.get('authorization') ?? '')?.[1];
}

/** The 429 of an IP that failed to authenticate too often. */
export function authRateLimited(seconds: number): ApiError {
  return new ApiError('AUTH_RATE_LIMITED', `too many failed authentication attempts from this address; retry in ${seconds} s`, 'Authorization', {
    headers: { 'Retry-After': String(seconds) },
  });
}

/**
 * Bearer-token auth over the key ring. With no keys configured auth is off: clients are
 * identified by IP and share the anonymous owner. Failed attempts (a credential that is not a
 * key) count against the client IP; past its budget it gets 429 AUTH_RATE_LIMITED.
 */
export function authenticate(ring: KeyRing, failures: AuthFailureLimiter) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!ring.enabled) {
      res.locals['client'] = { id: `ip:${req.ip ?? 'unknown'}`, owner: ANONYMOUS_OWNER, seesAll: true, authenticated: false } satisfies ClientIdentity;
      return next();
    }
    const ip = req.ip ?? 'unknown';
    const blocked = failures.blocked(ip);
    if (blocked !== undefined) return next(authRateLimited(blocked));
    const header = req.get('authorization');
    const bearer = bearerOf(req);
    const entry = bearer === undefined ? undefined : ring.lookup(bearer);
    if (!entry) {
      const wait = header ? await failures.fail(ip) : undefined;
      if (wait !== undefined) return next(authRateLimited(wait));
      return next(
        new ApiError('UNAUTHORIZED', header ? 'unknown API key' : 'send "Authorization: Bearer <API key>"', 'Authorization', {
          headers: { 'WWW-Authenticate': 'Bearer realm="asyncdiff"' },
        }),
      );
    }
    res.locals['client'] = { id: entry.owner, owner: entry.owner, seesAll: entry.admin, authenticated: true } satisfies ClientIdentity;
    next();
  };
}
