import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'; // Crockford base32
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;

/** Prefix of every job id: keeps ids self-describing and never integer-like (BullMQ forbids that). */
export const JOB_ID_PREFIX = 'job_';

/**
 * Shape of a job id: `job_` + a ULID (10 chars of millisecond time, 16 random, Crockford base32).
 * Ids sort by creation time as strings, which is what makes list pagination stable.
 */
export const JOB_ID_PATTERN = /^job_[0-9A-HJKMNP-TV-Z]{26}$/;

let lastMs = -1;
let lastRandom: number[] = [];

/**
 * A new, unique, time-ordered job id. Monotonic within a process (ULID "monotonic" rule: within
 * one millisecond the random part counts up), so ids of one API process sort in submission order.
 */
export function newJobId(nowMs: number = Date.now()): string {
  return JOB_ID_PREFIX + monotonicUlid(nowMs);
}

/** Prefix of every batch id. */
export const BATCH_ID_PREFIX = 'batch_';

/** Shape of a batch id: `batch_` + a ULID (same clock and ordering as job ids). */
export const BATCH_ID_PATTERN = /^batch_[0-9A-HJKMNP-TV-Z]{26}$/;

/** A new, unique, time-ordered batch id. */
export function newBatchId(nowMs: number = Date.now()): string {
  return BATCH_ID_PREFIX + monotonicUlid(nowMs);
}

/** Whether `value` is a well-formed batch id. */
export function isBatchId(value: unknown): value is string {
  return typeof value === 'string' && BATCH_ID_PATTERN.test(value);
}

/** The smallest batch id created at `ms`. */
export function batchIdFloor(ms: number): string {
  return BATCH_ID_PREFIX + timePrefix(ms);
}

function monotonicUlid(nowMs: number): string {
  const ms = Math.floor(nowMs);
  if (ms <= lastMs && increment(lastRandom)) {
    return timePrefix(lastMs) + lastRandom.map((d) => ALPHABET[d]).join('');
  }
  lastMs = Math.max(ms, lastMs);
  lastRandom = randomDigits();
  return timePrefix(lastMs) + lastRandom.map((d) => ALPHABET[d]).join('');
}

/** Adds one to a base32 digit array; false on overflow (then a fresh random part is drawn). */
function increment(digits: number[]): boolean {
  for (let i = digits.length - 1; i >= 0; i--) {
    if ((digits[i] ?? 0) < 31) {
      digits[i] = (digits[i] ?? 0) + 1;
      return true;
    }
    digits[i] = 0;
  }
  return false;
}

/** Whether `value` is a well-formed job id (validate path parameters with this). */
export function isJobId(value: unknown): value is string {
  return typeof value === 'string' && JOB_ID_PATTERN.test(value);
}

/** The smallest id created at `ms`: ids below it were created earlier (used to prune indexes). */
export function jobIdFloor(ms: number): string {
  return JOB_ID_PREFIX + timePrefix(ms);
}

/** Creation time (ms) encoded in a job id. */
export function jobIdTime(id: string): number {
  let ms = 0;
  for (const ch of id.slice(JOB_ID_PREFIX.length, JOB_ID_PREFIX.length + TIME_CHARS)) ms = ms * 32 + ALPHABET.indexOf(ch);
  return ms;
}

function timePrefix(ms: number): string {
  let t = Math.max(0, Math.floor(ms));
  let out = '';
  for (let i = 0; i < TIME_CHARS; i++) {
    out = ALPHABET[t % 32] + out;
    t = Math.floor(t / 32);
  }
  return out;
}

function randomDigits(): number[] {
  // The top bit stays clear so a millisecond can count up 2^75 times before overflowing.
  return [...randomBytes(RANDOM_CHARS)].map((b, i) => (i === 0 ? b & 15 : b & 31));
}
