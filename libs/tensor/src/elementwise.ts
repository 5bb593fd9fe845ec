import { ShapeMismatchError } from './errors.js';

function checkSameLength(a: ArrayLike<number>, b: ArrayLike<number>, field: string): void {
  if (a.length !== b.length) throw new ShapeMismatchError(field, `length ${b.length} differs from ${a.length}`);
}

/** `a + b` elementwise, into a new array (or into `out` when given). */
export function add(a: Float32Array, b: Float32Array, out: Float32Array = new Float32Array(a.length)): Float32Array {
  checkSameLength(a, b, 'b');
  checkSameLength(a, out, 'out');
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) + (b[i] as number);
  return out;
}

/** `a - b` elementwise, into a new array (or into `out` when given). */
export function sub(a: Float32Array, b: Float32Array, out: Float32Array = new Float32Array(a.length)): Float32Array {
  checkSameLength(a, b, 'b');
  checkSameLength(a, out, 'out');
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) - (b[i] as number);
  return out;
}

/** `s * a` elementwise, into a new array (or into `out` when given). */
export function scale(a: Float32Array, s: number, out: Float32Array = new Float32Array(a.length)): Float32Array {
  checkSameLength(a, out, 'out');
  for (let i = 0; i < a.length; i++) out[i] = s * (a[i] as number);
  return out;
}

/**
 * `alpha * a + beta * b` elementwise, computed in float64 and rounded once to float32 — the shape
 * of most scheduler updates.
 */
export function axpby(
  alpha: number,
  a: Float32Array,
  beta: number,
  b: Float32Array,
  out: Float32Array = new Float32Array(a.length),
): Float32Array {
  checkSameLength(a, b, 'b');
  checkSameLength(a, out, 'out');
  for (let i = 0; i < a.length; i++) out[i] = alpha * (a[i] as number) + beta * (b[i] as number);
  return out;
}

/** Clamps every element to `[lo, hi]`, into a new array (or into `out` when given). */
export function clamp(a: Float32Array, lo: number, hi: number, out: Float32Array = new Float32Array(a.length)): Float32Array {
  checkSameLength(a, out, 'out');
  for (let i = 0; i < a.length; i++) out[i] = Math.min(hi, Math.max(lo, a[i] as number));
  return out;
}

/**
 * Largest `|a[i] - b[i]|` (0 for empty arrays; NaN if any difference is NaN) — the measure the
 * exactness checks (AsyncDiff with warm-up ≥ steps vs sequential) compare to a tolerance.
 */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkSameLength(a, b, 'b');
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (Number.isNaN(d)) return NaN;
    if (d > m) m = d;
  }
  return m;
}
