/**
 * The balanced contiguous cut: pure arithmetic over arrays, no graph or I/O, so it can be tested
 * on hand-made cost lists.
 *
 * Items (latent-dependent nodes, in topological order) are cut into `stages` contiguous, non-empty
 * segments. A segment's cost is the sum of its items' costs plus the cost of every shared item
 * (replicated conditioning node) any of them needs, counted once per segment. The solver
 *  1. finds the smallest achievable slowest-segment cost C* (binary search over a greedy
 *     feasibility test, which is exact because segment costs only grow when a segment grows), then
 *  2. among all cuts whose slowest segment is within `tolerance` of C*, picks the one with the
 *     fewest non-float tensors crossing cuts, then the fewest bytes crossing cuts, then the lowest
 *     slowest segment (dynamic programming over cut positions).
 */

/** What crossing a cut placed before an item costs in transfers. */
export interface CutPenalty {
  /** Number of non-float (index/shape) tensors live across the cut. */
  readonly nonFloat: number;
  /** Bytes of tensors live across the cut (a tensor crossing two cuts counts twice). */
  readonly bytes: number;
}

/** Input of {@link solveBalancedCut}. */
export interface BalancedCutProblem {
  /** Cost of each item, in topological order. */
  readonly itemCostMs: readonly number[];
  /** Cost of each shared item, indexed by the ids used in `itemShared`. */
  readonly sharedCostMs: readonly number[];
  /** Per item: ids of the shared items it needs. */
  readonly itemShared: readonly (readonly number[])[];
  /** Per position c (0..items): penalty of a cut right before item c. Entries 0 and `items` are unused. */
  readonly cutPenalty: readonly CutPenalty[];
  readonly stages: number;
  /** Relative slack over the optimal slowest segment allowed for fewer/smaller transfers. */
  readonly tolerance: number;
  /** Added to the first segment's cost: it starts this much later than the others (see SplitModelOptions.firstStageDelayMs). */
  readonly firstSegmentExtraMs?: number;
  /** Weight of each shared item (e.g. bytes of an initializer), indexed like `sharedCostMs`. */
  readonly sharedWeight?: readonly number[];
  /** Largest total weight of the distinct shared items of one segment. */
  readonly maxSegmentWeight?: number;
}

/** Output of {@link solveBalancedCut}. */
export interface BalancedCut {
  /** First item of each segment; `starts[0] === 0`. */
  readonly starts: readonly number[];
  /** Cost of each segment (shared items included). */
  readonly segmentCostMs: readonly number[];
  /** The smallest achievable slowest-segment cost. */
  readonly optimalSlowestMs: number;
  /** Weight of each segment (0 without `sharedWeight`). */
  readonly segmentWeight: readonly number[];
}

/** Thrown when no cut into the requested segments keeps every segment within `maxSegmentWeight`. */
export class WeightCapInfeasible extends Error {
  constructor(readonly largestItemWeight: number) {
    super('no cut keeps every segment within the weight cap');
  }
}

