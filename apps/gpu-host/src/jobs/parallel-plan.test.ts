import { DEFAULT_PARALLEL } from '@asyncdiff/stages';
import { describe, expect, it } from 'vitest';

import { clampAsync, decideParallel, planParallel } from './parallel-plan.js';

const auto = { mode: 'auto' as const, timeShift: false };

describe('parallel planning', () => {
  it('auto on a group of 2: asks the allocator to decide between N=2 AsyncDiff and one device', () => {
    const plan = planParallel(auto, DEFAULT_PARALLEL, 2);
    expect(plan.demand).toEqual({ kind: 'auto', asyncCount: 2 });
    expect(decideParallel(auto, plan, 2)).toMatchObject({ used: { mode: 'async', stages: 2, stride: 1, warmup: 3 }, decidedBy: 'auto', clamped: false });
    const seq = decideParallel(auto, plan, 1);
    expect(seq.used.mode).toBe('sequential');
    expect(seq.notes.join(' ')).toMatch(/data-parallel/);
  });

  it('clamps stages and stride to the group and says why', () => {
    expect(clampAsync({ mode: 'async', stages: 4, timeShift: false }, DEFAULT_PARALLEL, 2)).toMatchObject({ config: { stages: 2, stride: 1 }, clamped: true });
    expect(clampAsync({ mode: 'async', stages: 4, stride: 2, timeShift: false }, DEFAULT_PARALLEL, 4)).toMatchObject({ config: { stages: 3, stride: 2 }, clamped: true });
    expect(clampAsync({ mode: 'async', stages: 2, stride: 2, timeShift: false }, DEFAULT_PARALLEL, 3)).toMatchObject({ config: { stages: 2, stride: 2 }, clamped: false });
    const two = clampAsync({ mode: 'async', stages: 3, stride: 2, timeShift: false }, DEFAULT_PARALLEL, 2);
    expect(two).toMatchObject({ config: { stages: 2, stride: 1 }, clamped: true });
    expect(two.notes.join(' ')).toMatch(/stride 2 needs 4 devices/);
    expect(clampAsync({ mode: 'async', timeShift: true, warmup: 9 }, DEFAULT_PARALLEL, 2).config).toMatchObject({ warmup: 9, timeShift: true });
  });

  it('falls back to sequential when fewer than 2 stages fit (a leftover group of one device)', () => {
    const plan = planParallel({ mode: 'async', stages: 2, timeShift: false }, DEFAULT_PARALLEL, 1);
    expect(plan.demand).toEqual({ kind: 'exact', count: 1 });
    expect(decideParallel({ mode: 'async', stages: 2, timeShift: false }, plan, 1)).toMatchObject({ used: { mode: 'sequential' }, clamped: true });
  });

  it('forced modes ask for exactly their devices', () => {
    expect(planParallel({ mode: 'sequential', timeShift: false }, DEFAULT_PARALLEL, 2).demand).toEqual({ kind: 'exact', count: 1 });
    expect(planParallel({ mode: 'async', timeShift: false }, DEFAULT_PARALLEL, 2).demand).toEqual({ kind: 'exact', count: 2 });
  });
});
