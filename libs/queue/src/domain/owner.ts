import { createHash } from 'node:crypto';

/** The one owner of every job when the API has no keys (everyone sees everything then). */
export const ANONYMOUS_OWNER = 'anonymous';

/** Shape of an owner id: `anonymous`, or `key_` + 16 hex digits (see `ownerIdOfKey`). */
export const OWNER_PATTERN = /^(anonymous|key_[0-9a-f]{16})$/;

/**
 * The owner id of an API key: `key_` + the first 16 hex digits of SHA-256(key). Stored on job and
 * batch records, in per-owner indexes and counters, and in idempotency scopes — never the key.
 * A plain hash rather than an HMAC with a server secret: it must be the same in every API process
 * and across restarts without sharing (or ever rotating) another secret whose loss would orphan
 * every job. The id is kept in Redis and shown to admins only, never to other clients; and whoever
 * can read Redis can read every job anyway, so a keyed hash would protect nothing more.
 */
export function ownerIdOfKey(key: string): string {
  return `key_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/** Whether `value` is a well-formed owner id. */
export function isOwnerId(value: unknown): value is string {
  return typeof value === 'string' && OWNER_PATTERN.test(value);
}
