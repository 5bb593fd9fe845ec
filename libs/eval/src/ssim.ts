import { checkInteger, checkLength, EvalError } from './errors.js';
import { checkDataRange, imageSize } from './psnr.js';

/** Gaussian window of {@link ssim}. */
export interface SsimWindow {
  /**
   * Side of the square window, odd, at most the image's smaller side.
   * @defaultValue 7 (10×10 = 100 window positions on a 16×16 image)
   */
  size?: number;
  /**
   * Standard deviation of the Gaussian weights, in pixels.
   * @defaultValue 1.5 (Wang et al. 2004)
   */
  sigma?: number;
}

/** Options of {@link ssim}. */
export interface SsimOptions {
  /** Span of the value range (max - min): 2 for images in [-1, 1], 255 for uint8. */
  dataRange: number;
  /** Window shape. @defaultValue `{ size: 7, sigma: 1.5 }` */
  window?: SsimWindow;
}

/** Default window side: the largest odd size that leaves a 10×10 grid of positions on 16×16 images. */
export const DEFAULT_SSIM_WINDOW_SIZE = 7;
/** Default Gaussian σ of the window (Wang et al. 2004). */
export const DEFAULT_SSIM_SIGMA = 1.5;
const K1 = 0.01;
const K2 = 0.03;

/**
 * Structural similarity (Wang et al. 2004) of two single-channel height×width images, row-major:
 * at every window position fully inside the image ("valid", no padding) the Gaussian-weighted
 * (weights sum to 1, no sample-size correction) means μ, variances σ² and covariance σ_ab give
 * ((2μ_aμ_b + C1)(2σ_ab + C2)) / ((μ_a² + μ_b² + C1)(σ_a² + σ_b² + C2)), C1 = (0.01·L)²,
 * C2 = (0.03·L)², L = dataRange; the result is the mean over positions (1 for identical images).
 */
export function ssim(a: Float32Array, b: Float32Array, height: number, width: number, options: SsimOptions): number {
  checkInteger(height, 'height', 1);
  checkInteger(width, 'width', 1);
  checkLength(a, height * width, 'a', `height × width = ${height} × ${width}`);
  checkLength(b, height * width, 'b', `height × width = ${height} × ${width}`);
  const { weights, size } = gaussianWindow(options, height, width);
  return ssimWithWindow(a, b, height, width, options.dataRange, weights, size);
}

/** SSIM of each of `count` image pairs of height×width (video: frames as images). */
export function ssimPerImage(
  a: Float32Array,
  b: Float32Array,
  count: number,
  height: number,
  width: number,
  options: SsimOptions,
): Float64Array {
  checkInteger(height, 'height', 1);
  checkInteger(width, 'width', 1);
  const size = imageSize(a, b, count);
  if (size !== height * width) {
    throw new EvalError('SHAPE_MISMATCH', 'count', `${count} images of ${height}×${width} need ${count * height * width} elements, got ${a.length}`);
  }
  const { weights, size: win } = gaussianWindow(options, height, width);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = ssimWithWindow(a.subarray(i * size, (i + 1) * size), b.subarray(i * size, (i + 1) * size), height, width, options.dataRange, weights, win);
  }
  return out;
}

function gaussianWindow(options: SsimOptions, height: number, width: number): { weights: Float64Array; size: number } {
  checkDataRange(options.dataRange);
  const size = options.window?.size ?? DEFAULT_SSIM_WINDOW_SIZE;
  const sigma = options.window?.sigma ?? DEFAULT_SSIM_SIGMA;
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0 || size > Math.min(height, width)) {
    throw new EvalError('INVALID_ARGUMENT', 'window.size', `window.size must be an odd integer in [1, ${Math.min(height, width)}], got ${String(size)}`);
  }
  if (!(sigma > 0) || !Number.isFinite(sigma)) {
    throw new EvalError('INVALID_ARGUMENT', 'window.sigma', `window.sigma must be a positive number, got ${String(sigma)}`);
  }
  const half = (size - 1) / 2;
  const g = new Float64Array(size);
  let total = 0;
  for (let i = 0; i < size; i++) {
    g[i] = Math.exp(-((i - half) ** 2) / (2 * sigma * sigma));
    total += g[i] as number;
  }
  const weights = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) weights[i * size + j] = ((g[i] as number) * (g[j] as number)) / (total * total);
  return { weights, size };
}

function ssimWithWindow(
  a: Float32Array,
  b: Float32Array,
  height: number,
  width: number,
  dataRange: number,
  w: Float64Array,
  size: number,
): number {
  const c1 = (K1 * dataRange) ** 2;
  const c2 = (K2 * dataRange) ** 2;
  let sum = 0;
  let positions = 0;
  for (let y = 0; y + size <= height; y++) {
    for (let x = 0; x + size <= width; x++) {
      let ma = 0;
      let mb = 0;
      let saa = 0;
      let sbb = 0;
      let sab = 0;
      for (let i = 0; i < size; i++) {
        const row = (y + i) * width + x;
        for (let j = 0; j < size; j++) {
          const wij = w[i * size + j] as number;
          const va = a[row + j] as number;
          const vb = b[row + j] as number;
          ma += wij * va;
          mb += wij * vb;
          saa += wij * va * va;
          sbb += wij * vb * vb;
          sab += wij * va * vb;
        }
      }
      const varA = saa - ma * ma;
      const varB = sbb - mb * mb;
      const cov = sab - ma * mb;
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (varA + varB + c2));
      positions++;
    }
  }
  return sum / positions;
}
