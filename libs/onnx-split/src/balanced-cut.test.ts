import { describe, expect, it } from 'vitest';
import type { CutPenalty } from './balanced-cut.js';
import { solveBalancedCut, WeightCapInfeasible } from './balanced-cut.js';

const none = (m: number): CutPenalty[] => Array.from({ length: m + 1 }, () => ({ nonFloat: 0, bytes: 0 }));

describe('solveBalancedCut', () => {
  it('splits equal items evenly', () => {
    const cut = solveBalancedCut({ itemCostMs: Array(12).fill(1), sharedCostMs: [], itemShared: Array(12).fill([]), cutPenalty: none(12), stages: 3, tolerance: 0 });
    expect(cut.starts).toEqual([0, 4, 8]);
    expect(cut.segmentCostMs).toEqual([4, 4, 4]);
    expect(cut.optimalSlowestMs).toBeCloseTo(4);
  });

  it('gives the first segment less work when it starts later (firstSegmentExtraMs)', () => {
    const even = solveBalancedCut({ itemCostMs: Array(10).fill(1), sharedCostMs: [], itemShared: Array(10).fill([]), cutPenalty: none(10), stages: 2, tolerance: 0 });
    expect(even.starts).toEqual([0, 5]);
    const late = solveBalancedCut({ itemCostMs: Array(10).fill(1), sharedCostMs: [], itemShared: Array(10).fill([]), cutPenalty: none(10), stages: 2, tolerance: 0, firstSegmentExtraMs: 2 });
    // 4 + 2 = 6 = 6 beats 5 + 2 = 7; reported costs exclude the delay.
    expect(late.starts).toEqual([0, 4]);
    expect(late.segmentCostMs).toEqual([4, 6]);
    expect(late.optimalSlowestMs).toBeCloseTo(6);
  });

  it('minimises the slowest segment for uneven items', () => {
    const items = [5, 1, 1, 1, 1, 1, 4, 4];
    const cut = solveBalancedCut({ itemCostMs: items, sharedCostMs: [], itemShared: items.map(() => []), cutPenalty: none(8), stages: 3, tolerance: 0 });
    // [5 1 1] [1 1 4] [4]: 7 is optimal (the mean is 6, but no cut reaches it).
    expect(Math.max(...cut.segmentCostMs)).toBeCloseTo(7);
    expect(cut.segmentCostMs.reduce((a, b) => a + b)).toBeCloseTo(18);
  });

  it('counts a shared (replicated conditioning) item once in every segment that needs it', () => {
    // Items 0-3 need shared item 0 (cost 3); items 4-7 need shared item 1 (cost 0).
    const cut = solveBalancedCut({
      itemCostMs: Array(8).fill(1),
      sharedCostMs: [3, 0],
      itemShared: [[0], [0], [0], [0], [1], [1], [1], [1]],
      cutPenalty: none(8),
      stages: 2,
      tolerance: 0,
    });
    // Cutting after item k < 4 makes both segments pay for shared item 0: [0,4) + [4,8) = 7 and 4
    // beats [0,3) + [3,8) = 6 and 8, and [0,5) + [5,8) = 8 and 3.
    expect(cut.starts).toEqual([0, 4]);
    expect(cut.segmentCostMs).toEqual([7, 4]);
  });

  it('within the tolerance, avoids cutting across non-float tensors, then prefers fewer bytes', () => {
    const penalties = none(10);
    penalties[5] = { nonFloat: 1, bytes: 8 }; // the perfectly balanced cut would split Shape → Reshape
    penalties[4] = { nonFloat: 0, bytes: 4000 };
    penalties[6] = { nonFloat: 0, bytes: 1000 };
    const problem = { itemCostMs: Array(10).fill(1), sharedCostMs: [], itemShared: Array(10).fill([]), cutPenalty: penalties, stages: 2 };
    expect(solveBalancedCut({ ...problem, tolerance: 0 }).starts).toEqual([0, 5]);
    expect(solveBalancedCut({ ...problem, tolerance: 0.2 }).starts).toEqual([0, 6]);
    expect(solveBalancedCut({ ...problem, tolerance: 0.05 }).starts).toEqual([0, 5]);
  });

  it('gives every segment at least one item, even when items are free', () => {
    const cut = solveBalancedCut({ itemCostMs: [0, 0, 10, 0], sharedCostMs: [], itemShared: [[], [], [], []], cutPenalty: none(4), stages: 4, tolerance: 0 });
    expect(cut.starts).toEqual([0, 1, 2, 3]);
  });

  it('refuses more segments than items', () => {
    expect(() => solveBalancedCut({ itemCostMs: [1], sharedCostMs: [], itemShared: [[]], cutPenalty: none(1), stages: 2, tolerance: 0 })).toThrow(RangeError);
  });

  it('keeps every segment within a weight cap (trading time balance for memory), and says when none can', () => {
    // Items 0-1 read weight 0 (10 units), items 2-5 one unit each (weights 1-4).
    const problem = {
      itemCostMs: Array(6).fill(1),
      sharedCostMs: [0, 0, 0, 0, 0],
      itemShared: [[0], [0], [1], [2], [3], [4]],
      cutPenalty: none(6),
      stages: 2,
      tolerance: 0,
      sharedWeight: [10, 1, 1, 1, 1],
    };
    const free = solveBalancedCut(problem);
    expect(free.starts).toEqual([0, 3]);
    expect(free.segmentWeight).toEqual([11, 3]);
    const capped = solveBalancedCut({ ...problem, maxSegmentWeight: 10.5 });
    expect(capped.starts).toEqual([0, 2]);
    expect(capped.segmentCostMs).toEqual([2, 4]);
    expect(capped.segmentWeight).toEqual([10, 4]);
    expect(capped.optimalSlowestMs).toBeCloseTo(4);
    expect(() => solveBalancedCut({ ...problem, maxSegmentWeight: 9 })).toThrow(WeightCapInfeasible);
  });
});
