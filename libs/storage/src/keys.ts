import { InvalidArgumentError, InvalidKeyError } from './errors.js';

/** Longest key S3 accepts, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** Longest path segment, in UTF-8 bytes: file systems allow 255 and the local store adds a suffix. */
export const MAX_SEGMENT_BYTES = 240;
/** First key segment the local store keeps for itself (metadata, temp files, URL secret). */
export const RESERVED_SEGMENT = '.asyncdiff';

const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Checks a key against the rules shared by every backend, so a key that works locally works on
 * S3 and no key can leave the local root: `/`-separated non-empty segments, no `.`/`..`, no
 * leading `/` or drive letter, no backslash, NUL or other control characters.
 */
export function validateKey(key: unknown, field = 'key'): string {
  if (typeof key !== 'string') throw new InvalidKeyError(field, 'not-a-string', `expected a string, got ${typeof key}`);
  if (key.length === 0) throw new InvalidKeyError(field, 'empty', 'must not be empty');
  checkCommon(key, field);
  if (key.endsWith('/')) throw new InvalidKeyError(field, 'empty-segment', `${JSON.stringify(key)} ends with "/"`);
  checkSegments(key.split('/'), key, field);
  return key;
}

/**
 * Checks a listing prefix: empty, or a key-like string that may end in `/` (a "folder") or in a
 * partial segment (`jobs/ab` lists `jobs/abc/…`).
 */
export function validatePrefix(prefix: unknown, field = 'prefix'): string {
  if (typeof prefix !== 'string') throw new InvalidKeyError(field, 'not-a-string', `expected a string, got ${typeof prefix}`);
  if (prefix.length === 0) return prefix;
  checkCommon(prefix, field);
  const segments = prefix.split('/');
  if (prefix.endsWith('/')) segments.pop();
  const last = segments.at(-1);
  // A trailing partial segment may be "." (it can match ".foo") but never "..".
  if (!prefix.endsWith('/') && last === '.') segments.pop();
  checkSegments(segments, prefix, field);
  return prefix;
}

function checkCommon(value: string, field: string): void {
  if (Buffer.byteLength(value, 'utf8') > MAX_KEY_BYTES) {
    throw new InvalidKeyError(field, 'too-long', `longer than ${MAX_KEY_BYTES} UTF-8 bytes`);
  }
  if (CONTROL.test(value)) throw new InvalidKeyError(field, 'control-char', 'contains NUL or a control character');
  if (value.includes('\\')) throw new InvalidKeyError(field, 'backslash', `${JSON.stringify(value)} contains "\\"`);
  if (value.startsWith('/')) throw new InvalidKeyError(field, 'absolute', `${JSON.stringify(value)} starts with "/"`);
  if (/^[A-Za-z]:/.test(value)) throw new InvalidKeyError(field, 'absolute', `${JSON.stringify(value)} starts with a drive letter`);
  if (LONE_SURROGATE.test(value)) {
    throw new InvalidKeyError(field, 'control-char', 'contains a lone UTF-16 surrogate');
  }
}

function checkSegments(segments: string[], value: string, field: string): void {
  segments.forEach((segment, index) => {
    if (segment === '') throw new InvalidKeyError(field, 'empty-segment', `${JSON.stringify(value)} contains "//"`);
    if (segment === '.' || segment === '..') {
      throw new InvalidKeyError(field, 'dot-segment', `${JSON.stringify(value)} contains a "${segment}" segment`);
    }
    if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) {
      throw new InvalidKeyError(field, 'segment-too-long', `a segment is longer than ${MAX_SEGMENT_BYTES} UTF-8 bytes`);
    }
    if (index === 0 && segment === RESERVED_SEGMENT) {
      throw new InvalidKeyError(field, 'reserved', `keys under "${RESERVED_SEGMENT}/" are reserved for the store`);
    }
  });
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
const EXT = /^[a-z0-9]{1,10}$/;

/**
 * The key of output number `index` of job `jobId` (`jobs/<jobId>/<index, 4 digits>.<ext>`), so
 * every writer (gpu-host, retries, CLI) derives the same key and a retried upload overwrites
 * instead of duplicating. Ids: `[A-Za-z0-9][A-Za-z0-9_-]{0,127}`; ext: `[a-z0-9]{1,10}`.
 */
export function outputKey(jobId: string, index: number, ext: string): string {
  if (typeof jobId !== 'string' || !ID.test(jobId)) {
    throw new InvalidArgumentError('jobId', `${JSON.stringify(jobId)} must match ${ID.source}`);
  }
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new InvalidArgumentError('index', `${String(index)} must be a non-negative integer`);
  }
  if (typeof ext !== 'string' || !EXT.test(ext)) {
    throw new InvalidArgumentError('ext', `${JSON.stringify(ext)} must match ${EXT.source} (no dot)`);
  }
  return validateKey(`jobs/${jobId}/${String(index).padStart(4, '0')}.${ext}`);
}
