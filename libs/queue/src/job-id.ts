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

/** A new, unique, time-ordered job id. */
export function newJobId(nowMs: number = Date.now()): string {
  return JOB_ID_PREFIX + timePrefix(nowMs) + randomPart();
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

function randomPart(): string {
  const bytes = randomBytes(RANDOM_CHARS);
  let out = '';
  for (const b of bytes) out += ALPHABET[b & 31];
  return out;
}
