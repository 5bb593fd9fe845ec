import { InvalidArgumentError } from './errors.js';
import type { ListOptions, PutOptions, UrlOptions } from './object-store.js';

/** S3's longest presigned-URL lifetime; local URLs use the same bound so behaviour matches. */
export const MAX_URL_EXPIRES_SEC = 604_800;
/** Largest page `list` returns (S3's own maximum). */
export const MAX_LIST_LIMIT = 1000;

const META_NAME = /^[a-z0-9][a-z0-9-]{0,63}$/;
const META_VALUE = /^[\x20-\x7e]{0,1024}$/;
const CONTENT_TYPE = /^[\x21-\x7e]+\/[\x20-\x7e]+$/;

/** Checks `put` options once, for both backends; metadata must survive as HTTP headers. */
export function checkPutOptions(options: PutOptions): Required<PutOptions> {
  if (typeof options?.contentType !== 'string' || !CONTENT_TYPE.test(options.contentType)) {
    throw new InvalidArgumentError('contentType', `${JSON.stringify(options?.contentType)} is not a MIME type`);
  }
  const metadata = options.metadata ?? {};
  for (const [name, value] of Object.entries(metadata)) {
    if (!META_NAME.test(name)) throw new InvalidArgumentError(`metadata.${name}`, `name must match ${META_NAME.source}`);
    if (typeof value !== 'string' || !META_VALUE.test(value)) {
      throw new InvalidArgumentError(`metadata.${name}`, 'value must be printable ASCII, at most 1024 characters');
    }
  }
  return { contentType: options.contentType, metadata: { ...metadata } };
}

/** Resolves the URL lifetime, falling back to the store default. */
export function checkExpiresInSec(options: UrlOptions | undefined, defaultSec: number): number {
  const value = options?.expiresInSec ?? defaultSec;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_URL_EXPIRES_SEC) {
    throw new InvalidArgumentError('expiresInSec', `${String(value)} must be an integer in 1…${MAX_URL_EXPIRES_SEC}`);
  }
  return value;
}

/** Resolves the page size. */
export function checkListLimit(options: ListOptions | undefined): number {
  const value = options?.limit ?? MAX_LIST_LIMIT;
  if (!Number.isSafeInteger(value) || value < 1 || value > MAX_LIST_LIMIT) {
    throw new InvalidArgumentError('limit', `${String(value)} must be an integer in 1…${MAX_LIST_LIMIT}`);
  }
  return value;
}
