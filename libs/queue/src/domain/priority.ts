/**
 * Job priority scale of the public API: an integer 0…100, higher runs sooner, default 50.
 * Jobs of equal priority run first-in first-out. Batches (later) submit below the default so
 * interactive jobs overtake them.
 */
export const PRIORITY_MIN = 0;
/** Highest API priority. */
export const PRIORITY_MAX = 100;
/** Priority of a job that does not ask for one. */
export const PRIORITY_DEFAULT = 50;

/**
 * Maps an API priority to BullMQ's (1 is highest; 0 would mean "unprioritized", which BullMQ runs
 * before every prioritized job, so we never use it): 100 → 1, 50 → 51, 0 → 101.
 */
export function toBullPriority(priority: number): number {
  const p = Math.min(PRIORITY_MAX, Math.max(PRIORITY_MIN, Math.round(priority)));
  return PRIORITY_MAX + 1 - p;
}