/** Cuts items into balanced contiguous segments (see the module comment). Requires `items >= stages`. */
export function solveBalancedCut(problem: BalancedCutProblem): BalancedCut {
  const m = problem.itemCostMs.length;
  const n = problem.stages;
  if (m < n) throw new RangeError(`cannot cut ${m} items into ${n} non-empty segments`);
  const segments = new SegmentCosts(problem);

  let lo = 0;
  let largestItemWeight = 0;
  for (let i = 0; i < m; i++) {
    lo = Math.max(lo, segments.cost(i, i + 1));
    largestItemWeight = Math.max(largestItemWeight, segments.weight(i, i + 1));
  }
  let hi = segments.cost(0, m);
  if (!feasible(segments, m, n, hi)) throw new WeightCapInfeasible(largestItemWeight);
  if (!feasible(segments, m, n, lo)) {
    for (let iter = 0; iter < 100 && hi - lo > 1e-9 * Math.max(hi, 1e-12); iter++) {
      const mid = (lo + hi) / 2;
      if (feasible(segments, m, n, mid)) hi = mid;
      else lo = mid;
    }
  } else {
    hi = lo;
  }
  const optimal = hi;
  const limit = optimal * (1 + Math.max(0, problem.tolerance)) + 1e-12;

  // best[k][j]: best way to cover items [0, j) with k segments, each within `limit`.
  type Value = { nonFloat: number; bytes: number; slowest: number; from: number };
  const best: (Value | undefined)[][] = Array.from({ length: n + 1 }, () => new Array<Value | undefined>(m + 1));
  (best[0] as (Value | undefined)[])[0] = { nonFloat: 0, bytes: 0, slowest: 0, from: -1 };
  for (let k = 1; k <= n; k++) {
    const prev = best[k - 1] as (Value | undefined)[];
    const row = best[k] as (Value | undefined)[];
    // Leave at least one item for each remaining segment.
    for (let i = k - 1; i <= m - (n - k) - 1; i++) {
      const base = prev[i];
      if (base === undefined) continue;
      const penalty = i === 0 ? { nonFloat: 0, bytes: 0 } : (problem.cutPenalty[i] ?? { nonFloat: 0, bytes: 0 });
      segments.scan(i, m - (n - k), limit, (j, cost) => {
        const candidate: Value = {
          nonFloat: base.nonFloat + penalty.nonFloat,
          bytes: base.bytes + penalty.bytes,
          slowest: Math.max(base.slowest, cost),
          from: i,
        };
        const current = row[j];
        if (current === undefined || better(candidate, current)) row[j] = candidate;
      });
    }
  }
  const starts: number[] = [];
  let j = m;
  for (let k = n; k >= 1; k--) {
    const v = (best[k] as (Value | undefined)[])[j];
    if (v === undefined) throw new Error('balanced cut: no solution within the limit (bug)');
    starts.unshift(v.from);
    j = v.from;
  }
  const ends = [...starts.slice(1), m];
  const extra = problem.firstSegmentExtraMs ?? 0;
  return {
    starts,
    segmentCostMs: starts.map((s, k) => segments.cost(s, ends[k] as number) - (s === 0 ? extra : 0)),
    optimalSlowestMs: optimal,
    segmentWeight: starts.map((s, k) => segments.weight(s, ends[k] as number)),
  };
}

function better(a: { nonFloat: number; bytes: number; slowest: number }, b: { nonFloat: number; bytes: number; slowest: number }): boolean {
  if (a.nonFloat !== b.nonFloat) return a.nonFloat < b.nonFloat;
  if (a.bytes !== b.bytes) return a.bytes < b.bytes;
  return a.slowest < b.slowest;
}

/** Greedy: can the items be covered by at most `n` segments each costing ≤ limit? */
function feasible(segments: SegmentCosts, m: number, n: number, limit: number): boolean {
  let i = 0;
  let count = 0;
  while (i < m) {
    let end = i;
    segments.scan(i, m, limit, (j) => {
      end = j;
    });
    if (end === i) return false;
    count++;
    if (count > n) return false;
    i = end;
  }
  return true;
}

/** Incremental segment costs and weights: items plus the union of their shared items. */
class SegmentCosts {
  private readonly mark: Int32Array;
  private stamp = 0;
  private readonly maxWeight: number;

  constructor(private readonly problem: BalancedCutProblem) {
    this.mark = new Int32Array(problem.sharedCostMs.length);
    this.maxWeight = problem.maxSegmentWeight ?? Infinity;
  }

  /** Cost of items [i, j). */
  cost(i: number, j: number): number {
    let last = 0;
    this.walk(i, j, Infinity, Infinity, (_, c) => {
      last = c;
    });
    return last;
  }

  /** Weight of items [i, j). */
  weight(i: number, j: number): number {
    let last = 0;
    this.walk(i, j, Infinity, Infinity, (_, __, w) => {
      last = w;
    });
    return last;
  }

  /** Calls `visit(j, cost of [i, j))` for j = i+1 … maxEnd while the cost stays ≤ limit and the weight within the cap. */
  scan(i: number, maxEnd: number, limit: number, visit: (j: number, cost: number) => void): void {
    this.walk(i, maxEnd, limit, this.maxWeight, visit);
  }

  private walk(i: number, maxEnd: number, limit: number, maxWeight: number, visit: (j: number, cost: number, weight: number) => void): void {
    const { itemCostMs, sharedCostMs, itemShared, sharedWeight } = this.problem;
    const stamp = ++this.stamp;
    let cost = i === 0 ? (this.problem.firstSegmentExtraMs ?? 0) : 0;
    let weight = 0;
    for (let j = i; j < maxEnd; j++) {
      cost += itemCostMs[j] as number;
      for (const s of itemShared[j] ?? []) {
        if (this.mark[s] !== stamp) {
          this.mark[s] = stamp;
          cost += sharedCostMs[s] as number;
          weight += sharedWeight?.[s] ?? 0;
        }
      }
      if (cost > limit || weight > maxWeight) return;
      visit(j + 1, cost, weight);
    }
  }
}
