import type { JobClient } from '@asyncdiff/queue';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

import { ApiError } from '../errors.js';
import { authRateLimited, bearerOf, type KeyRing } from '../http/auth.js';
import type { AuthFailureLimiter } from '../http/auth-failures.js';
import { readCookie, SESSION_COOKIE, sessionSigner, sharedSessionSecret, type SessionSigner } from './session.js';

/** Header every state-changing dashboard call must carry (a cross-site form cannot set it). */
export const ACTION_HEADER = 'x-asyncdiff-dashboard';

/** Who is using the dashboard (`keyId` null when the API has no keys). */
export interface DashboardUser {
  readonly keyId: string | null;
  readonly via: 'open' | 'bearer' | 'cookie';
}

/** What a request's credentials amount to on the dashboard. */
export type DashboardAccess =
  | { readonly kind: 'user'; readonly user: DashboardUser }
  /** A valid API key that is not an admin key. */
  | { readonly kind: 'forbidden' }
  /** No credentials, or ones that are not valid (`presented`: something was sent: a failure to count). */
  | { readonly kind: 'anonymous'; readonly presented: boolean };

/**
 * The dashboard's (and bull-board's) access check. With no API keys configured everything is
 * open, like the API. Otherwise only admin keys get in: a request needs
 * `Authorization: Bearer <admin key>` or the session cookie set by the login form (there is no
 * key-in-the-URL login: URLs end up in logs and browser history). Page loads without either are
 * sent to the login form, API calls get 401; a valid non-admin key gets 403. Failed attempts
 * count against the client IP (429 past its budget).
 */
export interface DashboardAuth {
  readonly enabled: boolean;
  signer(): Promise<SessionSigner>;
  access(req: Request): Promise<DashboardAccess>;
  /** `page`: redirect to the login form; `api`: 401 JSON. */
  require(kind: 'page' | 'api'): RequestHandler;
  /** Rejects state-changing calls without the action header (CSRF). */
  requireActionHeader(): RequestHandler;
}

/** Creates the access check over the key ring (session secret fetched from Redis on first use). */
export function dashboardAuth(ring: KeyRing, adminKeys: readonly string[], jobs: JobClient, failures: AuthFailureLimiter, loginPath: string): DashboardAuth {
  const enabled = ring.enabled;
  let signerPromise: Promise<SessionSigner> | undefined;
  const signer = () => {
    signerPromise ??= sharedSessionSecret(jobs).then((secret) => sessionSigner(adminKeys, secret));
    signerPromise.catch(() => (signerPromise = undefined));
    return signerPromise;
  };
  const access = async (req: Request): Promise<DashboardAccess> => {
    if (!enabled) return { kind: 'user', user: { keyId: null, via: 'open' } };
    const bearer = bearerOf(req);
    if (bearer !== undefined) {
      const entry = ring.lookup(bearer);
      if (!entry) return { kind: 'anonymous', presented: true };
      return entry.admin ? { kind: 'user', user: { keyId: entry.keyId, via: 'bearer' } } : { kind: 'forbidden' };
    }
    const cookie = readCookie(req.get('cookie'), SESSION_COOKIE);
    const sessions = await signer();
    const id = sessions.verify(cookie);
    if (id && ring.isAdminKeyId(id)) return { kind: 'user', user: { keyId: id, via: 'cookie' } };
    // An expired session is no attack (a forged one, or a malformed Authorization header, is).
    return { kind: 'anonymous', presented: (cookie !== undefined && cookie !== '' && !sessions.authentic(cookie)) || req.get('authorization') !== undefined };
  };
  return {
    enabled,
    signer,
    access,
    require(kind) {
      return (req: Request, res: Response, next: NextFunction) => {
        const ip = req.ip ?? 'unknown';
        const blocked = enabled ? failures.blocked(ip) : undefined;
        if (blocked !== undefined) return next(authRateLimited(blocked));
        access(req).then(
          async (result) => {
            if (result.kind === 'user') {
              res.locals['dashboardUser'] = result.user;
              return next();
            }
            if (result.kind === 'forbidden') return next(new ApiError('FORBIDDEN', 'the dashboard takes admin keys only', 'Authorization'));
            const wait = result.presented ? await failures.fail(ip) : undefined;
            if (wait !== undefined) return next(authRateLimited(wait));
            if (kind === 'page' && req.method === 'GET') {
              res.redirect(303, `${loginPath}?${new URLSearchParams({ next: req.originalUrl })}`);
              return;
            }
            next(new ApiError('UNAUTHORIZED', 'log in to the dashboard, or send "Authorization: Bearer <admin key>"', 'Authorization'));
          },
          (err: unknown) => next(err),
        );
      };
    },
    requireActionHeader() {
      return (req, _res, next) => {
        if (req.get(ACTION_HEADER) !== '1') return next(new ApiError('INVALID_REQUEST', `send the header ${ACTION_HEADER}: 1 with dashboard actions`, ACTION_HEADER));
        next();
      };
    },
  };
}

/** Cookie attributes of a session (Secure when the request came over HTTPS). */
export function sessionCookie(value: string, maxAgeMs: number, secure: boolean): string {
  const attrs = [`${SESSION_COOKIE}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${Math.floor(maxAgeMs / 1000)}`];
  if (secure) attrs.push('Secure');
  return attrs.join('; ');
}

/** A safe local redirect target (no scheme, no `//host`), else `fallback`. */
export function safeNext(next: unknown, fallback: string): string {
  return typeof next === 'string' && /^\/(?![/\\])[\x21-\x7e]*$/.test(next) && next.length <= 512 ? next : fallback;
}
