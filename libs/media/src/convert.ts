import { MediaInputError } from './errors.js';
import { channelsOf, checkImage, type ByteImage, type FrameInput, type GrayImage, type ImageInput, type RgbFrameInput, type RgbImage } from './image.js';

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
 *
 * With the default [-1, 1] this is diffusers' image post-processing
 * (`((x / 2 + 0.5).clamp(0, 1) * 255).round()`) computed exactly instead of in float32: on
 * float32 input the two differ by one level only within a few ulps of a .5 boundary (113 of 20
 * million uniform samples), and not at all on fp16 decoder output widened to float32.
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
  if (channelsOf(frame, field) !== 1) throw new MediaInputError(`${field}.channels`, 'must be 1 (absent) for a gray image');
  if (frame.pixels instanceof Uint8Array) return frame as GrayImage;
  return { width: frame.width, height: frame.height, pixels: toUint8(frame.pixels, range, `${field}.pixels`) };
}

/**
 * Colour frame as interleaved 8-bit RGB: bytes pass through untouched, planar `[3, H, W]` floats
 * are quantised with `range` (the same mapping as `toUint8`) and interleaved.
 */
export function toRgbImage(frame: RgbFrameInput, range: ValueRange = MODEL_RANGE, field = 'image'): RgbImage {
  checkImage(frame, field);
  if (channelsOf(frame, field) !== 3) throw new MediaInputError(`${field}.channels`, 'must be 3 for a colour image');
  if (frame.pixels instanceof Uint8Array) return frame as RgbImage;
  const planar = toUint8(frame.pixels, range, `${field}.pixels`);
  const count = frame.width * frame.height;
  const pixels = new Uint8Array(count * 3);
  for (let c = 0; c < 3; c += 1) {
    const plane = planar.subarray(c * count, (c + 1) * count);
    for (let i = 0; i < count; i += 1) pixels[i * 3 + c] = plane[i] as number;
  }
  return { channels: 3, width: frame.width, height: frame.height, pixels };
}

/** Any frame, gray or colour, as display bytes (`toGrayImage` or `toRgbImage` by its channels). */
export function toByteImage(frame: ImageInput, range: ValueRange = MODEL_RANGE, field = 'image'): ByteImage {
  checkImage(frame, field);
  return channelsOf(frame, field) === 3 ? toRgbImage(frame as RgbFrameInput, range, field) : toGrayImage(frame as FrameInput, range, field);
}
