import type { ParallelSpec } from '@asyncdiff/queue';
import { devicesNeeded, type ResolvedParallel } from '@asyncdiff/stages';

import type { DeviceDemand } from '../device-allocator.js';

/** The parallel configuration a job runs with, next to what it asked for (for the sidecar). */
export interface ParallelDecision {
  readonly requested: ParallelSpec;
  readonly used: ResolvedParallel;
  /** Who chose `used`: the request itself, or the host's `auto` rule. */
  readonly decidedBy: 'request' | 'auto';
  /** True when the request asked for more devices than the group has. */
  readonly clamped: boolean;
  /** Why `used` differs from the request, for humans. */
  readonly notes: readonly string[];
}

/** Before devices are granted: what to ask the allocator for and the AsyncDiff config, if any. */
export interface ParallelPlan {
  readonly demand: DeviceDemand;
  /** The AsyncDiff config (already clamped to the group); undefined for sequential requests. */
  readonly asyncConfig: ResolvedParallel | undefined;
  readonly clamped: boolean;
  readonly notes: readonly string[];
}

const SEQUENTIAL: ResolvedParallel = { mode: 'sequential', stages: 1, stride: 1, warmup: 1, timeShift: false };

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
  return { config: { mode: 'async', stages, stride, warmup, timeShift }, clamped, notes };
}

/** Turns a job's parallel request into an allocator demand (see `DeviceAllocator`). */
export function planParallel(requested: ParallelSpec, hostDefault: ResolvedParallel, groupDevices: number): ParallelPlan {
  if (requested.mode === 'sequential') return { demand: { kind: 'exact', count: 1 }, asyncConfig: undefined, clamped: false, notes: [] };
  const { config, clamped, notes } = clampAsync(requested, hostDefault, groupDevices);
  if (config.mode === 'sequential') return { demand: { kind: 'exact', count: 1 }, asyncConfig: undefined, clamped, notes };
  const count = devicesNeeded(config);
  if (requested.mode === 'async') return { demand: { kind: 'exact', count }, asyncConfig: config, clamped, notes };
  return { demand: { kind: 'auto', asyncCount: count }, asyncConfig: config, clamped, notes };
}

/** The configuration a job runs with once the allocator granted `devices` devices. */
export function decideParallel(requested: ParallelSpec, plan: ParallelPlan, devices: number): ParallelDecision {
  const decidedBy = requested.mode === 'auto' ? 'auto' : 'request';
  const asyncConfig = plan.asyncConfig;
  if (asyncConfig && devices === devicesNeeded(asyncConfig)) {
    return { requested, used: asyncConfig, decidedBy, clamped: plan.clamped, notes: plan.notes };
  }
  const notes = requested.mode === 'auto' && asyncConfig ? [...plan.notes, 'jobs are waiting: data-parallel (sequential on one device)'] : plan.notes;
  return { requested, used: SEQUENTIAL, decidedBy, clamped: plan.clamped, notes };
}
