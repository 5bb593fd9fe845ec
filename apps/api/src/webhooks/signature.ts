import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature of a webhook body. */
export const SIGNATURE_HEADER = 'Asyncdiff-Signature';

/**
 * Signs a webhook body: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The
 * timestamp is inside the MAC, so a receiver can refuse replays older than its tolerance.
 */
export function signWebhook(secret: string, body: string, timestampSec: number = Math.floor(Date.now() / 1000)): string {
  const mac = createHmac('sha256', secret).update(`${timestampSec}.${body}`).digest('hex');
  return `t=${timestampSec},v1=${mac}`;
}

/**
 * What a receiver does: checks the header's MAC over the raw body and that the timestamp is
 * within `toleranceSec` of now. Returns false for anything malformed.
 */
export function verifyWebhookSignature(secret: string, body: string, header: string, toleranceSec = 300, nowSec: number = Math.floor(Date.now() / 1000)): boolean {
  const parts = new Map(header.split(',').map((p) => p.trim().split('=', 2) as [string, string | undefined]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  if (Math.abs(nowSec - t) > toleranceSec) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}
