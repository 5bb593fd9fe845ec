import { EvalError } from './errors.js';

/** Eigen-decomposition of a symmetric matrix: A = V·diag(values)·Vᵀ, eigenvectors in V's columns. */
export interface SymmetricEigen {
  /** Eigenvalues, in no particular order. */
  readonly values: Float64Array;
  /** n×n row-major; column j is the unit eigenvector of values[j]. Absent if not requested. */
  readonly vectors: Float64Array | undefined;
}

const MAX_SWEEPS = 100;

/**
 * Cyclic Jacobi eigen-decomposition of the symmetric n×n row-major matrix `a` (only the upper
 * triangle is read; `a` is not modified). Accurate to a few ulps of the matrix norm; O(n³) per
 * sweep, ~6–10 sweeps — meant for feature covariances (n ≈ 128), not large matrices.
 */
export function symmetricEigen(a: Float64Array, n: number, withVectors: boolean): SymmetricEigen {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = a[i * n + j] as number;
      m[i * n + j] = v;
      m[j * n + i] = v;
    }
  }
  const v = withVectors ? identity(n) : undefined;
  let norm2 = 0;
  for (let k = 0; k < n * n; k++) norm2 += (m[k] as number) ** 2;
  const target = norm2 * 1e-26;
  for (let sweep = 0; ; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += (m[p * n + q] as number) ** 2;
    if (off <= target || off === 0) break;
    if (sweep === MAX_SWEEPS) {
      throw new EvalError('NOT_CONVERGED', 'matrix', `Jacobi eigen-decomposition did not converge in ${MAX_SWEEPS} sweeps`);
    }
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) rotate(m, v, n, p, q);
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = m[i * n + i] as number;
  return { values, vectors: v };
}

/** One Jacobi rotation zeroing m[p][q] (Numerical Recipes' stable formulation). */
function rotate(m: Float64Array, v: Float64Array | undefined, n: number, p: number, q: number): void {
  const apq = m[p * n + q] as number;
  if (apq === 0) return;
  const app = m[p * n + p] as number;
  const aqq = m[q * n + q] as number;
  const theta = (aqq - app) / (2 * apq);
  const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < n; k++) {
    if (k === p || k === q) continue;
    const akp = m[k * n + p] as number;
    const akq = m[k * n + q] as number;
    const np = c * akp - s * akq;
    const nq = s * akp + c * akq;
    m[k * n + p] = np;
    m[p * n + k] = np;
    m[k * n + q] = nq;
    m[q * n + k] = nq;
  }
  m[p * n + p] = app - t * apq;
  m[q * n + q] = aqq + t * apq;
  m[p * n + q] = 0;
  m[q * n + p] = 0;
  if (v !== undefined) {
    for (let k = 0; k < n; k++) {
      const vkp = v[k * n + p] as number;
      const vkq = v[k * n + q] as number;
      v[k * n + p] = c * vkp - s * vkq;
      v[k * n + q] = s * vkp + c * vkq;
    }
  }
}

function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}
