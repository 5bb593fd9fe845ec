import { DEFAULT_PARALLEL, type ResolvedParallel } from '@asyncdiff/engine';
import type { QualityReceipt } from '@asyncdiff/models';
import type { ParallelSpec, QualityBudget } from '@asyncdiff/queue';
import { describe, expect, it } from 'vitest';

import { DeviceAllocator } from '../device-allocator.js';
import { clampAsync, decideParallel, planParallel, type PlanContext } from './parallel-plan.js';

const auto = { mode: 'auto' as const, timeShift: false };

/** A receipt for `config` with the given quality cost. */
function receipt(config: Pick<ResolvedParallel, 'mode' | 'stages'>, frechetRelative: number, agreementDelta = 0): QualityReceipt {
  return {
    config: { mode: config.mode, stages: config.stages, stride: 1, warmup: 3, timeShift: false, compensation: 'none' },
    modelVersion: '1',
    samples: 100,
    agreement: { sequential: 1, mode: 1 + agreementDelta, delta: agreementDelta },
    frechet: { sequential: 40, mode: 40 * (1 + frechetRelative), delta: 40 * frechetRelative, relative: frechetRelative },
    psnrDb: 31,
    ssim: 0.96,
    measuredAt: '2026-12-04T19:00:00Z',
    eval: { command: 'test', steps: 50, scheduler: 'ddim', guidance: 1.5, perClass: 10, seedBase: 0, batch: 50 },
  };
}

type Receipts = 'none' | 'good' | 'bad';
function ctx(groupDevices: number, rows: number, receipts: Receipts, hostQuality: QualityBudget = 'exact'): PlanContext {
  return {
    hostDefault: DEFAULT_PARALLEL,
    hostQuality,
    groupDevices,
    rows,
    receiptFor: (c) => (receipts === 'none' ? undefined : receipt(c, receipts === 'good' ? 0.05 : 0.2)),
  };
}

/** Runs the plan through a real allocator: `load` other jobs waiting decides wide vs one device. */
async function modeUsed(spec: ParallelSpec, c: PlanContext, load: number): Promise<string> {
  const plan = planParallel(spec, c);
  const allocator = new DeviceAllocator(c.groupDevices, (waiting) => waiting + load < 1);
  const lease = await allocator.acquire(plan.demand);
  const d = decideParallel(spec, plan, lease.devices.length, c.receiptFor);
  lease.release();
  return d.used.mode === 'async' || d.used.mode === 'hybrid' ? `${d.used.mode}${d.used.stages}` : d.used.mode;
}

describe('auto: devices × load × budget → mode (hand-written table)', () => {
  // [devices in the group, rows (2 = one guided image, 1 = guidance 1), load (jobs waiting), budget, receipts, expected mode]
  const rows: [number, number, number, QualityBudget, Receipts, string][] = [
    // exact never picks a stale-feature mode, whatever the devices, load or receipts.
    [1, 2, 0, 'exact', 'good', 'sequential'],
    [2, 2, 0, 'exact', 'good', 'cfg'],
    [2, 2, 3, 'exact', 'good', 'sequential'],
    [2, 1, 0, 'exact', 'good', 'sequential'], // guidance 1: nothing for cfg to split
    [4, 2, 0, 'exact', 'good', 'cfg'],
    [8, 2, 0, 'exact', 'good', 'cfg'],
    [8, 2, 5, 'exact', 'good', 'sequential'],
    // balanced: stale modes only with a receipt within the bounds.
    [2, 2, 0, 'balanced', 'good', 'cfg'], // async N=2 uses no more devices than cfg: the exact one wins
    [2, 1, 0, 'balanced', 'good', 'async2'],
    [2, 1, 0, 'balanced', 'none', 'sequential'],
    [2, 1, 0, 'balanced', 'bad', 'sequential'],
    [4, 2, 0, 'balanced', 'good', 'hybrid2'],
    [4, 2, 0, 'balanced', 'bad', 'cfg'],
    [4, 2, 0, 'balanced', 'none', 'cfg'],
    [4, 2, 1, 'balanced', 'good', 'sequential'],
    [3, 1, 0, 'balanced', 'good', 'async2'], // default N=2 fits; no hybrid for one row
    // fastest: any mode, measured or not.
    [2, 1, 0, 'fastest', 'none', 'async2'],
    [2, 2, 0, 'fastest', 'none', 'async2'], // equal devices: fastest takes AsyncDiff, balanced/exact cfg
    [4, 2, 0, 'fastest', 'none', 'hybrid2'],
    [4, 1, 0, 'fastest', 'bad', 'async2'],
    [4, 2, 2, 'fastest', 'none', 'sequential'],
    [1, 2, 0, 'fastest', 'none', 'sequential'],
  ];
  it.each(rows)('%i devices, %i rows, load %i, %s, receipts %s → %s', async (devices, r, load, budget, receipts, expected) => {
    expect(await modeUsed({ ...auto, quality: budget }, ctx(devices, r, receipts), load)).toBe(expected);
  });

  it('a job without a budget gets the host default', async () => {
    expect(await modeUsed(auto, ctx(2, 1, 'good', 'exact'), 0)).toBe('sequential');
    expect(await modeUsed(auto, ctx(2, 1, 'good', 'balanced'), 0)).toBe('async2');
    expect(planParallel(auto, ctx(2, 1, 'good', 'fastest')).budget).toBe('fastest');
  });

  it('says why a stale mode was passed over, and that a busy group went data-parallel', () => {
    const c = ctx(2, 1, 'bad');
    const plan = planParallel({ ...auto, quality: 'balanced' }, c);
    expect(plan.notes.join(' ')).toMatch(/outside the balanced bounds/);
    const wide = planParallel({ ...auto, quality: 'fastest' }, c);
    const d = decideParallel({ ...auto, quality: 'fastest' }, wide, 1, c.receiptFor);
    expect(d).toMatchObject({ used: { mode: 'sequential' }, decidedBy: 'auto', budget: 'fastest', quality: { kind: 'exact' } });
    expect(d.notes.join(' ')).toMatch(/data-parallel/);
  });

  it('records the quality receipt of stale modes, or that none was measured', () => {
    const measured = decideParallel({ ...auto, quality: 'fastest' }, planParallel({ ...auto, quality: 'fastest' }, ctx(2, 1, 'good')), 2, ctx(2, 1, 'good').receiptFor);
    expect(measured.quality).toMatchObject({ kind: 'measured', receipt: { config: { mode: 'async', stages: 2 }, frechet: { relative: 0.05 } } });
    const none = decideParallel({ ...auto, quality: 'fastest' }, planParallel({ ...auto, quality: 'fastest' }, ctx(2, 1, 'none')), 2, () => undefined);
    expect(none.quality).toMatchObject({ kind: 'none-measured' });
    if (none.quality.kind === 'none-measured') expect(none.quality.note).toMatch(/^none measured/);
  });
});

