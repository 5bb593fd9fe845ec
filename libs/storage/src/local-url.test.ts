import { describe, expect, it } from 'vitest';
import { signLocalUrl, verifyLocalUrl } from './local-url.js';

const secret = Buffer.alloc(32, 7);
const baseUrl = '/v1/files';
const nowMs = Date.UTC(2030, 0, 1);
const expiresAtSec = nowMs / 1000 + 300;

describe('local signed URLs', () => {
  it('round-trips keys with characters that need encoding', () => {
    const key = 'jobs/a b/ü?#%.png';
    const url = signLocalUrl({ baseUrl, key, secret, expiresAtSec });
    expect(url.startsWith('/v1/files/jobs/a%20b/%C3%BC%3F%23%25.png?expires=')).toBe(true);
    expect(verifyLocalUrl(url, { baseUrl, secret, nowMs })).toEqual({ key, expiresAtSec });
  });

  it('accepts until the expiry second, then refuses with STORAGE_URL_EXPIRED', () => {
    const url = signLocalUrl({ baseUrl, key: 'k.png', secret, expiresAtSec });
    expect(verifyLocalUrl(url, { baseUrl, secret, nowMs: expiresAtSec * 1000 + 999 }).key).toBe('k.png');
    expect(() => verifyLocalUrl(url, { baseUrl, secret, nowMs: (expiresAtSec + 1) * 1000 })).toThrow(
      expect.objectContaining({ code: 'STORAGE_URL_EXPIRED' }),
    );
  });

  it('refuses tampered expiry, key, or secret with STORAGE_URL_BAD_SIGNATURE', () => {
    const url = signLocalUrl({ baseUrl, key: 'k.png', secret, expiresAtSec });
    const bad = expect.objectContaining({ code: 'STORAGE_URL_BAD_SIGNATURE' });
    expect(() => verifyLocalUrl(url.replace(`expires=${expiresAtSec}`, `expires=${expiresAtSec + 9999}`), { baseUrl, secret, nowMs })).toThrow(bad);
    expect(() => verifyLocalUrl(url.replace('k.png', 'j.png'), { baseUrl, secret, nowMs })).toThrow(bad);
    expect(() => verifyLocalUrl(url, { baseUrl, secret: Buffer.alloc(32, 8), nowMs })).toThrow(bad);
  });

  it('refuses escape attempts and junk with STORAGE_URL_MALFORMED', () => {
    const malformed = expect.objectContaining({ code: 'STORAGE_URL_MALFORMED' });
    for (const url of [
      '/v1/files/..%2F..%2Fetc%2Fpasswd?expires=1&signature=' + 'a'.repeat(43),
      '/v1/files/a/%2e%2e/%2e%2e/x?expires=1&signature=' + 'a'.repeat(43),
      '/v1/files/a%00b?expires=1&signature=' + 'a'.repeat(43),
      '/v1/files/a%5Cb?expires=1&signature=' + 'a'.repeat(43),
      '/v1/files/%E0%A4%A?expires=1&signature=' + 'a'.repeat(43),
      '/v1/other/k.png?expires=1&signature=' + 'a'.repeat(43),
      '/v1/files/k.png',
      '/v1/files/k.png?expires=soon&signature=' + 'a'.repeat(43),
    ]) {
      expect(() => verifyLocalUrl(url, { baseUrl, secret, nowMs }), url).toThrow(malformed);
    }
  });
});
