import { assertNever, type ParallelSpec, type QualityBudget } from '@asyncdiff/queue';
import { budgetAdmits, devicesNeeded, isStale, type ResolvedParallel } from '@asyncdiff/engine';
import type { QualityReceipt } from '@asyncdiff/models';

import type { DeviceDemand } from '../device-allocator.js';

/**
 * What the job's output costs in fidelity against sequential sampling:
 * - `exact`: the mode computes what sequential sampling computes (same bytes);
 * - `measured`: a stale-feature mode, with the receipt `asyncdiff eval --receipt` measured for
 *   this model and configuration;
 * - `none-measured`: a stale-feature mode nobody has measured on this model (`fastest`, or forced).
 */
export type QualityRecord =
  | { readonly kind: 'exact' }
  | { readonly kind: 'measured'; readonly receipt: QualityReceipt }
  | { readonly kind: 'none-measured'; readonly note: string };

/** The parallel configuration a job runs with, next to what it asked for (for the sidecar). */
export interface ParallelDecision {
  readonly requested: ParallelSpec;
  readonly used: ResolvedParallel;
  /** Who chose `used`: the request itself, or the host's `auto` rule. */
  readonly decidedBy: 'request' | 'auto';
  /** The budget `auto` chose within (the job's, else the host's); null for forced modes without one. */
  readonly budget: QualityBudget | null;
  /** The quality receipt of `used` (see `QualityRecord`). */
  readonly quality: QualityRecord;
  /** True when the request asked for more devices than the group has. */
  readonly clamped: boolean;
  /** Why `used` differs from the request, for humans. */
  readonly notes: readonly string[];
}

/** What `auto` may use beyond the group size: the job's shape and the model's receipts. */
export interface PlanContext {
  /** The host's AsyncDiff configuration for jobs that do not name one. */
  readonly hostDefault: ResolvedParallel;
  /** The host's quality budget for jobs that do not name one. */
  readonly hostQuality: QualityBudget;
  readonly groupDevices: number;
  /** Rows per denoiser call (2 per image with guidance ≠ 1, else 1, times images): cfg needs ≥ 2. */
  readonly rows: number;
  /** The receipt measured for this model and configuration, if any. */
  readonly receiptFor: (config: ResolvedParallel) => QualityReceipt | undefined;
}

/** Before devices are granted: what to ask the allocator for and what each answer means. */
export interface ParallelPlan {
  readonly demand: DeviceDemand;
  /** Runs on a grant of `devicesNeeded(wide)` devices; undefined when only one device is wanted. */
  readonly wide: ResolvedParallel | undefined;
  readonly budget: QualityBudget | null;
  readonly clamped: boolean;
  readonly notes: readonly string[];
}

/**
 * The bounds a receipt must meet for `balanced` to use a stale-feature mode: agreement at most
 * 1 point below sequential and a Fréchet distance at most 10% above it — issue #3's acceptance
 * bounds for AsyncDiff on our models.
 */
export const BALANCED_BOUNDS = { agreementDrop: 0.01, frechetRise: 0.1 } as const;

const SEQUENTIAL: ResolvedParallel = { mode: 'sequential', stages: 1, stride: 1, warmup: 1, timeShift: false, compensation: 'none' };
const CFG: ResolvedParallel = { mode: 'cfg', stages: 1, stride: 1, warmup: 1, timeShift: false, compensation: 'none' };

/** Whether a receipt shows a quality cost within `BALANCED_BOUNDS`. */
export function withinBalancedBounds(r: QualityReceipt): boolean {
  return r.agreement.delta >= -BALANCED_BOUNDS.agreementDrop && r.frechet.relative <= BALANCED_BOUNDS.frechetRise;
}

/**
 * Fits an AsyncDiff request into `groupDevices` devices: stride 2 keeps its extra device only if
 * N+1 fit (else stride 1), N shrinks to what fits, and fewer than 2 components means sequential.
 * Never fails — a request for more stages than the group has runs with what fits and says so.
 */
