import { createHmac, timingSafeEqual } from 'node:crypto';
import { InvalidKeyError, LocalUrlError } from './errors.js';
import { validateKey } from './keys.js';

/** Inputs of `signLocalUrl`. */
export interface SignLocalUrlInput {
  /** Resolved base URL of the API's file route (`/v1/files` or `https://host/v1/files`). */
  baseUrl: string;
  key: string;
  /** HMAC key shared by the signer and the API. */
  secret: Uint8Array;
  /** Unix time (seconds) after which the URL is refused. */
  expiresAtSec: number;
}

/** Inputs of `verifyLocalUrl`. */
export interface VerifyLocalUrlOptions {
  /** Same base URL the URL was signed with; only its path is compared (proxies may change hosts). */
  baseUrl: string;
  secret: Uint8Array;
  /** Clock, for tests. @defaultValue `Date.now()` */
  nowMs?: number;
}

/** What a valid local URL grants: read access to one key until a time. */
export interface VerifiedLocalUrl {
  key: string;
  expiresAtSec: number;
}

const SIGNATURE_VERSION = 'v1';

/** Encodes a key for a URL path, segment by segment, so `/` stays a separator. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

function signature(secret: Uint8Array, key: string, expiresAtSec: number): Buffer {
  return createHmac('sha256', secret).update(`${SIGNATURE_VERSION}\n${expiresAtSec}\n${key}`, 'utf8').digest();
}

/**
 * Builds an expiring URL for a local object: `<baseUrl>/<key>?expires=<unix s>&signature=<HMAC>`.
 * This is what makes local-folder URLs behave like S3 presigned URLs, so the API can hand them
 * out without serving every file to everyone forever.
 */
export function signLocalUrl(input: SignLocalUrlInput): string {
  validateKey(input.key);
  const sig = signature(input.secret, input.key, input.expiresAtSec).toString('base64url');
  return `${input.baseUrl}/${encodeKeyPath(input.key)}?expires=${input.expiresAtSec}&signature=${sig}`;
}

/**
 * Checks a request URL (path + query, or a full URL) produced by `signLocalUrl` and returns the
 * key it grants. The API's file route calls this before streaming anything. Throws `LocalUrlError`
 * (`STORAGE_URL_MALFORMED` / `STORAGE_URL_BAD_SIGNATURE` / `STORAGE_URL_EXPIRED`); the signature
 * is checked before the expiry so forged URLs never learn whether a key exists or expired.
 */
export function verifyLocalUrl(url: string | URL, options: VerifyLocalUrlOptions): VerifiedLocalUrl {
  let parsed: URL;
  try {
    parsed = new URL(url, 'http://local.invalid');
  } catch {
    throw new LocalUrlError('STORAGE_URL_MALFORMED', 'URL cannot be parsed');
  }
  const basePath = new URL(options.baseUrl, 'http://local.invalid').pathname.replace(/\/+$/, '');
  if (!parsed.pathname.startsWith(`${basePath}/`)) {
    throw new LocalUrlError('STORAGE_URL_MALFORMED', `path is not under ${basePath}/`);
  }
  let key: string;
  try {
    key = parsed.pathname.slice(basePath.length + 1).split('/').map(decodeURIComponent).join('/');
    validateKey(key);
  } catch (error) {
    if (error instanceof URIError || error instanceof InvalidKeyError) {
      throw new LocalUrlError('STORAGE_URL_MALFORMED', `URL path is not a valid key: ${error.message}`);
    }
    throw error;
  }
  const expires = parsed.searchParams.get('expires');
  const provided = parsed.searchParams.get('signature');
  if (expires === null || !/^\d{1,12}$/.test(expires) || provided === null || !/^[A-Za-z0-9_-]{43}$/.test(provided)) {
    throw new LocalUrlError('STORAGE_URL_MALFORMED', 'URL lacks a well-formed expires/signature query');
  }
  const expiresAtSec = Number(expires);
  const expected = signature(options.secret, key, expiresAtSec);
  const given = Buffer.from(provided, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new LocalUrlError('STORAGE_URL_BAD_SIGNATURE', 'URL signature does not match');
  }
  const nowSec = Math.floor((options.nowMs ?? Date.now()) / 1000);
  if (nowSec > expiresAtSec) {
    throw new LocalUrlError('STORAGE_URL_EXPIRED', `URL expired at ${new Date(expiresAtSec * 1000).toISOString()}`);
  }
  return { key, expiresAtSec };
}
