import { createHash } from 'node:crypto';

import type { JobClient } from '@asyncdiff/queue';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

import { ApiError } from '../errors.js';
import { keyId } from '../http/auth.js';
import { readCookie, SESSION_COOKIE, sessionSigner, sharedSessionSecret, type SessionSigner } from './session.js';

/** Header every state-changing dashboard call must carry (a cross-site form cannot set it). */
export const ACTION_HEADER = 'x-asyncdiff-dashboard';

/** Who is using the dashboard (`anonymous` when the API has no keys). */
export interface DashboardUser {
  readonly keyId: string | null;
  readonly via: 'open' | 'bearer' | 'cookie';
}

/**
 * The dashboard's (and bull-board's) access check. With no API keys configured everything is
 * open, like the API. Otherwise a request needs `Authorization: Bearer <key>` or the session
 * cookie set by the login form (or a one-time `?key=` link); page loads without either are sent
 * to the login form, API calls get 401.
 */
export interface DashboardAuth {
  readonly enabled: boolean;
  signer(): Promise<SessionSigner>;
  /** The user of a request, or undefined when it is not authenticated. */
  userOf(req: Request): Promise<DashboardUser | undefined>;
  /** `page`: redirect to the login form; `api`: 401 JSON. */
  require(kind: 'page' | 'api'): RequestHandler;
  /** Rejects state-changing calls without the action header (CSRF). */
  requireActionHeader(): RequestHandler;
}

/** Creates the access check over the API's keys (secret fetched from Redis on first use). */
export function dashboardAuth(apiKeys: readonly string[], jobs: JobClient, loginPath: string): DashboardAuth {
  const enabled = apiKeys.length > 0;
  const known = new Map(apiKeys.map((k) => [createHash('sha256').update(k).digest('hex'), keyId(k)]));
  let signerPromise: Promise<SessionSigner> | undefined;
  const signer = () => {
    signerPromise ??= sharedSessionSecret(jobs).then((secret) => sessionSigner(apiKeys, secret));
    signerPromise.catch(() => (signerPromise = undefined));
    return signerPromise;
  };
  const userOf = async (req: Request): Promise<DashboardUser | undefined> => {
    if (!enabled) return { keyId: null, via: 'open' };
    const bearer = /^Bearer\s+([\x21-\x7e]{1,512})\s*$/i.exec(req.get('authorization') ?? '')?.[1];
    if (bearer) {
      const id = known.get(createHash('sha256').update(bearer).digest('hex'));
      return id ? { keyId: id, via: 'bearer' } : undefined;
    }
    const id = (await signer()).verify(readCookie(req.get('cookie'), SESSION_COOKIE));
    return id ? { keyId: id, via: 'cookie' } : undefined;
  };
  return {
    enabled,
    signer,
    userOf,
    require(kind) {
      return (req: Request, res: Response, next: NextFunction) => {
        userOf(req).then(
          (user) => {
            if (user) {
              res.locals['dashboardUser'] = user;
              return next();
            }
            if (kind === 'page' && req.method === 'GET') {
              res.redirect(303, `${loginPath}?${new URLSearchParams({ next: req.originalUrl })}`);
              return;
            }
            next(new ApiError('UNAUTHORIZED', 'log in to the dashboard, or send "Authorization: Bearer <API key>"', 'Authorization'));
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
