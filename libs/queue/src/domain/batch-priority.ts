import { PRIORITY_MAX, PRIORITY_MIN } from './priority.js';

/**
 * Fairness between interactive and batch traffic, in BullMQ priorities (1 runs first):
 *
 * - **Interactive jobs** (`POST /v1/jobs`) use 1…101 (`toBullPriority`).
 * - **Batch children** use a band above that: `BATCH_BAND_BASE + (100 - batchPriority) ×
 *   BATCH_LEVELS + level`. So every waiting single job, whatever its priority, is taken before any
 *   batch child: a 1,000-child batch never delays interactive work by more than the jobs already
 *   running. Batch priority orders batches among themselves.
 * - **Between batches of equal priority** the `level` is start-time fair queuing: child `i` of a
 *   batch gets `level = start + i`, where `start` is the lowest level still waiting in that band
 *   of the queue when the batch arrives (0 when none waits). Two batches therefore alternate one
 *   child each from the moment the second arrives (FIFO breaks ties, so the older goes first)
 *   instead of the second waiting for the first to drain; a small batch submitted behind a big
 *   one finishes after about twice its own length of work.
 * - Levels saturate at `BATCH_LEVELS - 1` (FIFO from there on), which only happens when more than
 *   20,000 children of one band have queued up behind each other without the band draining.
 */
export const BATCH_BAND_BASE = 1000;
/** Fair-queuing levels per batch priority. */
export const BATCH_LEVELS = 20_000;
/** BullMQ's largest priority (2^21 - 1). */
export const BULL_PRIORITY_LIMIT = 2 ** 21 - 1;

/** BullMQ priority of a batch child at fair-queuing `level`. */
export function batchChildBullPriority(batchPriority: number, level: number): number {
  const p = Math.min(PRIORITY_MAX, Math.max(PRIORITY_MIN, Math.round(batchPriority)));
  const l = Math.min(BATCH_LEVELS - 1, Math.max(0, Math.floor(level)));
  return BATCH_BAND_BASE + (PRIORITY_MAX - p) * BATCH_LEVELS + l;
}

/** The BullMQ priorities `[lowest, highest]` of a batch priority's band. */
export function batchBand(batchPriority: number): readonly [number, number] {
  const lo = batchChildBullPriority(batchPriority, 0);
  return [lo, lo + BATCH_LEVELS - 1];
}

/** BullMQ stores a prioritized job with score `priority × 2^32 + counter`. */
export const BULL_PRIORITY_SCORE_FACTOR = 0x100000000;
