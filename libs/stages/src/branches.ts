/**
 * How a runner's devices are grouped into branches. One branch is the classic layout (device k
 * holds C_k, stride 2's extra device holds C_{N-1}). Two branches run the same plan side by side
 * on different batch rows — classifier-free guidance's conditional rows on one, unconditional on
 * the other (`cfg`: one component per branch; `hybrid`: an AsyncDiff pipeline per branch) — so
 * the guidance pair costs one model evaluation of latency instead of a batch of two.
 */
export interface BranchLayout {
  readonly branches: 1 | 2;
  /** Devices per branch: N (stride 1) or N + 1 (stride 2). */
  readonly perBranch: number;
}

/** The global device of branch `branch`'s local device `local`. */
export function branchDevice(l: BranchLayout, branch: number, local: number): number {
  return branch * l.perBranch + local;
}

/** Branch and local device of a global device. */
export function localOf(l: BranchLayout, device: number): { readonly branch: number; readonly local: number } {
  return { branch: Math.floor(device / l.perBranch), local: device % l.perBranch };
}

/**
 * Rows [start, end) of a `batch`-row generation that branch `branch` computes: an even split in
 * order, so with guidance (conditional rows first, then as many unconditional ones) each branch
 * gets exactly one side. An odd split gives the extra row to the later branch; a branch may get
 * none (a one-image generation without guidance runs on one branch).
 */
export function branchRows(l: BranchLayout, batch: number, branch: number): { readonly start: number; readonly end: number } {
  return { start: Math.floor((branch * batch) / l.branches), end: Math.floor(((branch + 1) * batch) / l.branches) };
}

/** The branches that have rows to compute for a `batch`-row generation. */
export function activeBranches(l: BranchLayout, batch: number): number[] {
  return Array.from({ length: l.branches }, (_, b) => b).filter((b) => {
    const r = branchRows(l, batch, b);
    return r.end > r.start;
  });
}
