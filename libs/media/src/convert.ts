import { MediaInputError } from './errors.js';
import { checkImage, type FrameInput, type GrayImage } from './image.js';

/** The float interval mapped onto 0…255. */
export interface ValueRange {
  min: number;
  max: number;
}

/** Model space: samplers produce images in [-1, 1]. */
export const MODEL_RANGE: ValueRange = Object.freeze({ min: -1, max: 1 });

/**
 * Quantises model-space floats to bytes: clamp to `range`, map linearly onto 0…255, round half
 * up. The one place this mapping lives, so PNG, GIF, video and metrics agree pixel for pixel.
 * NaN is refused (it means the sampler diverged), naming `field`.
 */
export function toUint8(values: Float32Array, range: ValueRange = MODEL_RANGE, field = 'pixels'): Uint8Array {
  if (!Number.isFinite(range.min) || !Number.isFinite(range.max) || range.max <= range.min) {
    throw new MediaInputError('range', `{min: ${range.min}, max: ${range.max}} must be finite with max > min`);
  }
  const scale = 255 / (range.max - range.min);
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i += 1) {
    const v = values[i] as number;
    if (Number.isNaN(v)) throw new MediaInputError(field, `value ${i} is NaN`);
    const clamped = v < range.min ? range.min : v > range.max ? range.max : v;
    out[i] = Math.floor((clamped - range.min) * scale + 0.5);
  }
  return out;
}

/** Any frame as 8-bit pixels: bytes pass through untouched, floats are quantised with `range`. */
export function toGrayImage(frame: FrameInput, range: ValueRange = MODEL_RANGE, field = 'image'): GrayImage {
  checkImage(frame, field);
  if (frame.pixels instanceof Uint8Array) return frame as GrayImage;
  return { width: frame.width, height: frame.height, pixels: toUint8(frame.pixels, range, `${field}.pixels`) };
}