describe('forced modes', () => {
  const c2 = ctx(2, 2, 'none');
  it('ask for exactly their devices', () => {
    expect(planParallel({ mode: 'sequential', timeShift: false }, c2).demand).toEqual({ kind: 'exact', count: 1 });
    expect(planParallel({ mode: 'async', timeShift: false }, c2).demand).toEqual({ kind: 'exact', count: 2 });
    expect(planParallel({ mode: 'cfg', timeShift: false }, c2).demand).toEqual({ kind: 'exact', count: 2 });
    expect(planParallel({ mode: 'hybrid', stages: 2, timeShift: false }, ctx(4, 2, 'none')).demand).toEqual({ kind: 'exact', count: 4 });
  });

  it('cfg without two rows or two devices, and hybrid without 2 × 2 devices, fall back and say so', () => {
    const unguided = planParallel({ mode: 'cfg', timeShift: false }, ctx(2, 1, 'none'));
    expect(unguided.demand).toEqual({ kind: 'exact', count: 1 });
    expect(unguided.notes.join(' ')).toMatch(/cfg needs two rows/);
    expect(planParallel({ mode: 'cfg', timeShift: false }, ctx(1, 2, 'none'))).toMatchObject({ demand: { count: 1 }, clamped: true });
    const hybrid = planParallel({ mode: 'hybrid', timeShift: false }, c2);
    expect(hybrid).toMatchObject({ demand: { kind: 'exact', count: 2 }, wide: { mode: 'cfg' }, clamped: true });
    expect(planParallel({ mode: 'hybrid', timeShift: false }, ctx(3, 1, 'none'))).toMatchObject({ demand: { count: 1 }, clamped: true });
    expect(decideParallel({ mode: 'hybrid', timeShift: false }, hybrid, 2, () => undefined)).toMatchObject({ used: { mode: 'cfg' }, decidedBy: 'request', quality: { kind: 'exact' } });
  });

  it('falls back to sequential when fewer than 2 stages fit (a leftover group of one device)', () => {
    const spec = { mode: 'async' as const, stages: 2, timeShift: false };
    const plan = planParallel(spec, ctx(1, 2, 'none'));
    expect(plan.demand).toEqual({ kind: 'exact', count: 1 });
    expect(decideParallel(spec, plan, 1, () => undefined)).toMatchObject({ used: { mode: 'sequential' }, clamped: true });
  });
});

describe('clampAsync', () => {
  it('clamps stages and stride to the group and says why', () => {
    expect(clampAsync({ mode: 'async', stages: 4, timeShift: false }, DEFAULT_PARALLEL, 2)).toMatchObject({ config: { stages: 2, stride: 1 }, clamped: true });
    expect(clampAsync({ mode: 'async', stages: 4, stride: 2, timeShift: false }, DEFAULT_PARALLEL, 4)).toMatchObject({ config: { stages: 3, stride: 2 }, clamped: true });
    expect(clampAsync({ mode: 'async', stages: 2, stride: 2, timeShift: false }, DEFAULT_PARALLEL, 3)).toMatchObject({ config: { stages: 2, stride: 2 }, clamped: false });
    const two = clampAsync({ mode: 'async', stages: 3, stride: 2, timeShift: false }, DEFAULT_PARALLEL, 2);
    expect(two).toMatchObject({ config: { stages: 2, stride: 1 }, clamped: true });
    expect(two.notes.join(' ')).toMatch(/stride 2 needs 4 devices/);
    expect(clampAsync({ mode: 'async', timeShift: true, warmup: 9 }, DEFAULT_PARALLEL, 2).config).toMatchObject({ warmup: 9, timeShift: true });
  });
});
