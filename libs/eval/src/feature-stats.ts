import { checkInteger, checkLength, EvalError } from './errors.js';

/**
 * Mean and covariance of a set of feature vectors: what the Fréchet distance needs, so that a
 * reference set's statistics can be computed once and reused (or stored as JSON).
 */
export interface FeatureStats {
  /** Number of vectors the statistics were computed from. */
  readonly count: number;
  /** Vector length. */
  readonly dim: number;
  /** Mean vector (dim). */
  readonly mean: Float64Array;
  /** Unbiased covariance (divisor count-1, as numpy.cov), dim×dim row-major. */
  readonly covariance: Float64Array;
}

/** {@link FeatureStats} as plain JSON (arrays as number[]). */
export interface FeatureStatsJson {
  readonly count: number;
  readonly dim: number;
  readonly mean: number[];
  readonly covariance: number[];
}

/**
 * Statistics of `count` feature vectors of length `dim` stored row-major in `features`
 * (e.g. the classifier's `features` output). Needs count ≥ 2. Accumulates in float64.
 */
export function featureStats(features: Float32Array, count: number, dim: number): FeatureStats {
  checkInteger(count, 'count', 2);
  checkInteger(dim, 'dim', 1);
  checkLength(features, count * dim, 'features', `count × dim = ${count} × ${dim}`);
  const mean = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    const base = r * dim;
    for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) + (features[base + j] as number);
  }
  for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) / count;
  const covariance = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let r = 0; r < count; r++) {
    const base = r * dim;
    for (let j = 0; j < dim; j++) centred[j] = (features[base + j] as number) - (mean[j] as number);
    for (let i = 0; i < dim; i++) {
      const ci = centred[i] as number;
      const row = i * dim;
      for (let j = i; j < dim; j++) covariance[row + j] = (covariance[row + j] as number) + ci * (centred[j] as number);
    }
  }
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = (covariance[i * dim + j] as number) / (count - 1);
      covariance[i * dim + j] = v;
      covariance[j * dim + i] = v;
    }
  }
  return { count, dim, mean, covariance };
}

/** Plain-JSON form of `stats`, for caching reference statistics on disk. */
export function featureStatsToJson(stats: FeatureStats): FeatureStatsJson {
  return { count: stats.count, dim: stats.dim, mean: Array.from(stats.mean), covariance: Array.from(stats.covariance) };
}

/** Validates and revives the output of {@link featureStatsToJson}; errors name the field. */
export function featureStatsFromJson(json: unknown): FeatureStats {
  const j = json as Partial<FeatureStatsJson> | null;
  if (j === null || typeof j !== 'object') throw new EvalError('INVALID_ARGUMENT', 'stats', 'stats must be an object');
  checkInteger(j.count as number, 'stats.count', 2);
  checkInteger(j.dim as number, 'stats.dim', 1);
  const dim = j.dim as number;
  const numbers = (v: unknown, field: string, n: number): Float64Array => {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new EvalError('INVALID_ARGUMENT', field, `${field} must be an array of finite numbers`);
    }
    checkLength(v, n, field, field === 'stats.mean' ? 'dim' : 'dim × dim');
    return Float64Array.from(v as number[]);
  };
  return { count: j.count as number, dim, mean: numbers(j.mean, 'stats.mean', dim), covariance: numbers(j.covariance, 'stats.covariance', dim * dim) };
}
