import { describe, expect, it } from 'vitest';

import { activeBranches, branchDevice, branchRows, localOf, type BranchLayout } from './branches.js';

const one: BranchLayout = { branches: 1, perBranch: 3 };
const two: BranchLayout = { branches: 2, perBranch: 3 };

describe('branch layouts', () => {
  it('numbers devices branch by branch', () => {
    expect([0, 1, 2].map((d) => branchDevice(two, 0, d))).toEqual([0, 1, 2]);
    expect([0, 1, 2].map((d) => branchDevice(two, 1, d))).toEqual([3, 4, 5]);
    expect(localOf(two, 4)).toEqual({ branch: 1, local: 1 });
    expect(localOf(one, 2)).toEqual({ branch: 0, local: 2 });
  });

  it.each([
    // batch, branch 0 rows, branch 1 rows
    [2, [0, 1], [1, 2]], // one image with guidance: conditional | unconditional
    [8, [0, 4], [4, 8]], // four images with guidance
    [3, [0, 1], [1, 3]], // three images without guidance: the later branch takes the odd row
    [1, [0, 0], [0, 1]], // one image without guidance: one branch idles
  ])('splits %i rows in order: %j | %j', (batch, a, b) => {
    expect(branchRows(two, batch, 0)).toEqual({ start: a[0], end: a[1] });
    expect(branchRows(two, batch, 1)).toEqual({ start: b[0], end: b[1] });
  });

  it('one branch takes every row; idle branches are not active', () => {
    expect(branchRows(one, 5, 0)).toEqual({ start: 0, end: 5 });
    expect(activeBranches(two, 1)).toEqual([1]);
    expect(activeBranches(two, 2)).toEqual([0, 1]);
    expect(activeBranches(one, 1)).toEqual([0]);
  });
});