export function clampAsync(requested: ParallelSpec, hostDefault: ResolvedParallel, groupDevices: number): { config: ResolvedParallel; clamped: boolean; notes: string[] } {
  const wantStages = requested.stages ?? hostDefault.stages;
  const wantStride = requested.stride ?? hostDefault.stride;
  const warmup = requested.warmup ?? hostDefault.warmup;
  const timeShift = requested.timeShift || hostDefault.timeShift;
  const notes: string[] = [];
  let stages = wantStages;
  let stride = wantStride;
  if (stride === 2 && stages + 1 > groupDevices) {
    if (groupDevices >= 3) stages = groupDevices - 1;
    else {
      stride = 1;
      notes.push(`stride 2 needs ${wantStages + 1} devices; the group has ${groupDevices}, so stride 1`);
    }
  }
  if (stages > groupDevices - (stride === 2 ? 1 : 0)) stages = groupDevices - (stride === 2 ? 1 : 0);
  if (stages !== wantStages) notes.push(`${wantStages} stages clamped to ${stages} (group of ${groupDevices} devices)`);
  const clamped = stages !== wantStages || stride !== wantStride;
  if (stages < 2) {
    notes.push('fewer than 2 stages fit: running sequentially');
    return { config: SEQUENTIAL, clamped, notes };
  }
  const compensation = requested.compensation ?? hostDefault.compensation;
  return { config: { mode: 'async', stages, stride, warmup, timeShift, compensation }, clamped, notes };
}

/** Hybrid = an AsyncDiff pipeline per guidance branch: the async config fitted to half the group. */
function clampHybrid(requested: ParallelSpec, hostDefault: ResolvedParallel, groupDevices: number): { config: ResolvedParallel; clamped: boolean; notes: string[] } {
  const half = clampAsync(requested, hostDefault, Math.floor(groupDevices / 2));
  if (half.config.mode === 'sequential') return half;
  return { ...half, config: { ...half.config, mode: 'hybrid' } };
}

const one = (budget: QualityBudget | null, clamped: boolean, notes: string[]): ParallelPlan => ({ demand: { kind: 'exact', count: 1 }, wide: undefined, budget, clamped, notes });
const exactly = (config: ResolvedParallel, budget: QualityBudget | null, clamped: boolean, notes: string[]): ParallelPlan =>
  config.mode === 'sequential' ? one(budget, clamped, notes) : { demand: { kind: 'exact', count: devicesNeeded(config) }, wide: config, budget, clamped, notes };

/**
 * Turns a job's parallel request into an allocator demand (see `DeviceAllocator`).
 *
 * Forced modes ask for exactly their devices, fitted to the group (never failed: hybrid falls back
 * to cfg, cfg on one row or one device to sequential, and AsyncDiff as `clampAsync` says).
 *
 * `auto` picks the one multi-device mode a lone job would run in, within the budget — `exact`:
 * sequential or cfg; `balanced`: also AsyncDiff/hybrid where the model's quality receipt for that
 * configuration is within `BALANCED_BOUNDS`; `fastest`: also unmeasured ones — preferring the mode
 * that keeps the most devices busy, and at equal devices the exact one (`fastest`: the stale one). The allocator then runs it
 * when the group is idle and the queue short, else the job runs sequentially on one device (data
 * parallelism). With `exact` every choice computes the same bytes, so load never changes a result.
 */
export function planParallel(requested: ParallelSpec, ctx: PlanContext): ParallelPlan {
  const { hostDefault, groupDevices, rows } = ctx;
  const budget = requested.quality ?? (requested.mode === 'auto' ? ctx.hostQuality : null);
  const cfgNote = rows < 2 ? 'cfg needs two rows (guidance ≠ 1 or several images); this job has one: running sequentially' : 'cfg needs 2 devices; the group has 1: running sequentially';
  switch (requested.mode) {
    case 'sequential':
      return one(budget, false, []);
    case 'cfg':
      return rows >= 2 && groupDevices >= 2 ? exactly(CFG, budget, false, []) : one(budget, groupDevices < 2, [cfgNote]);
    case 'async': {
      const { config, clamped, notes } = clampAsync(requested, hostDefault, groupDevices);
      return exactly(config, budget, clamped, notes);
    }
    case 'hybrid': {
      const h = clampHybrid(requested, hostDefault, groupDevices);
      if (h.config.mode === 'hybrid') return exactly(h.config, budget, h.clamped, h.notes);
      if (rows >= 2 && groupDevices >= 2) return exactly(CFG, budget, true, [`hybrid needs 2 × 2 devices; the group has ${groupDevices}: running cfg`]);
      return one(budget, true, [`hybrid needs 2 × 2 devices and two rows; running sequentially`]);
    }
    case 'auto':
      return planAuto(requested, ctx, budget ?? ctx.hostQuality);
    default:
      return assertNever(requested.mode);
  }
}

