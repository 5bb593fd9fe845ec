import { checkInteger, checkLength, EvalError } from './errors.js';

/** Throws `INVALID_ARGUMENT` unless `dataRange` (max - min of the value range) is positive. */
export function checkDataRange(dataRange: number): void {
  if (!(dataRange > 0) || !Number.isFinite(dataRange)) {
    throw new EvalError('INVALID_ARGUMENT', 'dataRange', `dataRange must be a positive number, got ${String(dataRange)}`);
  }
}

/**
 * Peak signal-to-noise ratio in dB between two equally long arrays: 10·log10(dataRange² / MSE).
 * `dataRange` is the span of the value range (2 for images in [-1, 1]). Identical inputs give
 * +Infinity. Used for fidelity to the sequential output of the same seed.
 */
export function psnr(a: Float32Array, b: Float32Array, dataRange: number): number {
  checkDataRange(dataRange);
  checkLength(b, a.length, 'b', 'same length as a');
  if (a.length === 0) throw new EvalError('INVALID_ARGUMENT', 'a', 'a must not be empty');
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += ((a[i] as number) - (b[i] as number)) ** 2;
  const mse = sum / a.length;
  return mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((dataRange * dataRange) / mse);
}

/**
 * PSNR of each of `count` image pairs (`a` and `b` hold them back to back, equal sizes) — e.g.
 * AsyncDiff outputs vs sequential outputs of the same seeds. Video: pass frames as images.
 */
export function psnrPerImage(a: Float32Array, b: Float32Array, count: number, dataRange: number): Float64Array {
  const size = imageSize(a, b, count);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = psnr(a.subarray(i * size, (i + 1) * size), b.subarray(i * size, (i + 1) * size), dataRange);
  return out;
}

/** Elements per image of two batches of `count` equal-size images; validates the layout. */
export function imageSize(a: Float32Array, b: Float32Array, count: number): number {
  checkInteger(count, 'count', 1);
  checkLength(b, a.length, 'b', 'same length as a');
  if (a.length % count !== 0 || a.length === 0) {
    throw new EvalError('SHAPE_MISMATCH', 'count', `a has ${a.length} elements, not a positive multiple of count ${count}`);
  }
  return a.length / count;
}

/**
 * Mean of per-image metric values. PSNR of identical images is +Infinity and so is any mean that
 * includes one; pass `cap` (e.g. 100 dB) to average min(value, cap) instead.
 */
export function meanOf(values: ArrayLike<number>, cap: number = Number.POSITIVE_INFINITY): number {
  if (values.length === 0) throw new EvalError('INVALID_ARGUMENT', 'values', 'values must not be empty');
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += Math.min(values[i] as number, cap);
  return sum / values.length;
}
