import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Header carrying the legacy signature of a webhook body.
 * @deprecated Deliveries are signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature`); this header is only sent with `WEBHOOK_LEGACY_SIGNATURE=1`, for one release.
 */
export const SIGNATURE_HEADER = 'Asyncdiff-Signature';

/**
 * Signs a webhook body: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
 * timestamp is inside the MAC, so a receiver can refuse replays older than its tolerance. The
 * secret is the configured string or its key bytes (`parseWebhookSecret`), which are the same
 * thing for the free-text secrets this scheme was used with.
 * @deprecated Use the Standard Webhooks headers (`standardWebhookHeaders`); kept behind
 * `WEBHOOK_LEGACY_SIGNATURE` for one release.
 */
export function signWebhook(secret: string | Uint8Array, body: string, timestampSec: number = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestampSec}.${body}`).digest('hex');
  return `t=${timestampSec},v1=${mac}`;
}

/**
 * @deprecated With `signWebhook`. What a receiver does: checks the header's MAC over the raw body and that the timestamp is
 * within `toleranceSec` of now. Returns false for anything malformed.
 */
export function verifyWebhookSignature(secret: string | Uint8Array, body: string, header: string, toleranceSec = 300, nowSec: number = Math.floor(Date.now() / 1000)): boolean {
  const parts = new Map(header.split(',').map((p) => p.trim().split('=', 2) as [string, string | undefined]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  if (Math.abs(nowSec - t) > toleranceSec) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}
