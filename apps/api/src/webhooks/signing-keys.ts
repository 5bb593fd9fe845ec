import { randomBytes } from 'node:crypto';

import { Webhook } from 'standardwebhooks';

/** Prefix of a Standard Webhooks secret: `whsec_` + base64 of the key bytes. */
export const WHSEC_PREFIX = 'whsec_';

/** Smallest and largest key a `whsec_` secret may hold (the spec asks for 24…64 bytes). */
const KEY_BYTES = { min: 24, max: 64 } as const;

/** Shortest secret in the older free-text form (still accepted; see `parseWebhookSecret`). */
export const LEGACY_SECRET_MIN_CHARS = 16;

/**
 * The keys webhook deliveries are signed with: `current`, plus `previous` ones during a rotation
 * (each delivery then carries one signature per key, so receivers can switch at their own pace).
 */
export interface WebhookSigningKeys {
  readonly current: Uint8Array;
  readonly previous: readonly Uint8Array[];
}

/**
 * The HMAC key of a configured secret. `whsec_<base64>` (the Standard Webhooks form, 24…64 bytes)
 * is decoded; any other string of at least 16 characters — the free-text secrets of earlier
 * releases, and the hex ones they generated — is its own UTF-8 bytes, so a deployment keeps its
 * secret and the legacy `Asyncdiff-Signature` stays the same. Throws naming what is wrong.
 */
export function parseWebhookSecret(secret: string): Uint8Array {
  if (secret.startsWith(WHSEC_PREFIX)) {
    const body = secret.slice(WHSEC_PREFIX.length);
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) throw new Error('a whsec_ secret must be whsec_ followed by base64');
    const key = Buffer.from(body, 'base64');
    if (key.length < KEY_BYTES.min || key.length > KEY_BYTES.max) throw new Error(`a whsec_ secret must hold ${KEY_BYTES.min}…${KEY_BYTES.max} bytes, not ${key.length}`);
    return new Uint8Array(key);
  }
  if (secret.length < LEGACY_SECRET_MIN_CHARS) throw new Error(`must be whsec_<base64> or at least ${LEGACY_SECRET_MIN_CHARS} characters`);
  return new Uint8Array(Buffer.from(secret, 'utf8'));
}

/** The secret receivers configure: `whsec_` + base64 of the key (what any Standard Webhooks library accepts). */
export function formatWebhookSecret(key: Uint8Array): string {
  return `${WHSEC_PREFIX}${Buffer.from(key).toString('base64')}`;
}

/** A fresh secret in the Standard Webhooks form (32 random bytes). */
export function generateWebhookSecret(): string {
  return formatWebhookSecret(randomBytes(32));
}

/**
 * The Standard Webhooks headers of one attempt: `webhook-id` (the delivery id, the same on every
 * retry), `webhook-timestamp` (this attempt, unix seconds) and `webhook-signature` (`v1,<base64>`
 * per key, space-separated), signed by the `standardwebhooks` library over `id.timestamp.body`.
 */
export function standardWebhookHeaders(keys: WebhookSigningKeys, id: string, body: string, at: Date = new Date()): Record<string, string> {
  const signatures = [keys.current, ...keys.previous].map((key) => new Webhook(key, { format: 'raw' }).sign(id, at, body));
  return {
    'webhook-id': id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}