function planAuto(requested: ParallelSpec, ctx: PlanContext, budget: QualityBudget): ParallelPlan {
  const { hostDefault, groupDevices, rows } = ctx;
  const candidates: { config: ResolvedParallel; notes: string[] }[] = [];
  const skipped: string[] = [];
  if (rows >= 2 && groupDevices >= 2) candidates.push({ config: CFG, notes: [] });
  const stale = [clampAsync(requested, hostDefault, groupDevices), ...(rows >= 2 ? [clampHybrid(requested, hostDefault, groupDevices)] : [])];
  for (const { config, notes } of stale) {
    if (config.mode === 'sequential' || !budgetAdmits(budget, config.mode)) continue;
    if (budget === 'balanced') {
      const receipt = ctx.receiptFor(config);
      if (!receipt || !withinBalancedBounds(receipt)) {
        skipped.push(`${describe(config)} not used: ${receipt ? 'its quality receipt is outside the balanced bounds' : 'no quality receipt measured'}`);
        continue;
      }
    }
    candidates.push({ config, notes });
  }
  // Most devices first. At equal devices `fastest` takes the stale mode, the others the exact one.
  // (Measured lone-job latency on 2 CPU devices is mixed — AsyncDiff ahead on digits, cfg on
  // moving-digits, apps/gpu-host/README.md — so `fastest` means "stale features allowed", not a
  // per-model speed ranking; that would need per-model speed measurements.)
  const rank = (c: ResolvedParallel): number => 2 * devicesNeeded(c) + (isStale(c.mode) === (budget === 'fastest') ? 1 : 0);
  const best = candidates.reduce<(typeof candidates)[number] | undefined>((b, c) => (!b || rank(c.config) > rank(b.config) ? c : b), undefined);
  if (!best) return one(budget, false, skipped);
  return { demand: { kind: 'auto', wideCount: devicesNeeded(best.config) }, wide: best.config, budget, clamped: false, notes: [...best.notes, ...skipped] };
}

function describe(c: ResolvedParallel): string {
  return `${c.mode} N=${c.stages} stride ${c.stride} W=${c.warmup}`;
}

/** The configuration a job runs with once the allocator granted `devices` devices. */
export function decideParallel(requested: ParallelSpec, plan: ParallelPlan, devices: number, receiptFor: PlanContext['receiptFor']): ParallelDecision {
  const decidedBy = requested.mode === 'auto' ? 'auto' : 'request';
  const wide = plan.wide;
  const used = wide && devices === devicesNeeded(wide) ? wide : SEQUENTIAL;
  const notes = requested.mode === 'auto' && wide && used !== wide ? [...plan.notes, 'jobs are waiting: data-parallel (sequential on one device)'] : plan.notes;
  return { requested, used, decidedBy, budget: plan.budget, quality: qualityOf(used, receiptFor), clamped: plan.clamped, notes };
}

/** The quality record of a configuration: exact, or the receipt measured for it (if any). */
export function qualityOf(used: ResolvedParallel, receiptFor: PlanContext['receiptFor']): QualityRecord {
  if (!isStale(used.mode)) return { kind: 'exact' };
  const receipt = receiptFor(used);
  return receipt ? { kind: 'measured', receipt } : { kind: 'none-measured', note: `none measured: no quality receipt for ${describe(used)} on this model (asyncdiff eval --receipt)` };
}
