import { ApiError } from '../errors.js';

/** Longest `Prefer: wait=N` the API honours, in seconds (Replicate's documented bound). */
export const PREFER_WAIT_MAX_SEC = 60;

/**
 * Replicate's documented form of the preference (their OpenAPI pattern for the `Prefer` header):
 * `wait` alone (the maximum) or `wait=N` with N 1…60.
 */
const WAIT_VALUE = /^(?:[1-9]|[1-5][0-9]|60)$/;

/** What a request's `Prefer` header asks of `POST /v1/jobs`. */
export interface JobPreferences {
  /** Hold the response up to this many seconds for the job to end; absent: answer at once. */
  readonly waitSec?: number;
}

/**
 * Reads the `Prefer` header(s) (RFC 7240: comma-separated preferences, each `token[=value]` with
 * optional `;` parameters, names case-insensitive, the first of a repeated preference counts).
 * Preferences other than `wait` are ignored, as RFC 7240 asks of preferences a server does not
 * support. A `wait` whose value is outside Replicate's documented form (`wait` or `wait=1`…`wait=60`)
 * is refused with 400 INVALID_REQUEST naming `Prefer`, rather than silently waiting some other
 * time than the client meant.
 */
export function parsePrefer(header: string | readonly string[] | undefined): JobPreferences {
  if (header === undefined) return {};
  const text = typeof header === 'string' ? header : header.join(',');
  for (const part of text.split(',')) {
    const [pref = ''] = part.split(';');
    const eq = pref.indexOf('=');
    const name = (eq < 0 ? pref : pref.slice(0, eq)).trim().toLowerCase();
    if (name !== 'wait') continue;
    if (eq < 0) return { waitSec: PREFER_WAIT_MAX_SEC };
    const value = pref.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (!WAIT_VALUE.test(value)) {
      throw new ApiError('INVALID_REQUEST', `Prefer: wait must be "wait" or "wait=N" with N 1…${PREFER_WAIT_MAX_SEC} (seconds), got "wait=${value}"`, 'Prefer');
    }
    return { waitSec: Number(value) };
  }
  return {};
}
