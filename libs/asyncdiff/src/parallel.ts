import type { Compensation } from './compensation.js';

/**
 * How one generation uses its devices:
 * - `sequential`: the whole denoiser on one device;
 * - `async`: cut into `stages` components run by AsyncDiff (DESIGN.md §2) — stale features;
 * - `cfg`: the two classifier-free-guidance branches at batch 1 on two devices at once, combined
 *   every step — exact (the same computation as sequential sampling);
 * - `hybrid`: cfg × async, an AsyncDiff pipeline of `stages` components per branch on 2 × N devices.
 */
export const PARALLEL_MODES = ['sequential', 'async', 'cfg', 'hybrid'] as const;

/** A parallel mode of one generation (see `PARALLEL_MODES`). */
export type ParallelMode = (typeof PARALLEL_MODES)[number];

/** How a generation uses its devices. */
export interface ParallelOptions {
  /** @defaultValue 'async' */
  readonly mode?: ParallelMode;
  /** Components N (async and hybrid). @defaultValue 2 */
  readonly stages?: number;
  /** @defaultValue 1 */
  readonly stride?: 1 | 2;
  /** Sequential warm-up steps W. @defaultValue 3 */
  readonly warmup?: number;
  /** @defaultValue false */
  readonly timeShift?: boolean;
  /** Staleness compensation of parallel steps (async, hybrid). @defaultValue DEFAULT_PARALLEL.compensation */
  readonly compensation?: Compensation;
}

/**
 * The process layout of a parallel configuration: what stage processes exist and which
 * component each holds. An engine (and its cache key) is one layout.
 */
export interface ParallelLayout {
  readonly mode: ParallelMode;
  readonly stages: number;
  readonly stride: 1 | 2;
}

/**
 * Per-generation AsyncDiff knobs: they change the schedule, not the processes, so generations
 * with different knobs share one engine.
 */
export interface AsyncKnobs {
  readonly warmup: number;
  readonly timeShift: boolean;
  /** How parallel runs estimate their one-step-stale inputs (libs/asyncdiff compensation.ts). */
  readonly compensation: Compensation;
}

/** ParallelOptions with every default filled in: a layout plus the default knobs. */
export interface ResolvedParallel extends ParallelLayout, AsyncKnobs {}

/**
 * Shipped defaults: N = 2, stride 1, W = 3 — the configuration this 2-core class of machine runs
 * without oversubscription, with the warm-up that kept quality within the acceptance bounds in
 * bench/RESULTS.md (see README "Choosing the parallel configuration"). Linear staleness
 * compensation is on by default: across the measured grid (bench/RESULTS.md "Staleness
 * compensation", 500 digits images, 100 clips) it took N = 2 stride 1 from +20.5% to −2.5%
 * Fréchet of sequential on digits and from +8.3% to −1.8% on moving-digits, N = 3/4 to within
 * 2.3%, and improved every other row; it costs no network evaluation and leaves W ≥ T exact.
 * The shipped quality receipts are measured for it.
 */
export const DEFAULT_PARALLEL: ResolvedParallel = { mode: 'async', stages: 2, stride: 1, warmup: 3, timeShift: false, compensation: 'linear' };

/** Fills defaults; modes without AsyncDiff normalise to one component, no stride, no knobs. */
export function resolveParallel(p: ParallelOptions = {}): ResolvedParallel {
  const mode = p.mode ?? DEFAULT_PARALLEL.mode;
  if (!isStale(mode)) return { mode, stages: 1, stride: 1, warmup: 1, timeShift: false, compensation: 'none' };
  return {
    mode,
    stages: p.stages ?? DEFAULT_PARALLEL.stages,
    stride: p.stride ?? DEFAULT_PARALLEL.stride,
    warmup: p.warmup ?? DEFAULT_PARALLEL.warmup,
    timeShift: p.timeShift ?? DEFAULT_PARALLEL.timeShift,
    compensation: p.compensation ?? DEFAULT_PARALLEL.compensation,
  };
}

/** The process layout of a configuration (drops the per-generation knobs). */
export function layoutOf(p: ParallelLayout): ParallelLayout {
  return { mode: p.mode, stages: p.stages, stride: p.stride };
}

/** Whether a mode computes with one-step-stale features (AsyncDiff); the others are exact. */
export function isStale(mode: ParallelMode): boolean {
  return mode === 'async' || mode === 'hybrid';
}

/**
 * How much a job lets the host trade fidelity for speed (`parallel.quality` of a job):
 * - `exact`: only modes that compute what sequential sampling computes (sequential, cfg, one job
 *   per device), so a job's bytes never depend on load, host or device count;
 * - `balanced`: AsyncDiff/hybrid too, but only where a quality receipt measured for the model and
 *   configuration is within the balanced bounds;
 * - `fastest`: any mode, measured or not.
 * Outputs of `balanced`/`fastest` jobs depend on the mode the host picked.
 */
export const QUALITY_BUDGETS = ['exact', 'balanced', 'fastest'] as const;

/** A quality budget (see `QUALITY_BUDGETS`). */
export type QualityBudget = (typeof QUALITY_BUDGETS)[number];

/** Shipped default budget: results never depend on load unless a job or host opts out. */
export const DEFAULT_QUALITY: QualityBudget = 'exact';

/** Whether a budget admits a mode at all (receipts decide further for `balanced`). */
export function budgetAdmits(budget: QualityBudget, mode: ParallelMode): boolean {
  return budget !== 'exact' || !isStale(mode);
}

/** Branches of a layout: 2 when the guidance halves run on their own devices. */
export function branchesOf(p: Pick<ParallelLayout, 'mode'>): 1 | 2 {
  return p.mode === 'cfg' || p.mode === 'hybrid' ? 2 : 1;
}

/** Devices a configuration occupies: N (stride 1) or N+1 (stride 2), per branch. */
export function devicesNeeded(p: ParallelLayout): number {
  return branchesOf(p) * (p.stride === 2 ? p.stages + 1 : p.stages);
}
