import { EvalError } from './errors.js';
import { featureStats, type FeatureStats } from './feature-stats.js';
import { symmetricEigen } from './symmetric-eigen.js';

/**
 * Fréchet distance between two sets of feature vectors (FID's formula, in whatever feature space
 * the vectors come from): ‖μ₁-μ₂‖² + Tr Σ₁ + Tr Σ₂ - 2 Tr √(Σ₁Σ₂). `a` holds nA vectors and `b`
 * nB vectors of length `dim`, row-major; each set needs ≥ 2 vectors.
 */
export function frechetDistance(a: Float32Array, nA: number, b: Float32Array, nB: number, dim: number): number {
  return frechetDistanceFromStats(featureStats(a, nA, dim), featureStats(b, nB, dim));
}

/**
 * Fréchet distance from precomputed statistics. Tr √(Σ₁Σ₂) is computed as Σ √λ over the
 * eigenvalues of the symmetric PSD matrix √Σ₁·Σ₂·√Σ₁ (same spectrum as Σ₁Σ₂), with √Σ₁ from a
 * Jacobi eigen-decomposition and tiny negative eigenvalues (rounding) clamped to 0 — so
 * rank-deficient covariances (fewer vectors than dimensions) need no ε offset. Never negative.
 */
export function frechetDistanceFromStats(s1: FeatureStats, s2: FeatureStats): number {
  if (s1.dim !== s2.dim) throw new EvalError('SHAPE_MISMATCH', 's2.dim', `feature dims differ: ${s1.dim} vs ${s2.dim}`);
  const n = s1.dim;
  let meanTerm = 0;
  for (let i = 0; i < n; i++) meanTerm += ((s1.mean[i] as number) - (s2.mean[i] as number)) ** 2;
  let trace1 = 0;
  let trace2 = 0;
  for (let i = 0; i < n; i++) {
    trace1 += s1.covariance[i * n + i] as number;
    trace2 += s2.covariance[i * n + i] as number;
  }
  const sqrt1 = sqrtPsd(s1.covariance, n);
  const m = matmul(matmul(sqrt1, s2.covariance, n), sqrt1, n);
  const { values } = symmetricEigen(m, n, false);
  let traceSqrt = 0;
  for (const v of values) traceSqrt += Math.sqrt(Math.max(v, 0));
  return Math.max(0, meanTerm + trace1 + trace2 - 2 * traceSqrt);
}

/** Symmetric square root of a symmetric positive semi-definite matrix (negative λ clamped to 0). */
function sqrtPsd(a: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n, true);
  const v = vectors as Float64Array;
  const roots = values.map((x) => Math.sqrt(Math.max(x, 0)));
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += (v[i * n + k] as number) * (roots[k] as number) * (v[j * n + k] as number);
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const aik = a[i * n + k] as number;
      if (aik === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] = (out[i * n + j] as number) + aik * (b[k * n + j] as number);
    }
  }
  return out;
}
