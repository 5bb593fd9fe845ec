/**
 * Staleness compensation (issue #11 §3). In a parallel step every consumer reads its producer's
 * output of an earlier step; a compensated run instead reads an estimate of the producer's output
 * *at the consumer's own timestep*, extrapolated in the timestep from the producer's last few
 * outputs (a polynomial through them, in the spirit of feature-forecasting caches such as
 * TaylorSeer). It costs no network evaluation: only an element-wise combination of tensors the
 * producer already published, computed straight into the consumer's input.
 */

/** Compensation kinds, by polynomial order in the timestep (one source for validation, flags and schemas). */
export const COMPENSATIONS = ['none', 'linear', 'quadratic'] as const;

/** How a parallel run estimates its stale boundary inputs (see `COMPENSATIONS`). */
export type Compensation = (typeof COMPENSATIONS)[number];

/** Polynomial order of each kind: how many older producer outputs beyond the newest it combines. */
export const COMPENSATION_ORDER: Readonly<Record<Compensation, number>> = { none: 0, linear: 1, quadratic: 2 };

/** Whether `v` names a compensation kind. */
export function isCompensation(v: unknown): v is Compensation {
  return typeof v === 'string' && (COMPENSATIONS as readonly string[]).includes(v);
}

/**
 * One producer output a compensated run combines: the step that produced it and the timestep
 * index the producer ran with then (warm-up and time shift make these differ).
 */
export interface HistoryEntry {
  readonly step: number;
  readonly t: number;
}

/** Weights above this mean nearly coincident timesteps: the polynomial would amplify noise. */
const MAX_WEIGHT = 16;

/**
 * Lagrange extrapolation weights: the value at `target` of the polynomial through the points
 * (at[i], h_i) is Σ w_i h_i. With two points this is the first-order formula,
 * h ≈ h₁ + (h₁ − h₂)(t − t₁)/(t₁ − t₂). `damping` blends towards the stale input
 * (w = e₀ + damping·(w − e₀)): 0 is no compensation, 1 the full polynomial.
 *
 * Points whose timestep repeats an earlier one (PNDM evaluates one timestep twice) are dropped
 * (weight 0), and the order is lowered while any weight would exceed ±16, so a degenerate
 * history falls back to the stale input (weights [1, 0, …]) instead of blowing up.
 */
export function extrapolationWeights(target: number, at: readonly number[], damping = 1): number[] {
  const weights = new Array<number>(at.length).fill(0);
  if (at.length === 0) return weights;
  const kept: number[] = [];
  for (let i = 0; i < at.length; i++) {
    const ti = at[i] as number;
    if (Number.isFinite(ti) && kept.every((k) => at[k] !== ti)) kept.push(i);
  }
  for (let n = kept.length; n >= 1; n--) {
    const use = kept.slice(0, n);
    const w = use.map((i) => {
      let l = 1;
      for (const j of use) if (j !== i) l *= (target - (at[j] as number)) / ((at[i] as number) - (at[j] as number));
      return l;
    });
    if (n === 1 || w.every((x) => Number.isFinite(x) && Math.abs(x) <= MAX_WEIGHT)) {
      use.forEach((i, k) => (weights[i] = (w[k] as number) * damping));
      weights[0] = (weights[0] as number) + (1 - damping);
      return weights;
    }
  }
  weights[0] = 1;
  return weights;
}

/** Whether weights are the plain stale input (nothing to compute). */
export function isIdentity(weights: readonly number[]): boolean {
  return weights[0] === 1 && weights.every((w, i) => i === 0 || w === 0);
}

/** dst[i] = Σ_j weights[j]·sources[j][i]: the extrapolated input, written where the consumer reads it. */
export function combineInto(dst: Float32Array, sources: readonly ArrayLike<number>[], weights: readonly number[]): void {
  const n = dst.length;
  const [a, b, c] = sources;
  const [wa = 0, wb = 0, wc = 0] = weights;
  if (!a) throw new RangeError('combineInto needs at least one source');
  if (sources.length === 1) {
    for (let i = 0; i < n; i++) dst[i] = wa * (a[i] as number);
  } else if (sources.length === 2) {
    for (let i = 0; i < n; i++) dst[i] = wa * (a[i] as number) + wb * (b![i] as number);
  } else if (sources.length === 3) {
    for (let i = 0; i < n; i++) dst[i] = wa * (a[i] as number) + wb * (b![i] as number) + wc * (c![i] as number);
  } else {
    for (let i = 0; i < n; i++) {
      let v = 0;
      for (let j = 0; j < sources.length; j++) v += (weights[j] ?? 0) * (sources[j]![i] as number);
      dst[i] = v;
    }
  }
}
