/**
 * How a generation uses its devices. `sequential` runs the whole denoiser on one device;
 * `async` cuts it into `stages` components run by AsyncDiff (DESIGN.md §2).
 */
export interface ParallelOptions {
  /** @defaultValue 'async' */
  readonly mode?: 'sequential' | 'async';
  /** Components N (async only). @defaultValue 2 */
  readonly stages?: number;
  /** @defaultValue 1 */
  readonly stride?: 1 | 2;
  /** Sequential warm-up steps W. @defaultValue 3 */
  readonly warmup?: number;
  /** @defaultValue false */
  readonly timeShift?: boolean;
}

/** ParallelOptions with every default filled in. */
export interface ResolvedParallel {
  readonly mode: 'sequential' | 'async';
  readonly stages: number;
  readonly stride: 1 | 2;
  readonly warmup: number;
  readonly timeShift: boolean;
}

/**
 * Shipped defaults: N = 2, stride 1, W = 3 — the configuration this 2-core class of machine runs
 * without oversubscription, with the warm-up that kept quality within the acceptance bounds in
 * bench/RESULTS.md (see README "Choosing the parallel configuration").
 */
export const DEFAULT_PARALLEL: ResolvedParallel = { mode: 'async', stages: 2, stride: 1, warmup: 3, timeShift: false };

/** Fills defaults; sequential mode normalises to one component and no stride. */
export function resolveParallel(p: ParallelOptions = {}): ResolvedParallel {
  const mode = p.mode ?? DEFAULT_PARALLEL.mode;
  if (mode === 'sequential') return { mode, stages: 1, stride: 1, warmup: 1, timeShift: false };
  return {
    mode,
    stages: p.stages ?? DEFAULT_PARALLEL.stages,
    stride: p.stride ?? DEFAULT_PARALLEL.stride,
    warmup: p.warmup ?? DEFAULT_PARALLEL.warmup,
    timeShift: p.timeShift ?? DEFAULT_PARALLEL.timeShift,
  };
}

/** Devices a configuration occupies: N (stride 1) or N+1 (stride 2). */
export function devicesNeeded(p: ResolvedParallel): number {
  return p.stride === 2 ? p.stages + 1 : p.stages;
}
