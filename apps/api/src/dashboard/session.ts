import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

import type { JobClient } from '@asyncdiff/queue';

import { keyId } from '../http/auth.js';

/** Name of the dashboard's session cookie. */
export const SESSION_COOKIE = 'asyncdiff_session';

/**
 * Dashboard sessions for browsers, which cannot send `Authorization: Bearer` on a page load or
 * an EventSource: after a login with an admin key the browser holds an HttpOnly, SameSite=Strict
 * cookie `v1.<key id>.<expiry ms>.<HMAC-SHA256>` — never the key itself. The HMAC secret is
 * shared by every API process through Redis, so any replica accepts the cookie; a session ends
 * at its expiry, or at once when its key is removed from `API_KEYS`.
 */
export interface SessionSigner {
  /** A cookie value for the API key `key` (undefined if the key is not configured). */
  issue(key: string, now?: number): string | undefined;
  /** The key id of a valid, unexpired session whose key is still configured. */
  verify(token: string | undefined, now?: number): string | undefined;
  /** Whether `token` was signed by us at all (an expired or revoked session still was: no attack). */
  authentic(token: string | undefined): boolean;
  readonly ttlMs: number;
}

/** Builds a signer over the configured keys and a shared secret. */
export function sessionSigner(apiKeys: readonly string[], secret: string, ttlMs = 12 * 3600 * 1000): SessionSigner {
  const byHash = new Map(apiKeys.map((k) => [createHash('sha256').update(k).digest('hex'), keyId(k)]));
  const ids = new Set(byHash.values());
  const mac = (payload: string) => createHmac('sha256', secret).update(payload).digest('base64url');
  const signed = (token: string | undefined): string[] | undefined => {
    if (!token || token.length > 200) return undefined;
    const parts = token.split('.');
    if (parts.length !== 4 || parts[0] !== 'v1') return undefined;
    const [, id = '', exp = '', sig = ''] = parts;
    const expected = Buffer.from(mac(`v1.${id}.${exp}`));
    const given = Buffer.from(sig);
    return given.length === expected.length && timingSafeEqual(given, expected) ? parts : undefined;
  };
  return {
    ttlMs,
    issue(key, now = Date.now()) {
      const id = byHash.get(createHash('sha256').update(key).digest('hex'));
      if (!id) return undefined;
      const payload = `v1.${id}.${now + ttlMs}`;
      return `${payload}.${mac(payload)}`;
    },
    verify(token, now = Date.now()) {
      const parts = signed(token);
      if (!parts) return undefined;
      const [, id = '', exp = ''] = parts;
      if (!/^\d+$/.test(exp) || Number(exp) <= now || !ids.has(id)) return undefined;
      return id;
    },
    authentic: (token) => signed(token) !== undefined,
  };
}

/** The session secret shared by the API processes on this Redis (created once, SET NX). */
export async function sharedSessionSecret(jobs: JobClient): Promise<string> {
  await jobs.redis.set(jobs.keys.dashboardSecret, randomBytes(32).toString('hex'), 'NX');
  const secret = await jobs.redis.get(jobs.keys.dashboardSecret);
  if (!secret) throw new Error('could not establish a dashboard session secret');
  return secret;
}

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}
